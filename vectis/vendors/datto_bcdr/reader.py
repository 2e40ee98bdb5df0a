"""Datto BCDR read side for sync: appliances (assets), the agents and shares they protect (backup
jobs) and the appliances' alerts, mapped to canonical `Record`s (vectis/sync/records.py).

Every entity is a snapshot: the BCDR API has no changed-since filter. Datto keeps no customer
objects, only the client's name on each appliance (`clientCompanyName`), so every record names
its customer in `link_names["customer"]`. Agents carry no hardware serial number, so a job names
its protected machine by host name in `link_names["asset"]`.

Shapes (contract.json): each asset's `backups[]` is newest first, and each entry nests the run's
result as `backup{status, errorMessage}` beside `localVerification{status, errors}`, with its
`timestamp` as ISO 8601 text; `lastSnapshot` is epoch seconds. An alert is only `{type, threshold,
unit, dateTriggered, dateSent}`: no id, so one is told apart by appliance, type and time.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ...sync.records import Record
from ..base import VendorCall, vendor_time
from ..errors import VendorError
from ..reading import epoch_time, presence, present

PER_PAGE = 100     # Datto's maximum
# `backup.status` of the newest backup -> canonical last_status. Only "success" is published;
# words that mean a run still going are running; any other non-empty status is a failed backup
# (dattoCheck's rule). A success with failed local verification (screenshot, integrity) is a
# warning.
SUCCESS = ("success",)
RUNNING = ("inprogress", "in_progress", "running", "queued", "pending", "started")

HINTS = {
    401: ("Datto refused the REST API key pair: create one in the Datto Partner Portal "
          "(Admin > Integrations > API Keys) and store it with "
          "`{connect} --credentials-stdin` (public_key, secret_key)"),
    403: ("The Datto API key may not read this appliance: check the key's access in the Datto "
          "Partner Portal"),
    404: ("Datto no longer lists that appliance (removed or moved to another partner): "
          "the next sync drops it"),
}


class DattoBcdrRead:
    sync_page_size: int = PER_PAGE

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        readers = {"assets": self._read_appliances, "backup_jobs": self._read_jobs,
                   "alerts": self._read_alerts}
        if entity not in readers:
            raise ValueError(f"Datto BCDR does not sync {entity}")
        async for page in readers[entity]():
            yield page

    def device_filters(self) -> dict[str, str]:
        """`showHiddenDevices` / `showChildResellerDevices` as the source's settings say. Datto's
        default for both is 1 (hidden appliances listed): the sync leaves hidden ones out unless
        the source says otherwise."""
        hidden = self.setting("include_hidden_devices")
        children = self.setting("include_child_reseller_devices")
        return {"showHiddenDevices": "1" if hidden else "0",
                "showChildResellerDevices": "1" if children else "0"}

    async def _devices(self) -> AsyncIterator[list[dict]]:
        async for devices in self._iter_pages("/bcdr/device", self.sync_page_size,
                                              self.device_filters()):
            yield devices

    async def _read_appliances(self) -> AsyncIterator[list[Record]]:
        async for devices in self._devices():
            yield [appliance_record(device) for device in devices]

    async def _read_jobs(self) -> AsyncIterator[list[Record]]:
        async for devices in self._devices():
            for device in devices:
                path = f"/bcdr/device/{_seg(device['serialNumber'])}/asset"
                async for assets in self._iter_pages(path, self.sync_page_size):
                    # Archived agents keep old backups but are no longer protected.
                    yield [job_record(device, asset) for asset in assets
                           if not asset.get("isArchived")]

    async def _read_alerts(self) -> AsyncIterator[list[Record]]:
        async for devices in self._devices():
            for device in devices:
                path = f"/bcdr/device/{_seg(device['serialNumber'])}/alert"
                async for alerts in self._iter_pages(path, self.sync_page_size):
                    yield [alert_record(device, alert) for alert in alerts]

    async def _iter_pages(self, path: str, per_page: int,
                          params: dict | None = None) -> AsyncIterator[list[dict]]:
        """`{pagination:{totalPages}, items}` pages by `_page`/`_perPage`; a bare array (a
        device's asset list) is the whole list."""
        page = 1
        while True:
            query = {**(params or {}), "_page": page, "_perPage": per_page}
            body = (await self._get(path, query)).json()
            if isinstance(body, list):
                yield body
                return
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                # A 200 without the list is no empty snapshot (that would close everything).
                raise VendorError(self.vendor, f"GET {path} answered no `items` list",
                                  status=200, retry_safe=True)
            yield body["items"]
            if page >= int((body.get("pagination") or {}).get("totalPages") or 0):
                return
            page += 1

    async def _get(self, path: str, params: dict | None = None):
        try:
            return await self.send(VendorCall("GET", path, params=params),
                                   idempotent=True)
        except VendorError as exc:
            if exc.status in HINTS:
                exc.hint = HINTS[exc.status]
            raise


def appliance_record(device: dict) -> Record:
    last_seen = vendor_time(device.get("lastSeenDate"))
    fields = present({
        "name": device.get("name"), "kind": "server",
        "status": presence(None, last_seen),
        "hardware": present({"manufacturer": "Datto", "model": device.get("model"),
                             "serial_number": device.get("serialNumber")}),
        "ip_address": device.get("internalIP"),
        "last_seen_at": last_seen})
    return Record(str(device["serialNumber"]), fields,
                  link_names=present({"customer": device.get("clientCompanyName")}))


def backup_status(raw: Any) -> str | None:
    word = str(raw or "").strip().lower()
    if not word:
        return None
    if word in SUCCESS:
        return "success"
    return "running" if word.replace(" ", "") in RUNNING else "failed"


def job_record(device: dict, asset: dict) -> Record:
    backups = asset.get("backups") or []
    latest = backups[0] if backups else {}          # Datto lists them newest first
    run = latest.get("backup") or {}
    status = backup_status(run.get("status"))
    checks = [e.get("errorMessage") or e.get("errorType")
              for e in (latest.get("localVerification") or {}).get("errors") or ()
              if e.get("errorMessage") or e.get("errorType")]
    if status == "success" and checks:
        status = "warning"
    agent = asset.get("type", "agent") == "agent"
    name = asset.get("name")
    fields = present({
        # An agent is protected by image-based snapshots; a share keeps its own name.
        "name": f"{name} - image backup" if agent and name else name,
        "last_status": status, "last_run_at": vendor_time(latest.get("timestamp"))})
    if backups:
        # The error belongs to the newest backup; a clean one clears an earlier error. A failure
        # without a message still says what Datto called it.
        fields["last_error"] = ((run.get("errorMessage") or str(run.get("status")))
                                if status == "failed" else checks[0] if status == "warning" else None)
    # lastSnapshot is the newest good snapshot; None there means none was ever taken.
    fields["last_success_at"] = epoch_time(asset.get("lastSnapshot"))
    host = str(asset["fqdn"]).split(".")[0] if asset.get("fqdn") else name
    link_names = present({"customer": device.get("clientCompanyName"),
                          "asset": host if agent else None})
    return Record(str(asset.get("volume") or name), fields, link_names=link_names)


def alert_id(serial: Any, alert: dict) -> str:
    """Datto alerts have no id: the appliance, the alert type and when it triggered name one."""
    return f"{serial}:{alert.get('type')}:{alert.get('dateTriggered')}"


def alert_record(device: dict, alert: dict) -> Record:
    kind = str(alert.get("type") or "").strip()
    threshold, unit = alert.get("threshold"), alert.get("unit")
    fields = present({
        "title": _title(kind),
        "message": " ".join(str(p) for p in ("threshold", threshold, unit) if p is not None)
        if threshold is not None else None,
        "created_at": vendor_time(alert.get("dateTriggered"))})
    return Record(alert_id(device["serialNumber"], alert), fields,
                  link_names=present({"customer": device.get("clientCompanyName")}))


def _title(kind: str) -> str | None:
    """Datto names its alert types in full ("Device Not Seen Alert"); others get " alert"."""
    if not kind:
        return None
    return kind if kind.lower().endswith("alert") else f"{kind} alert"


def _seg(value: Any) -> str:
    return quote(str(value), safe="")
