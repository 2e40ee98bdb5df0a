"""Datto BCDR read side for sync: appliances (assets), the agents and shares they protect (backup
jobs) and the appliances' alerts, mapped to canonical `Record`s (vectis/sync/records.py).

Every entity is a snapshot: the BCDR API has no changed-since filter. Datto keeps no customer
objects, only the client's name on each appliance (`clientCompanyName`), so every record names
its customer in `link_names["customer"]`. Agents carry no hardware serial number, so a job names
its protected machine by host name in `link_names["asset"]`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ...sync.records import Record
from ..base import VendorCall, vendor_time
from ..devices import epoch_time, presence, present

PER_PAGE = 100     # Datto's maximum
# The newest backup's status -> canonical last_status; a snapshot that succeeded with failed
# local verification (screenshot, integrity) is a warning.
BACKUP_STATUS = {"success": "success", "completed": "success", "failure": "failed",
                 "failed": "failed", "error": "failed", "inprogress": "running",
                 "running": "running", "queued": "running"}


class DattoBcdrRead:
    sync_page_size: int = PER_PAGE

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        readers = {"assets": self._read_appliances, "backup_jobs": self._read_jobs,
                   "alerts": self._read_alerts}
        if entity not in readers:
            raise ValueError(f"Datto BCDR does not sync {entity}")
        async for page in readers[entity]():
            yield page

    async def _read_appliances(self) -> AsyncIterator[list[Record]]:
        async for devices in self._iter_pages("/bcdr/device", self.sync_page_size):
            yield [appliance_record(device) for device in devices]

    async def _read_jobs(self) -> AsyncIterator[list[Record]]:
        async for devices in self._iter_pages("/bcdr/device", self.sync_page_size):
            for device in devices:
                path = f"/bcdr/device/{_seg(device['serialNumber'])}/asset"
                async for assets in self._iter_pages(path, self.sync_page_size):
                    # Archived agents keep old backups but are no longer protected.
                    yield [job_record(device, asset) for asset in assets
                           if not asset.get("isArchived")]

    async def _read_alerts(self) -> AsyncIterator[list[Record]]:
        async for devices in self._iter_pages("/bcdr/device", self.sync_page_size):
            for device in devices:
                path = f"/bcdr/device/{_seg(device['serialNumber'])}/alert"
                async for alerts in self._iter_pages(path, self.sync_page_size):
                    yield [alert_record(device, alert) for alert in alerts]

    async def _iter_pages(self, path: str, per_page: int,
                          params: dict | None = None) -> AsyncIterator[list[dict]]:
        """`{pagination:{totalPages}, items}` pages by `_page`/`_perPage`; a bare array (some
        asset listings) is the whole list."""
        page = 1
        while True:
            query = {**(params or {}), "_page": page, "_perPage": per_page}
            body = (await self._get(path, query)).json()
            if isinstance(body, list):
                yield body
                return
            body = body or {}
            yield body.get("items") or []
            if page >= int((body.get("pagination") or {}).get("totalPages") or 0):
                return
            page += 1

    async def _get(self, path: str, params: dict | None = None):
        return await self.send(VendorCall("GET", path, params=params), idempotent=True)


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


def job_record(device: dict, asset: dict) -> Record:
    backups = asset.get("backups") or []
    latest = backups[0] if backups else {}          # Datto lists them newest first
    status = BACKUP_STATUS.get(str(latest.get("status") or "").lower())
    checks = [e.get("errorMessage") for e in (latest.get("localVerification") or {}).get("errors") or ()
              if e.get("errorMessage")]
    if status == "success" and checks:
        status = "warning"
    agent = asset.get("type", "agent") == "agent"
    name = asset.get("name")
    fields = present({
        # An agent is protected by image-based snapshots; a share keeps its own name.
        "name": f"{name} - image backup" if agent and name else name,
        "last_status": status, "last_run_at": epoch_time(latest.get("timestamp"))})
    if backups:
        # The error belongs to the newest backup; a clean one clears an earlier error.
        fields["last_error"] = (latest.get("errorMessage") if status == "failed"
                                else checks[0] if status == "warning" else None)
    # lastSnapshot is the newest good snapshot; None there means none was ever taken.
    fields["last_success_at"] = epoch_time(asset.get("lastSnapshot"))
    host = str(asset["fqdn"]).split(".")[0] if asset.get("fqdn") else name
    link_names = present({"customer": device.get("clientCompanyName"),
                          "asset": host if agent else None})
    return Record(str(asset.get("volume") or name), fields, link_names=link_names)


def alert_record(device: dict, alert: dict) -> Record:
    triggered = vendor_time(alert.get("dateTriggered"))
    # Alerts without an id of their own are told apart by appliance, type and time.
    external = alert.get("id")
    if external is None:
        external = f"{device['serialNumber']}:{alert.get('type')}:{alert.get('dateTriggered')}"
    fields = present({"title": alert.get("title") or _title(alert.get("type")),
                      "message": alert.get("message"), "created_at": triggered})
    return Record(str(external), fields,
                  link_names=present({"customer": device.get("clientCompanyName")}))


def _title(kind: Any) -> str | None:
    return f"{str(kind).replace('_', ' ').capitalize()} alert" if kind else None


def _seg(value: Any) -> str:
    return quote(str(value), safe="")
