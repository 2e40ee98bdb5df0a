"""Kaseya VSA X read side for sync: organizations, devices (joined with their inventory from
`/assets`) and notifications, mapped to canonical `Record`s (vectis/sync/records.py).

Every entity is a snapshot: no changed-since filter is documented for these lists. A deleted
notification or a removed device is simply absent from the next read.

Only the envelope (`{Data, Meta{TotalCount}}`, `$top`/`$skip`) is publicly evidenced; the item
fields are not (contract.json: unverified), so the mapping is tolerant: the kind comes from the
OS text, `IpAddresses` may hold strings or adapter objects, inventory may come as `System` /
`OperatingSystem` or as `AssetInfo` categories, and the customer by `OrganizationId` or by
`OrganizationName`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from ...sync.records import Record
from ..base import VendorCall, vendor_time
from ..errors import VendorError
from ..reading import presence, present

PAGE_SIZE = 100
KINDS = ("server", "workstation", "laptop", "network", "virtual_machine", "mobile", "printer")
HINTS = {
    401: ("VSA X refused the API token: create one in VSA X (Settings > API Tokens, REST API "
          "read scope) and store its id and secret with `{connect} --credentials-stdin` "
          "(token_id, token_secret); the base URL is https://<instance>.vsax.net/api/v3"),
    403: "The VSA X API token lacks the REST API read scope: grant it in VSA X (Settings > API Tokens)",
}
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
            body = (await self._get(path, {"$top": page_size, "$skip": seen})).json()
            if not isinstance(body, dict) or not isinstance(body.get("Data"), list):
                # A 200 without the list is no empty snapshot (that would close everything).
                raise VendorError(self.vendor, f"GET {path} answered no `Data` list",
                                  status=200, retry_safe=True)
            batch = body["Data"]
            seen += len(batch)
            yield batch
            total = (body.get("Meta") or {}).get("TotalCount")
            # Stop on a short page too, in case an endpoint leaves TotalCount out.
            if not batch or len(batch) < page_size or (total is not None and seen >= total):
                return

    async def _get(self, path: str, params: dict[str, Any] | None = None):
        try:
            return await self.send(VendorCall("GET", path, params=params), idempotent=True)
        except VendorError as exc:
            if exc.status in HINTS:
                exc.hint = HINTS[exc.status]
            raise


# VSA X publishes no device-type field: the kind is read from the OS text (the asset's
# `Description`, which public clients use as the OS description, or its OS inventory).
NETWORK_OS = ("fortios", "unifi", "routeros", "junos", "ios xe", "ios-xe", "pan-os", "sonicos",
              "edgeos", "cisco")
MOBILE_OS = ("ios", "ipados", "android")
LINUX = ("linux", "ubuntu", "debian", "centos", "red hat", "rhel", "rocky", "alma", "suse")


def os_text(device: dict, asset: dict) -> str:
    for item in asset.get("AssetInfo") or ():
        if str(item.get("CategoryName") or "").lower() == "operating system":
            data = item.get("CategoryData") or {}
            if data.get("Name"):
                return str(data["Name"])
    return str((asset.get("OperatingSystem") or {}).get("Name") or asset.get("Description")
               or device.get("Description") or "")


def device_kind(device: dict, asset: dict) -> str | None:
    described = str(device.get("Description") or asset.get("Description") or "").strip().lower()
    if described in KINDS:            # a tenant that files the kind itself there
        return described
    text = os_text(device, asset).strip().lower()
    if not text:
        return None
    if "server" in text or any(word in text for word in LINUX):
        return "server"
    if any(text.startswith(word) or f" {word}" in text for word in NETWORK_OS):
        return "network"
    if "printer" in text:
        return "printer"
    if text.split()[0] in MOBILE_OS:
        return "mobile"
    return "workstation"


def site_name(device: dict) -> str | None:
    """The device's `SiteName`; without one, a group named "<organization> - <site>"."""
    if device.get("SiteName"):
        return str(device["SiteName"])
    group, org = str(device.get("GroupName") or ""), str(device.get("OrganizationName") or "")
    if org and group.startswith(f"{org} - "):
        return group[len(org) + 3:] or None
    return None


def ip_address(asset: dict) -> str | None:
    """`IpAddresses` items are strings, or adapters `{Name, MAC, IPs:[{IP, V6}]}`: the first
    address (IPv4 first) either way."""
    found: list[tuple[bool, str]] = []
    for item in asset.get("IpAddresses") or ():
        if isinstance(item, str) and item:
            found.append((":" in item, item))
        elif isinstance(item, dict):
            found += [(bool(ip.get("V6")), str(ip["IP"])) for ip in item.get("IPs") or ()
                      if isinstance(ip, dict) and ip.get("IP")]
    return min(found, key=lambda pair: pair[0])[1] if found else None


def inventory(asset: dict) -> tuple[dict, dict]:
    """(system, os) inventory: the `System`/`OperatingSystem` objects, else the `AssetInfo`
    categories of the same content."""
    system, os = dict(asset.get("System") or {}), dict(asset.get("OperatingSystem") or {})
    for item in asset.get("AssetInfo") or ():
        name, data = str(item.get("CategoryName") or "").lower(), item.get("CategoryData") or {}
        if name == "operating system":
            os = {**data, **os}
        elif name in ("system", "computer system"):
            system = {**data, **system}
    return system, os


def device_record(device: dict, asset: dict) -> Record:
    system, os = inventory(asset)
    last_seen = vendor_time(asset.get("LastSeenOnline") or device.get("LastSeenOnline"))
    online = device.get("IsOnline")
    fields = present({
        "name": device.get("Name") or asset.get("Name"),
        "kind": device_kind(device, asset),
        "status": presence(None if online is None else bool(online), last_seen),
        "hardware": present({"manufacturer": system.get("Manufacturer"), "model": system.get("Model"),
                             "serial_number": system.get("SerialNumber")}),
        "os": present({"name": os.get("Name") or asset.get("Description"),
                       "version": os.get("Version"), "build": os.get("BuildNumber")}),
        "ip_address": ip_address(asset),
        "site": present({"name": site_name(device)}),
        "last_seen_at": last_seen})
    # The organization by id where the device names one, else by name.
    org_id = _id(device.get("OrganizationId"))
    links = present({"customer": org_id})
    names = {} if org_id else present({"customer": device.get("OrganizationName")})
    return Record(str(device["Identifier"]), fields, links, link_names=names)


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
