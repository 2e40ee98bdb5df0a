"""N-central simulator: the User-API token exchange (`/api/auth/authenticate`, `/api/auth/refresh`
with a text/plain refresh token), then Bearer-access lists of customers, devices and an org
unit's active issues, paged by `pageNumber`/`pageSize` into `{data, pageNumber, pageSize,
totalItems, totalPages}` (../shared/docs/vendors.md §8), and `/api/health`.

Org units form a tree: the service organization (`so_id`, listed by `/api/service-orgs`), its
customers (`parentId`), and any seeded sites (`parentId` = customer). An org unit's active issues
include those of its subtree. `/api/devices/{id}/assets` answers a device's inventory
(`{data:{computersystem:{serialnumber, manufacturer, model, ...}, device:{...}}}`) from what was
seeded as `inventory` (device id -> computersystem fields). Tests change objects vendor-side with
`touch_device`, `remove_device`, `touch_issue`, `acknowledge_issue` and `clear_issue`.

Active issues have the shape of contract.json (npycentral's model, unverified by N-able): top
level `orgUnitId, deviceId, notificationState, serviceId, serviceName, serviceType, taskId,
serviceItemId`, the rest under `_extra`. `page_totals = False` makes the lists answer
`{data, totalItems}` only, as some N-central lists do. Error bodies are undocumented; this one
answers `{status, message}`.
"""
from __future__ import annotations

import math
import secrets
import time

from aiohttp import web

from ..simkit import Simulator


class NCentralSimulator(Simulator):
    vendor = "ncentral"

    def __init__(self, user_api_token: str | None = None, so_id: int = 50,
                 access_ttl: int = 3600, refresh_ttl: int = 90000) -> None:
        self.credentials = {"user_api_token": user_api_token or "eyJ" + secrets.token_urlsafe(40)}
        self.so_id = so_id
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.access_tokens: dict[str, float] = {}    # token -> wall-clock expiry
        self.refresh_tokens: dict[str, float] = {}
        self.customers: dict[int, dict] = {}
        self.sites: dict[int, dict] = {}
        self.devices: list[dict] = []
        self.issues: list[dict] = []
        self.inventory: dict[int, dict] = {}          # deviceId -> computersystem fields
        self.so_name = "Service Organization"
        self.page_totals = True       # False: lists answer {data, totalItems} only
        super().__init__()

    # --- seeding and control ------------------------------------------------------------------
    def seed(self, customers=(), sites=(), devices=(), issues=(), inventory=None) -> None:
        for customer in customers:
            item = {"parentId": self.so_id, **customer}
            self.customers[int(item["customerId"])] = item
        for site in sites:
            self.sites[int(site["siteId"])] = dict(site)
        self.devices.extend(dict(d) for d in devices)
        self.issues.extend(dict(i) for i in issues)
        self.inventory.update({int(k): dict(v) for k, v in (inventory or {}).items()})

    def device(self, device_id: int) -> dict:
        return next(d for d in self.devices if d.get("deviceId") == int(device_id))

    def touch_device(self, device_id: int, **changes) -> dict:
        """Change a device (e.g. `lastApplianceCheckinTime`, `longName`) as its agent would."""
        device = self.device(device_id)
        device.update(changes)
        return device

    def remove_device(self, device_id: int) -> None:
        self.devices.remove(self.device(device_id))
        self.inventory.pop(int(device_id), None)

    def touch_issue(self, task_id: int, **changes) -> dict:
        issue = next(i for i in self.issues if i.get("taskId") == int(task_id))
        issue.update(changes)
        return issue

    def acknowledge_issue(self, task_id: int, by: str = "tech@example.com") -> dict:
        """A technician acknowledged the issue's notification in the N-central UI."""
        issue = next(i for i in self.issues if i.get("taskId") == int(task_id))
        extra = issue.setdefault("_extra", {})
        extra.update(numberOfAcknowledgedNotification=1, acknowledgedBy=by)
        return issue

    def clear_issue(self, task_id: int) -> None:
        """The service returned to normal: N-central no longer lists the issue."""
        self.issues[:] = [i for i in self.issues if i.get("taskId") != int(task_id)]

    def expire_access_tokens(self) -> None:
        """Forget the access tokens only; refresh tokens stay valid."""
        self.access_tokens.clear()

    def invalidate_tokens(self) -> None:
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    def state(self) -> dict:
        return {"customers": list(self.customers.values()), "sites": list(self.sites.values()),
                "devices": self.devices, "issues": self.issues,
                "access_tokens": len(self.access_tokens), "refresh_tokens": len(self.refresh_tokens)}

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"status": status, "message": message}, status=status,
                                 headers=headers)

    # --- auth ---------------------------------------------------------------------------------
    def public_paths(self) -> tuple[str, ...]:
        # The exchange endpoints check their own credentials; health needs none.
        return (r"/api/auth/authenticate", r"/api/auth/refresh", r"/api/health")

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.access_tokens.get(token)
        if expiry is None or expiry <= time.time():
            return self.error_response(401, "Invalid or expired access token")
        return None

    def _issue_tokens(self) -> web.Response:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        self.access_tokens[access] = now + self.access_ttl
        self.refresh_tokens[refresh] = now + self.refresh_ttl
        return web.json_response({
            "tokens": {"access": {"token": access, "type": "Bearer", "expirySeconds": self.access_ttl},
                       "refresh": {"token": refresh, "type": "Body",
                                   "expirySeconds": self.refresh_ttl}},
            "refresh": "/api/auth/refresh", "validate": "/api/auth/validate"})

    # --- routes -------------------------------------------------------------------------------
    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/auth/authenticate", self.auth_authenticate)
        router.add_post("/api/auth/refresh", self.auth_refresh)
        router.add_get("/api/auth/validate", self.auth_validate)
        router.add_get("/api/health", self.health)
        router.add_get("/api/service-orgs", self.list_service_orgs)
        router.add_get("/api/customers", self.list_customers)
        router.add_get("/api/devices", self.list_devices)
        router.add_get("/api/devices/{id}/assets", self.device_assets)
        router.add_get("/api/org-units/{id}/active-issues", self.list_active_issues)

    async def auth_authenticate(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        given = header[7:] if header.startswith("Bearer ") else ""
        if not secrets.compare_digest(given, self.credentials["user_api_token"]):
            return self.error_response(401, "Invalid User-API token")
        return self._issue_tokens()

    async def auth_refresh(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("text/plain"):
            return self.error_response(400, "The refresh token must be sent as text/plain")
        token = (await request.text()).strip()
        expiry = self.refresh_tokens.pop(token, None)   # a refresh token is used once
        if expiry is None or expiry <= time.time():
            return self.error_response(401, "Invalid or expired refresh token")
        return self._issue_tokens()

    async def auth_validate(self, request: web.Request) -> web.Response:
        return web.json_response({"message": "The token is valid."})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "OK"})

    async def list_service_orgs(self, request: web.Request) -> web.Response:
        return self._paged(request, [{"soId": self.so_id, "soName": self.so_name}])

    async def device_assets(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        device = next((d for d in self.devices if str(d.get("deviceId")) == raw), None)
        if device is None:
            return self.error_response(404, f"Device {raw} not found")
        system = self.inventory.get(int(device["deviceId"]), {})
        return web.json_response({"data": {
            "computersystem": {"netbiosname": device.get("longName"), **system},
            "device": {"deviceid": str(device["deviceId"]), "longname": device.get("longName"),
                       "deviceclass": device.get("deviceClass"), "deleted": "false"}}})

    async def list_customers(self, request: web.Request) -> web.Response:
        return self._paged(request, list(self.customers.values()))

    async def list_devices(self, request: web.Request) -> web.Response:
        return self._paged(request, self.devices)

    async def list_active_issues(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        unit = int(raw) if raw.isdigit() else None
        if unit is None or unit not in self._org_units():
            return self.error_response(404, f"Org unit {raw} not found")
        subtree = self._subtree(unit)
        return self._paged(request, [i for i in self.issues if i.get("orgUnitId") in subtree])

    def _paged(self, request: web.Request, items: list[dict]) -> web.Response:
        number_raw = request.query.get("pageNumber", "1")
        size_raw = request.query.get("pageSize", "50")
        if (not number_raw.isdigit() or not size_raw.isdigit() or int(number_raw) < 1
                or not 1 <= int(size_raw) <= 1000):
            return self.error_response(400, "pageNumber must be >= 1 and pageSize between 1 and 1000")
        number, size = int(number_raw), int(size_raw)
        page = items[(number - 1) * size:number * size]
        if not self.page_totals:
            return web.json_response({"data": page, "totalItems": len(items)})
        return web.json_response({"data": page, "pageNumber": number, "pageSize": size,
                                  "totalItems": len(items),
                                  "totalPages": math.ceil(len(items) / size)})

    def _org_units(self) -> dict[int, int | None]:
        """org unit id -> parent id."""
        units: dict[int, int | None] = {self.so_id: None}
        units.update({cid: c.get("parentId") for cid, c in self.customers.items()})
        units.update({sid: s.get("parentId") for sid, s in self.sites.items()})
        return units

    def _subtree(self, root: int) -> set[int]:
        units = self._org_units()
        found = {root}
        changed = True
        while changed:
            grown = {uid for uid, parent in units.items() if parent in found} | found
            changed, found = grown != found, grown
        return found


SIMULATOR = NCentralSimulator
