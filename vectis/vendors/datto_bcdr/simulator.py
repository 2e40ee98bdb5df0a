"""Datto BCDR simulator: Basic-auth GET endpoints for appliances, their assets (agents and shares
with `backups[]` newest first), their alerts, and all agents.

Lists answer `{pagination:{page, perPage, totalPages, count}, items}` paged by `_page`/`_perPage`
(../shared/docs/vendors.md §6); a device's asset list is a bare array. Tests change objects
vendor-side with `record_backup`, `remove_asset`, `touch_device` and `clear_alert`.
"""
from __future__ import annotations

import math
import secrets

from aiohttp import web

from ..simkit import Simulator, basic_credentials


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)


class DattoBcdrSimulator(Simulator):
    vendor = "datto_bcdr"

    def __init__(self, public_key: str = "datto-public", secret_key: str | None = None) -> None:
        self.credentials = {"public_key": public_key,
                            "secret_key": secret_key or secrets.token_hex(16)}
        self.devices: dict[str, dict] = {}        # serialNumber -> appliance
        self.assets: dict[str, list[dict]] = {}   # serialNumber -> agents and shares
        self.alerts: dict[str, list[dict]] = {}   # serialNumber -> alerts
        super().__init__()

    def seed(self, devices=(), assets: dict | None = None, alerts: dict | None = None) -> None:
        for device in devices:
            self.devices[device["serialNumber"]] = dict(device)
        for serial, items in (assets or {}).items():
            self.assets.setdefault(serial, []).extend(dict(a) for a in items)
        for serial, items in (alerts or {}).items():
            self.alerts.setdefault(serial, []).extend(dict(a) for a in items)

    def asset(self, volume: str) -> dict:
        return next(a for items in self.assets.values() for a in items if a.get("volume") == volume)

    def record_backup(self, volume: str, status: str, timestamp: float,
                      error: str | None = None, verification_errors=()) -> dict:
        """A new backup of an agent or share, newest first as Datto lists them; a successful one
        also moves `lastSnapshot`."""
        asset = self.asset(volume)
        backup = {"status": status, "timestamp": timestamp, "errorMessage": error,
                  "localVerification": {"errors": [{"errorType": "verification", "errorMessage": e}
                                                   for e in verification_errors]}}
        asset["backups"] = [backup, *asset.get("backups", [])]
        if status == "success":
            asset["lastSnapshot"] = timestamp
        return asset

    def remove_asset(self, volume: str) -> None:
        """The agent or share is no longer protected by its appliance."""
        for items in self.assets.values():
            items[:] = [a for a in items if a.get("volume") != volume]

    def touch_device(self, serial: str, **changes) -> dict:
        self.devices[serial].update(changes)
        return self.devices[serial]

    def clear_alert(self, serial: str, alert_id) -> None:
        self.alerts[serial] = [a for a in self.alerts.get(serial, []) if a.get("id") != alert_id]

    def state(self) -> dict:
        return {"devices": list(self.devices.values()), "assets": self.assets,
                "alerts": self.alerts}

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        given = basic_credentials(request)
        if given is not None and given[0] == self.credentials["public_key"] \
                and secrets.compare_digest(given[1], self.credentials["secret_key"]):
            return None
        return _error(401, "Unauthorized")

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/bcdr/device", self.list_devices)
        router.add_get("/bcdr/device/{serial}", self.get_device)
        router.add_get("/bcdr/device/{serial}/asset", self.list_assets)
        router.add_get("/bcdr/device/{serial}/alert", self.list_alerts)
        router.add_get("/bcdr/agent", self.list_agents)

    async def list_devices(self, request: web.Request) -> web.Response:
        show_hidden = request.query.get("showHiddenDevices", "0") in ("1", "true")
        items = [d for d in self.devices.values() if show_hidden or not d.get("hidden")]
        return _paged(request, items)

    async def get_device(self, request: web.Request) -> web.Response:
        device = self.devices.get(request.match_info["serial"])
        if device is None:
            return _error(404, "Device not found")
        return web.json_response(device)

    async def list_assets(self, request: web.Request) -> web.Response:
        serial = request.match_info["serial"]
        if serial not in self.devices:
            return _error(404, "Device not found")
        return web.json_response(self.assets.get(serial, []))

    async def list_alerts(self, request: web.Request) -> web.Response:
        serial = request.match_info["serial"]
        if serial not in self.devices:
            return _error(404, "Device not found")
        return _paged(request, self.alerts.get(serial, []))

    async def list_agents(self, request: web.Request) -> web.Response:
        items = [a for serial in self.devices for a in self.assets.get(serial, [])
                 if a.get("type", "agent") == "agent"]
        return _paged(request, items)


def _paged(request: web.Request, items: list[dict]) -> web.Response:
    page_raw = request.query.get("_page", "1")
    per_raw = request.query.get("_perPage", "100")
    if not page_raw.isdigit() or not per_raw.isdigit() or int(page_raw) < 1 or int(per_raw) < 1:
        return _error(400, "_page and _perPage must be positive integers")
    page, per = int(page_raw), min(int(per_raw), 100)
    start = (page - 1) * per
    return web.json_response({
        "pagination": {"page": page, "perPage": per, "totalPages": math.ceil(len(items) / per),
                       "count": len(items)},
        "items": items[start:start + per],
    })


SIMULATOR = DattoBcdrSimulator
