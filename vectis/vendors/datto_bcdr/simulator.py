"""Datto BCDR simulator: the portal API's Basic-auth GET endpoints under `/v1` (as at
`https://api.datto.com/v1`) for appliances, their assets (agents and shares with `backups[]`
newest first) and their alerts, in the shapes of contract.json.

Lists answer `{pagination:{page, perPage, totalPages, count}, items}` paged by `_page`/`_perPage`
(at most 100); a device's asset list is a bare array. Each backup nests its result as
`backup{status, errorMessage}` beside `localVerification{status, errors}` and carries its time as
ISO 8601 text; `lastSnapshot` is whole epoch seconds. Alerts are `{type, threshold, unit,
dateTriggered, dateSent}` with no id. Hidden appliances are listed unless `showHiddenDevices=0`
(Datto's default is 1), child resellers' ones unless `showChildResellerDevices=0`.

Tests change objects vendor-side with `record_backup`, `remove_asset`, `touch_device` and
`clear_alert`.
"""
from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime

from aiohttp import web

from ..simkit import Simulator, basic_credentials

ROOT = "/v1"
MAX_PER_PAGE = 100


class DattoBcdrSimulator(Simulator):
    vendor = "datto_bcdr"
    root = ROOT

    def __init__(self, public_key: str = "datto-public", secret_key: str | None = None) -> None:
        self.credentials = {"public_key": public_key,
                            "secret_key": secret_key or secrets.token_hex(16)}
        self.devices: dict[str, dict] = {}        # serialNumber -> appliance
        self.assets: dict[str, list[dict]] = {}   # serialNumber -> agents and shares
        self.alerts: dict[str, list[dict]] = {}   # serialNumber -> alerts
        self.child_reseller: set[str] = set()     # serials of child resellers' appliances
        super().__init__()

    def seed(self, devices=(), assets: dict | None = None, alerts: dict | None = None,
             child_reseller=()) -> None:
        for device in devices:
            self.devices[device["serialNumber"]] = dict(device)
        for serial, items in (assets or {}).items():
            self.assets.setdefault(serial, []).extend(dict(a) for a in items)
        for serial, items in (alerts or {}).items():
            self.alerts.setdefault(serial, []).extend(dict(a) for a in items)
        self.child_reseller.update(child_reseller)

    def asset(self, volume: str) -> dict:
        return next(a for items in self.assets.values() for a in items if a.get("volume") == volume)

    def record_backup(self, volume: str, status: str, when: datetime | float,
                      error: str | None = None, verification_errors=()) -> dict:
        """A new backup of an agent or share, newest first as Datto lists them; a successful one
        also moves `lastSnapshot`."""
        moment = when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)
        asset = self.asset(volume)
        asset["backups"] = [backup_entry(status, moment, error, verification_errors),
                            *asset.get("backups", [])]
        if status == "success":
            asset["lastSnapshot"] = int(moment.timestamp())
        return asset

    def remove_asset(self, volume: str) -> None:
        """The agent or share is no longer protected by its appliance."""
        for items in self.assets.values():
            items[:] = [a for a in items if a.get("volume") != volume]

    def touch_device(self, serial: str, **changes) -> dict:
        self.devices[serial].update(changes)
        return self.devices[serial]

    def clear_alert(self, serial: str, kind: str, triggered: str) -> None:
        """Datto cleared the alert (its condition ended): it leaves the appliance's list. Alerts
        have no id: the type and trigger time name one."""
        self.alerts[serial] = [a for a in self.alerts.get(serial, [])
                               if (a.get("type"), a.get("dateTriggered")) != (kind, triggered)]

    def state(self) -> dict:
        return {"devices": list(self.devices.values()), "assets": self.assets,
                "alerts": self.alerts}

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        # Undocumented by Datto; clients recognise an error by a top-level `code` (dattoCheck).
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"code": status, "message": message}, status=status,
                                 headers=headers)

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        given = basic_credentials(request)
        if given is not None and given[0] == self.credentials["public_key"] \
                and secrets.compare_digest(given[1], self.credentials["secret_key"]):
            return None
        return self.error_response(401, "Unauthorized")

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get(ROOT + "/bcdr/device", self.list_devices)
        router.add_get(ROOT + "/bcdr/device/{serial}", self.get_device)
        router.add_get(ROOT + "/bcdr/device/{serial}/asset", self.list_assets)
        router.add_get(ROOT + "/bcdr/device/{serial}/alert", self.list_alerts)

    async def list_devices(self, request: web.Request) -> web.Response:
        flags = {}
        for name in ("showHiddenDevices", "showChildResellerDevices"):
            raw = request.query.get(name, "1")            # Datto's default: included
            if raw not in ("0", "1"):
                return self.error_response(400, f"{name} must be 0 or 1")
            flags[name] = raw == "1"
        items = [d for serial, d in self.devices.items()
                 if (flags["showHiddenDevices"] or not d.get("hidden"))
                 and (flags["showChildResellerDevices"] or serial not in self.child_reseller)]
        return self._paged(request, items)

    async def get_device(self, request: web.Request) -> web.Response:
        device = self.devices.get(request.match_info["serial"])
        if device is None:
            return self.error_response(404, "Device not found")
        return web.json_response(device)

    async def list_assets(self, request: web.Request) -> web.Response:
        serial = request.match_info["serial"]
        if serial not in self.devices:
            return self.error_response(404, "Device not found")
        return web.json_response(self.assets.get(serial, []))

    async def list_alerts(self, request: web.Request) -> web.Response:
        serial = request.match_info["serial"]
        if serial not in self.devices:
            return self.error_response(404, "Device not found")
        return self._paged(request, self.alerts.get(serial, []))

    def _paged(self, request: web.Request, items: list[dict]) -> web.Response:
        page_raw = request.query.get("_page", "1")
        per_raw = request.query.get("_perPage", str(MAX_PER_PAGE))
        if not page_raw.isdigit() or not per_raw.isdigit() or int(page_raw) < 1 or int(per_raw) < 1:
            return self.error_response(400, "_page and _perPage must be positive integers")
        page, per = int(page_raw), min(int(per_raw), MAX_PER_PAGE)
        start = (page - 1) * per
        return web.json_response({
            "pagination": {"page": page, "perPage": per, "totalPages": math.ceil(len(items) / per),
                           "count": len(items)},
            "items": items[start:start + per],
        })


def backup_entry(status: str, moment: datetime | None, error: str | None = None,
                 verification_errors=()) -> dict:
    """One `backups[]` entry as Datto lists it."""
    errors = [{"errorType": "verification", "errorMessage": e} for e in verification_errors]
    return {"timestamp": iso(moment),
            "backup": {"status": status, "errorMessage": error},
            "localVerification": {"status": "failure" if errors else "success", "errors": errors}}


def iso(moment: datetime | None) -> str | None:
    """Datto's time text: whole seconds with a `+00:00` offset."""
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=0).isoformat()


SIMULATOR = DattoBcdrSimulator
