"""NinjaOne read side for sync: organizations, devices, the current alert list and backup jobs,
mapped to canonical `Record`s (vectis/sync/records.py).

Every entity is a snapshot: NinjaOne's device filter (`df`) selects by organization, class,
status or creation, never by change time, and organizations, alerts and backup jobs have no
changed-since filter either. A device removed at NinjaOne, or an alert reset there (either alert
verb), is simply absent from the next read, and the snapshot retires or resolves it.

The few helpers the other RMM/backup read mixins share (vendor epochs, a device's presence from
its last contact, dropping absent values) live here too: no module of their own is in scope.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from ...sync.records import Record
from ..base import VendorCall
from ..errors import VendorError
from ..reading import chunks, epoch_time, presence, present

PAGE_SIZE = 1000

# nodeClass -> asset kind. Workstation classes cover desktops and laptops alike (NinjaOne says
# which by `system.chassisType`), server classes cover VM guests (`system.virtualMachine`).
NODE_KIND = {
    "WINDOWS_SERVER": "server", "LINUX_SERVER": "server", "MAC_SERVER": "server",
    "VMWARE_VM_HOST": "server", "HYPERV_VMM_HOST": "server",
    "WINDOWS_WORKSTATION": "workstation", "LINUX_WORKSTATION": "workstation", "MAC": "workstation",
    "VMWARE_VM_GUEST": "virtual_machine", "HYPERV_VMM_GUEST": "virtual_machine",
    "CLOUD_MONITOR_TARGET": "virtual_machine",
    "ANDROID": "mobile", "APPLE_IOS": "mobile", "APPLE_IPADOS": "mobile",
    "NMS_PRINTER": "printer",
}
LAPTOP_CHASSIS = {"LAPTOP", "NOTEBOOK", "PORTABLE", "SUB_NOTEBOOK", "CONVERTIBLE", "DETACHABLE"}
SEVERITY = {"CRITICAL": "critical", "MAJOR": "major", "MODERATE": "moderate", "MINOR": "minor",
            "NONE": "info"}
JOB_STATUS = {"COMPLETED": "success", "SUCCEEDED": "success", "SUCCESS": "success",
              "COMPLETED_WITH_WARNINGS": "warning", "WARNING": "warning",
              "FAILED": "failed", "ERROR": "failed", "CANCELED": "failed", "CANCELLED": "failed",
              "PROCESSING": "running", "RUNNING": "running", "IN_PROGRESS": "running",
              "STARTED": "running", "QUEUED": "running"}


# --- NinjaOne -------------------------------------------------------------------------------------
class NinjaOneRead:
    sync_page_size: int = PAGE_SIZE

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        readers = {"customers": self._read_organizations, "assets": self._read_devices,
                   "alerts": self._read_alerts, "backup_jobs": self._read_backup_jobs}
        if entity not in readers:
            raise ValueError(f"NinjaOne does not sync {entity}")
        async for page in readers[entity]():
            yield page

    async def _read_organizations(self) -> AsyncIterator[list[Record]]:
        async for batch in self._after_iter("/v2/organizations", self.sync_page_size):
            yield [Record(str(org["id"]), present({"name": org.get("name")})) for org in batch]

    async def _read_devices(self) -> AsyncIterator[list[Record]]:
        # The detailed list carries `os`, `system` (serial number) and the IP addresses.
        async for batch in self._after_iter("/v2/devices-detailed", self.sync_page_size):
            yield [device_record(device) for device in batch]

    async def _read_alerts(self) -> AsyncIterator[list[Record]]:
        # One unpaged array, the current conditions only.
        # Anything but a list (a maintenance page answered 200) is an error, never an empty
        # snapshot: that would resolve every open alert.
        alerts = _listed(await self._get("/v2/alerts"), "/v2/alerts")
        owners: dict[int, Any] = {}
        if any(organization_of(a) is None and a.get("deviceId") is not None for a in alerts):
            async for batch in self._after_iter("/v2/devices", self.sync_page_size):
                owners.update({d["id"]: d.get("organizationId") for d in batch})
        records = [alert_record(a, owners) for a in alerts]
        for page in chunks(records, self.sync_page_size) or [[]]:
            yield page

    async def _read_backup_jobs(self) -> AsyncIterator[list[Record]]:
        # NinjaOne lists job runs; a canonical backup job is one plan on one device with its
        # latest run, so every run must be seen before the first record is complete.
        runs = [run async for batch in self._cursor_iter("/v2/backup/jobs", self.sync_page_size,
                                                         "active") for run in batch]
        for page in chunks(backup_job_records(runs), self.sync_page_size) or [[]]:
            yield page

    async def _after_iter(self, path: str, page_size: int) -> AsyncIterator[list[dict]]:
        """Keyset pages: `after` is the last id seen; a short page is the last one."""
        params: dict[str, Any] = {"pageSize": page_size}
        while True:
            batch = _listed(await self._get(path, params), path)
            yield batch
            if len(batch) < page_size:
                return
            params = {"pageSize": page_size, "after": batch[-1]["id"]}

    async def _cursor_iter(self, path: str, page_size: int,
                           include: str) -> AsyncIterator[list[dict]]:
        """Named-cursor pages (`{cursor:{name, ...}, results}`); the cursor pins the result set."""
        params: dict[str, Any] = {"pageSize": page_size, "include": include}
        while True:
            response = await self._get(path, params)
            body = response.json() or {}
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise VendorError("ninjaone", f"unexpected answer to GET {path}",
                                  status=response.status, retry_safe=True)
            yield results
            cursor = (body.get("cursor") or {}).get("name")
            if not cursor or len(results) < page_size:
                return
            params = {"pageSize": page_size, "cursor": cursor}

    async def _get(self, path: str, params: dict | None = None):
        return await self.send(VendorCall("GET", path, params=params), idempotent=True)


def device_kind(device: dict) -> str | None:
    node_class = str(device.get("nodeClass") or "")
    system = device.get("system") or {}
    if system.get("virtualMachine") is True:
        return "virtual_machine"
    kind = NODE_KIND.get(node_class) or ("network" if node_class.startswith("NMS_") else None)
    if kind == "workstation" and str(system.get("chassisType") or "").upper() in LAPTOP_CHASSIS:
        return "laptop"
    return kind


def device_record(device: dict) -> Record:
    system, os = device.get("system") or {}, device.get("os") or {}
    last_seen = epoch_time(device.get("lastContact"))
    memory = system.get("totalPhysicalMemory")
    hardware = present({
        "manufacturer": system.get("manufacturer"), "model": system.get("model"),
        "serial_number": system.get("serialNumber") or system.get("biosSerialNumber"),
        "ram_gb": round(memory / 1024 ** 3) if isinstance(memory, int | float) and memory else None})
    addresses = device.get("ipAddresses") or []
    offline = device.get("offline")
    fields = present({
        "name": device.get("systemName") or device.get("displayName"),
        "kind": device_kind(device),
        "status": presence(None if offline is None else not offline, last_seen),
        "hardware": hardware,
        "os": present({"name": os.get("name"), "version": os.get("releaseId"),
                       "build": os.get("buildNumber")}),
        "ip_address": addresses[0] if addresses else None,
        "last_seen_at": last_seen})
    links = present({"customer": _id(device.get("organizationId"))})
    return Record(str(device["id"]), fields, links)


def organization_of(alert: dict) -> Any:
    return (alert.get("device") or {}).get("organizationId")


def alert_record(alert: dict, owners: dict[int, Any]) -> Record:
    device_id = alert.get("deviceId")
    owner = organization_of(alert)
    if owner is None:
        owner = owners.get(device_id)
    fields = present({
        "severity": SEVERITY.get(str(alert.get("severity") or "").upper()),
        # `GET /v2/alerts` lists triggered conditions only, and an Alert has no status field: a
        # listed alert is open. Either reset (POST .../reset or DELETE) takes it off the list, and
        # the snapshot then resolves it; there is no acknowledged state at NinjaOne.
        "status": "open",
        "title": alert.get("subject") or alert.get("sourceName") or alert.get("conditionName"),
        "message": alert.get("message"),
        "created_at": epoch_time(alert.get("createTime")),
        "updated_at": epoch_time(alert.get("updateTime"))})
    links = present({"asset": _id(device_id), "customer": _id(owner)})
    return Record(str(alert["uid"]), fields, links)


def backup_job_records(runs: list[dict]) -> list[Record]:
    plans: dict[tuple, list[dict]] = {}
    for run in runs:
        plan = run.get("planName") or run.get("planType") or "BACKUP"
        plans.setdefault((run.get("deviceId"), plan), []).append(run)
    records = []
    for (device_id, plan), items in plans.items():
        items.sort(key=lambda r: epoch_time(r.get("jobStartTime")) or datetime.min.replace(tzinfo=UTC),
                   reverse=True)
        latest = items[0]
        success = next((r for r in items
                        if JOB_STATUS.get(str(r.get("jobStatus")).upper()) == "success"), None)
        stored = latest.get("totalActualStorageBytes")
        fields = present({
            "name": latest.get("planName") or f"{str(plan).replace('_', ' ').title()} backup",
            "last_status": JOB_STATUS.get(str(latest.get("jobStatus")).upper()),
            "last_run_at": epoch_time(latest.get("jobStartTime")),
            # Only the runs NinjaOne still lists are seen: no success among them is not "never".
            "last_success_at": epoch_time(success.get("jobEndTime") or success.get("jobStartTime"))
            if success else None,
            "size_gb": round(stored / 1e9, 1) if isinstance(stored, int | float) else None})
        links = present({"asset": _id(device_id), "customer": _id(latest.get("organizationId"))})
        records.append(Record(f"{device_id}:{plan}", fields, links))
    return records


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _listed(response, path: str) -> list:
    body = response.json()
    if body is None:
        return []
    if not isinstance(body, list):
        raise VendorError("ninjaone", f"unexpected answer to GET {path}", status=response.status,
                          retry_safe=True)
    return body
