"""Kaseya VSA X simulator: under `/api/v3` (as at `https://{instance}.vsax.net/api/v3`),
Basic-auth (token id : secret) lists of organizations, devices, assets and notifications paged by
OData `$top`/`$skip` into `{Data, Meta{TotalCount}}`, plus GET and DELETE of one notification.
Tests change objects vendor-side with `touch_device` (device and inventory fields alike) and
`remove_device`.

Only the paths, auth, paging and envelope are publicly evidenced (contract.json); the item
fields, the error body and the `$top` cap (100 here, as believed for the Pulseway-family v3 API)
are unverified.
"""
from __future__ import annotations

import secrets

from aiohttp import web

from ..simkit import Simulator, basic_credentials

ROOT = "/api/v3"
MAX_TOP = 100


class KaseyaVsaxSimulator(Simulator):
    vendor = "kaseya_vsax"
    root = ROOT

    def __init__(self, token_id: str = "vsax-token", token_secret: str | None = None) -> None:
        self.credentials = {"token_id": token_id,
                            "token_secret": token_secret or secrets.token_hex(16)}
        self.organizations: list[dict] = []
        self.devices: list[dict] = []
        self.assets: list[dict] = []
        self.notifications: dict[str, dict] = {}   # str(Id) -> notification
        super().__init__()

    def seed(self, organizations=(), devices=(), assets=(), notifications=()) -> None:
        self.organizations.extend(dict(o) for o in organizations)
        self.devices.extend(dict(d) for d in devices)
        self.assets.extend(dict(a) for a in assets)
        for item in notifications:
            self.notifications[str(item["Id"])] = dict(item)

    def touch_device(self, identifier: str, **changes) -> None:
        """Change a device: keys the /devices object has go there, the rest to its inventory."""
        device = next(d for d in self.devices if d.get("Identifier") == identifier)
        asset = next((a for a in self.assets if a.get("Identifier") == identifier), None)
        for key, value in changes.items():
            target = device if key in device or asset is None else asset
            target[key] = value
            if key in ("Name", "GroupName", "SiteName", "Description") and asset is not None:
                asset[key] = value

    def remove_device(self, identifier: str) -> None:
        self.devices[:] = [d for d in self.devices if d.get("Identifier") != identifier]
        self.assets[:] = [a for a in self.assets if a.get("Identifier") != identifier]

    def state(self) -> dict:
        return {"organizations": self.organizations, "devices": self.devices,
                "assets": self.assets, "notifications": list(self.notifications.values())}

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        # Unverified: the Pulseway-family v3 error envelope.
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"Meta": {"ResponseCode": status, "ErrorMessage": message}},
                                 status=status, headers=headers)

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        given = basic_credentials(request)
        if given is not None and given[0] == self.credentials["token_id"] \
                and secrets.compare_digest(given[1], self.credentials["token_secret"]):
            return None
        return self.error_response(401, "Authorization has been denied for this request.")

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(ROOT + "/organizations", self._lister(lambda: self.organizations))
        router.add_get(ROOT + "/devices", self._lister(lambda: self.devices))
        router.add_get(ROOT + "/assets", self._lister(lambda: self.assets))
        router.add_get(ROOT + "/notifications", self._lister(lambda: list(self.notifications.values())))
        router.add_get(ROOT + "/notifications/{id}", self.get_notification)
        router.add_delete(ROOT + "/notifications/{id}", self.delete_notification)

    def _lister(self, source):
        async def handler(request: web.Request) -> web.Response:
            top_raw = request.query.get("$top", "50")
            skip_raw = request.query.get("$skip", "0")
            if not top_raw.isdigit() or not skip_raw.isdigit() or not 1 <= int(top_raw) <= MAX_TOP:
                return self.error_response(400, f"$top must be 1-{MAX_TOP} and $skip a non-negative integer")
            items = source()
            skip, top = int(skip_raw), int(top_raw)
            return web.json_response({"Data": items[skip:skip + top],
                                      "Meta": {"TotalCount": len(items), "ResponseCode": 200}})
        return handler

    async def get_notification(self, request: web.Request) -> web.Response:
        item = self.notifications.get(request.match_info["id"])
        if item is None:
            return self.error_response(404, "Notification not found")
        return web.json_response({"Data": item, "Meta": {"ResponseCode": 200}})

    async def delete_notification(self, request: web.Request) -> web.Response:
        if self.notifications.pop(request.match_info["id"], None) is None:
            return self.error_response(404, "Notification not found")
        return web.json_response({"Meta": {"ResponseCode": 200}})


SIMULATOR = KaseyaVsaxSimulator
