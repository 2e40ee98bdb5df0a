"""Kaseya VSA X read side for sync: organizations, devices (joined with their inventory from
`/assets`) and notifications, mapped to canonical `Record`s (vectis/sync/records.py).

Every entity is a snapshot: no changed-since filter is documented for these lists. A deleted
notification or a removed device is simply absent from the next read.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from ...sync.records import Record
from ..base import VendorCall, vendor_time
from ..devices import presence, present

PAGE_SIZE = 100
KINDS = ("server", "workstation", "laptop", "network", "virtual_machine", "mobile", "printer")
PRIORITY_SEVERITY = {"critical": "critical", "elevated": "major", "high": "major",
                     "normal": "moderate", "medium": "moderate", "low": "minor"}


class KaseyaVsaxRead:
    sync_page_size: int = PAGE_SIZE

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        readers = {"customers": self._read_organizations, "assets": self._read_devices,
                   "alerts": self._read_notifications}
        if entity not in readers:
            raise ValueError(f"Kaseya VSA X does not sync {entity}")
        async for page in readers[entity]():
            yield page

    async def _read_organizations(self) -> AsyncIterator[list[Record]]:
        async for batch in self._iter_pages("/organizations", self.sync_page_size):
            yield [Record(str(o["Id"]), present({"name": o.get("Name")})) for o in batch]

    async def _read_devices(self) -> AsyncIterator[list[Record]]:
        # A device's organization and online flag are on /devices, its inventory (serial number,
        # OS, addresses, last seen) on /assets: the inventory is read first, then joined per page.
        inventory = {a.get("Identifier"): a async for batch
                     in self._iter_pages("/assets", self.sync_page_size) for a in batch}
        async for batch in self._iter_pages("/devices", self.sync_page_size):
            yield [device_record(d, inventory.get(d.get("Identifier")) or {}) for d in batch]

    async def _read_notifications(self) -> AsyncIterator[list[Record]]:
        async for batch in self._iter_pages("/notifications", self.sync_page_size):
            yield [notification_record(n) for n in batch]

    async def _iter_pages(self, path: str, page_size: int) -> AsyncIterator[list[dict]]:
        """OData `$top`/`$skip` pages of `{Data, Meta{TotalCount}}`."""
        seen = 0
        while True:
            body = (await self._get(path, {"$top": page_size, "$skip": seen})).json() or {}
            batch = body.get("Data") or []
            seen += len(batch)
            yield batch
            total = (body.get("Meta") or {}).get("TotalCount")
            # Stop on a short page too, in case an endpoint leaves TotalCount out.
            if not batch or len(batch) < page_size or (total is not None and seen >= total):
                return

    async def _get(self, path: str, params: dict[str, Any] | None = None):
        return await self.send(VendorCall("GET", path, params=params), idempotent=True)


def device_kind(device: dict, asset: dict) -> str | None:
    described = str(device.get("Description") or asset.get("Description") or "").strip().lower()
    if described in KINDS:
        return described
    os_name = str((asset.get("OperatingSystem") or {}).get("Name") or "").lower()
    if not os_name:
        return None
    return "server" if "server" in os_name else "workstation"


def site_name(device: dict) -> str | None:
    """VSA X files a device in a group named "<organization> - <site>"."""
    group, org = str(device.get("GroupName") or ""), str(device.get("OrganizationName") or "")
    if org and group.startswith(f"{org} - "):
        return group[len(org) + 3:] or None
    return group or None


def device_record(device: dict, asset: dict) -> Record:
    system, os = asset.get("System") or {}, asset.get("OperatingSystem") or {}
    last_seen = vendor_time(asset.get("LastSeenOnline"))
    addresses = asset.get("IpAddresses") or []
    online = device.get("IsOnline")
    fields = present({
        "name": device.get("Name") or asset.get("Name"),
        "kind": device_kind(device, asset),
        "status": presence(None if online is None else bool(online), last_seen),
        "hardware": present({"manufacturer": system.get("Manufacturer"), "model": system.get("Model"),
                             "serial_number": system.get("SerialNumber")}),
        "os": present({"name": os.get("Name"), "version": os.get("Version"),
                       "build": os.get("BuildNumber")}),
        "ip_address": addresses[0] if addresses else None,
        "site": present({"name": site_name(device)}),
        "last_seen_at": last_seen})
    links = present({"customer": _id(device.get("OrganizationId"))})
    return Record(str(device["Identifier"]), fields, links)


def notification_record(item: dict) -> Record:
    # Notifications have no acknowledged state: the status is left to Vectis.
    fields = present({
        "severity": PRIORITY_SEVERITY.get(str(item.get("Priority") or "").lower()),
        "title": item.get("Title"), "message": item.get("Message"),
        "created_at": vendor_time(item.get("CreatedAt"))})
    links = present({"asset": _id(item.get("DeviceIdentifier")),
                     "customer": _id(item.get("OrganizationId"))})
    return Record(str(item["Id"]), fields, links)


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
