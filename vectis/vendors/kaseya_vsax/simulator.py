"""Kaseya VSA X simulator: Basic-auth (token id : secret) lists of organizations, devices, assets
and notifications paged by OData `$top`/`$skip` into `{Data, Meta{TotalCount}}`
(../shared/docs/vendors.md §7), plus GET and DELETE of one notification. Tests change objects
vendor-side with `touch_device` (device and inventory fields alike) and `remove_device`.
"""
from __future__ import annotations

import secrets

from aiohttp import web

from ..simkit import Simulator, basic_credentials

MAX_TOP = 500


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"Meta": {"ResponseCode": status, "ErrorMessage": message}},
                             status=status)


class KaseyaVsaxSimulator(Simulator):
    vendor = "kaseya_vsax"

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
            if key in ("Name", "GroupName", "Description") and asset is not None:
                asset[key] = value

    def remove_device(self, identifier: str) -> None:
        self.devices[:] = [d for d in self.devices if d.get("Identifier") != identifier]
        self.assets[:] = [a for a in self.assets if a.get("Identifier") != identifier]

    def state(self) -> dict:
        return {"organizations": self.organizations, "devices": self.devices,
                "assets": self.assets, "notifications": list(self.notifications.values())}

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        given = basic_credentials(request)
        if given is not None and given[0] == self.credentials["token_id"] \
                and secrets.compare_digest(given[1], self.credentials["token_secret"]):
            return None
        return _error(401, "Authorization has been denied for this request.")

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/organizations", self._lister(lambda: self.organizations))
        router.add_get("/devices", self._lister(lambda: self.devices))
        router.add_get("/assets", self._lister(lambda: self.assets))
        router.add_get("/notifications", self._lister(lambda: list(self.notifications.values())))
        router.add_get("/notifications/{id}", self.get_notification)
        router.add_delete("/notifications/{id}", self.delete_notification)

    def _lister(self, source):
        async def handler(request: web.Request) -> web.Response:
            top_raw = request.query.get("$top", "50")
            skip_raw = request.query.get("$skip", "0")
            if not top_raw.isdigit() or not skip_raw.isdigit() or not 1 <= int(top_raw) <= MAX_TOP:
                return _error(400, f"$top must be 1-{MAX_TOP} and $skip a non-negative integer")
            items = source()
            skip, top = int(skip_raw), int(top_raw)
            return web.json_response({"Data": items[skip:skip + top],
                                      "Meta": {"TotalCount": len(items), "ResponseCode": 200}})
        return handler

    async def get_notification(self, request: web.Request) -> web.Response:
        item = self.notifications.get(request.match_info["id"])
        if item is None:
            return _error(404, "Notification not found")
        return web.json_response({"Data": item, "Meta": {"ResponseCode": 200}})

    async def delete_notification(self, request: web.Request) -> web.Response:
        if self.notifications.pop(request.match_info["id"], None) is None:
            return _error(404, "Notification not found")
        return web.json_response({"Meta": {"ResponseCode": 200}})


SIMULATOR = KaseyaVsaxSimulator
