"""N-central read side for sync: customers, devices (with the serial number from each device's
asset inventory) and the active issues of every service organization, mapped to canonical
`Record`s (vectis/sync/records.py).

Every entity is a snapshot: the REST lists filter by page and sort order only, never by change
time. A cleared issue or a removed device is simply absent from the next read.

Active issues (contract.json, unverified by the vendor: npycentral's model) carry `orgUnitId`,
`deviceId`, `notificationState`, `serviceName`, `taskId` and an `_extra` object with
`transitionTime`, `deviceName` and the acknowledgement counts; no customer id, so an issue's
customer is its device's.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ...sync.records import Record
from ..base import VendorCall, vendor_time
from ..errors import VendorError
from ..reading import presence, present

PAGE_SIZE = 1000
# The device inventory is one call per device; N-central allows as few as 3 concurrent calls on
# some endpoints before it answers 429.
INVENTORY_CONCURRENCY = 3

# deviceClass starts with -> asset kind ("Servers - Windows", "Laptop - Windows", ...). VM
# guests are filed under Servers, so they read back as servers.
DEVICE_CLASS = (("server", "server"), ("workstation", "workstation"), ("laptop", "laptop"),
                ("switch", "network"), ("router", "network"), ("firewall", "network"),
                ("network", "network"), ("printer", "printer"), ("mobile", "mobile"))
# notificationState (1 No Data, 2 Stale, 3 Normal, 4 Warning, 5 Failed, 6 Misconfigured,
# 7 Disconnected, 8 Disabled) -> severity. No vendor table is published (npycentral reads 5 as
# Critical and 6 as Failed): a source overrides entries with its `state_severity` setting.
STATE_SEVERITY = {1: "info", 2: "minor", 3: "info", 4: "moderate", 5: "critical", 6: "minor",
                  7: "major", 8: "info"}
STATE_NAMES = {"no data": 1, "stale": 2, "normal": 3, "warning": 4, "failed": 5,
               "misconfigured": 6, "disconnected": 7, "disabled": 8}
SEVERITIES = ("critical", "major", "moderate", "minor", "info")
HINTS = {
    401: ("N-central refused the User-API token (expired, revoked, or its user has MFA on): "
          "generate a new one for an API-only user (Administration > User Management > "
          "API Access) and store it with `{connect} --credentials-stdin` (user_api_token)"),
    403: ("The N-central API user's role or access groups do not cover this: grant them in "
          "N-central, or name the org units it may read with "
          "`{connect} --setting org_unit_ids=<id>,<id>`"),
}


def parse_state_severity(text: str | None) -> dict[int, str]:
    """`"5=critical,6=critical"` -> {5: "critical", 6: "critical"} over the defaults."""
    table = dict(STATE_SEVERITY)
    for part in str(text or "").split(","):
        if not part.strip():
            continue
        state, _, severity = part.partition("=")
        if not state.strip().isdigit() or severity.strip() not in SEVERITIES:
            raise ValueError(f"state_severity: {part.strip()!r} is not <state>=<{'|'.join(SEVERITIES)}>")
        table[int(state)] = severity.strip()
    return table


class NCentralRead:
    sync_page_size: int = PAGE_SIZE

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        readers = {"customers": self._read_customers, "assets": self._read_devices,
                   "alerts": self._read_issues}
        if entity not in readers:
            raise ValueError(f"N-central does not sync {entity}")
        async for page in readers[entity]():
            yield page

    async def _read_customers(self) -> AsyncIterator[list[Record]]:
        async for batch in self._iter_pages("/api/customers", self.sync_page_size):
            yield [customer_record(c) for c in batch]

    async def _read_devices(self) -> AsyncIterator[list[Record]]:
        gate = asyncio.Semaphore(INVENTORY_CONCURRENCY)

        async def inventory(device: dict) -> dict:
            async with gate:
                return await self._device_inventory(device["deviceId"])

        async for batch in self._iter_pages("/api/devices", self.sync_page_size):
            inventories = await asyncio.gather(*(inventory(d) for d in batch))
            yield [device_record(d, inv) for d, inv in zip(batch, inventories, strict=True)]

    async def _read_issues(self) -> AsyncIterator[list[Record]]:
        # Active issues are listed per org unit with its subtree: each service organization's
        # list covers all its customers and sites (or the org units the source names). An issue
        # names no customer: its device's is taken from the device list.
        severity = parse_state_severity(self.setting("state_severity"))
        owners = {str(d.get("deviceId")): d.get("customerId")
                  async for batch in self._iter_pages("/api/devices", self.sync_page_size)
                  for d in batch}
        seen: set[str] = set()
        async for units in self._org_units():
            for unit in units:
                path = f"/api/org-units/{_seg(unit)}/active-issues"
                async for batch in self._iter_pages(path, self.sync_page_size):
                    records = [issue_record(i, owners, severity) for i in batch]
                    fresh = [r for r in records if r.external_id not in seen]
                    seen.update(r.external_id for r in fresh)
                    yield fresh

    async def _org_units(self) -> AsyncIterator[list[Any]]:
        chosen = self.setting("org_unit_ids")
        if chosen:
            yield [u.strip() for u in str(chosen).split(",") if u.strip()]
            return
        async for service_orgs in self._iter_pages("/api/service-orgs", self.sync_page_size):
            yield [org["soId"] for org in service_orgs]

    async def _device_inventory(self, device_id: Any) -> dict:
        call = VendorCall("GET", f"/api/devices/{_seg(device_id)}/assets")
        # Gone since the device list was read: the next snapshot drops it anyway.
        response = await self._send_read(call, accept=(404,))
        body = response.json() if response.status == 200 else None
        return (body.get("data") or {}) if isinstance(body, dict) else {}

    async def _iter_pages(self, path: str, page_size: int) -> AsyncIterator[list[dict]]:
        """`pageNumber` (from 1) / `pageSize` pages of `{data, totalPages, ...}`. Some lists
        answer only `{data, totalItems}`: then a full page means there may be more."""
        page, seen = 1, 0
        while True:
            call = VendorCall("GET", path, params={"pageNumber": page, "pageSize": page_size})
            body = (await self._send_read(call)).json()
            if not isinstance(body, dict) or not isinstance(body.get("data"), list):
                # N-central reports some failures as a 200 with a message: never an empty page.
                detail = body.get("message") if isinstance(body, dict) else None
                raise VendorError(self.vendor, f"GET {path} answered no `data` list"
                                  + (f": {detail}" if detail else ""), status=200, retry_safe=True)
            data = body["data"]
            seen += len(data)
            yield data
            total_pages, total_items = body.get("totalPages"), body.get("totalItems")
            if total_pages is not None:
                more = page < int(total_pages)
            elif total_items is not None:
                more = seen < int(total_items) and bool(data)
            else:
                more = len(data) >= page_size
            if not more:
                return
            page += 1

    async def _send_read(self, call: VendorCall, accept: tuple[int, ...] = ()):
        try:
            return await self.send(call, idempotent=True, accept=accept)
        except VendorError as exc:
            if exc.status in HINTS:
                exc.hint = HINTS[exc.status]
            raise


def customer_record(customer: dict) -> Record:
    address = present({"street": customer.get("street1"), "city": customer.get("city"),
                       "state": customer.get("stateProv"), "postal_code": customer.get("postalCode"),
                       "country": customer.get("country")})
    return Record(str(customer["customerId"]),
                  present({"name": customer.get("customerName"), "address": address}))


def device_kind(device_class: Any) -> str | None:
    label = str(device_class or "").lower()
    return next((kind for prefix, kind in DEVICE_CLASS if label.startswith(prefix)), None)


def device_record(device: dict, inventory: dict) -> Record:
    system = inventory.get("computersystem") or {}
    memory = system.get("totalphysicalmemory")
    try:
        ram_gb = round(int(memory) / 1024 ** 3) if memory else None
    except (TypeError, ValueError):
        ram_gb = None
    last_seen = vendor_time(device.get("lastApplianceCheckinTime"))
    fields = present({
        "name": device.get("longName") or device.get("discoveredName"),
        "kind": device_kind(device.get("deviceClass")),
        "status": presence(None, last_seen),
        "hardware": present({"manufacturer": system.get("manufacturer"),
                             "model": system.get("model"),
                             "serial_number": system.get("serialnumber"), "ram_gb": ram_gb}),
        "os": present({"name": device.get("supportedOs")}),
        "site": present({"name": device.get("siteName")}),
        "last_seen_at": last_seen})
    links = present({"customer": _id(device.get("customerId"))})
    return Record(str(device["deviceId"]), fields, links)


def issue_record(issue: dict, owners: dict[str, Any] | None = None,
                 severity: dict[int, str] | None = None) -> Record:
    extra = issue.get("_extra") or {}
    state = issue.get("notificationState")
    if isinstance(state, str):
        state = int(state) if state.isdigit() else STATE_NAMES.get(state.lower())
    acknowledged = bool(extra.get("numberOfAcknowledgedNotification") or extra.get("acknowledgedBy"))
    fields = present({
        "severity": (severity or STATE_SEVERITY).get(state),
        "status": "acknowledged" if acknowledged else "open",
        "title": issue.get("serviceName"),
        "created_at": vendor_time(extra.get("transitionTime"))})
    device = _id(issue.get("deviceId"))
    # The device's customer; without a known device, the org unit (a customer or a site).
    customer = _id((owners or {}).get(device or "")) or _id(issue.get("orgUnitId"))
    links = present({"asset": device, "customer": customer})
    # taskId names the failing service on its device; without one, the pair does.
    external = issue.get("taskId")
    if external is None:
        external = f"{issue.get('deviceId')}:{issue.get('serviceName')}"
    return Record(str(external), fields, links)


def _id(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _seg(value: Any) -> str:
    return quote(str(value), safe="")
