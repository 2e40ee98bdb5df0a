"""NinjaOne simulator: client-credentials token endpoint, `/v2` lists (organizations, devices,
alerts, backup jobs) and the two alert resets (with activity data, DELETE), as the public API
(contract.json) has them.

Organizations and devices are bare arrays paged by `pageSize` + `after` (last id seen):
`/v2/devices-detailed` serves the whole Device, `/v2/devices` only its node fields (no `os`,
`system`, `ipAddresses`). `GET /v2/alerts` lists triggered conditions, and an Alert has no status:
both resets take the alert off the list (kept in `cleared`, with the activity data in `resets`);
`raise_again(uid)` is the condition still holding, a new alert with a new uid. Resetting an alert
that is not listed answers 404 `{resultCode, errorMessage}` (NinjaOne documents no answer for it:
unverified). Backup jobs use a named cursor and answer `{cursor:{name, offset, count, expires},
results}`; `include` selects jobs by their device (active, deleted = no longer in `devices`, all).
The token endpoint grants only `granted_scopes` and refuses more with 400 invalid_scope. Tests
change objects vendor-side with `touch_device`, `remove_device`, `touch_alert`, `clear_alert`,
`raise_again` and `add_backup_job`.
"""
from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from aiohttp import web

from ..simkit import Simulator

SCOPES = {"monitoring", "management", "control", "offline_access"}
# The fields of NodeWithDetailedReferences, all `/v2/devices` serves of a device.
NODE_FIELDS = ("id", "uid", "assignedOwnerUid", "parentDeviceId", "organizationId", "locationId",
               "nodeClass", "nodeRoleId", "rolePolicyId", "policyId", "approvalStatus", "offline",
               "displayName", "systemName", "dnsName", "netbiosName", "created", "lastContact",
               "lastUpdate", "userData", "tags", "maintenance", "references")


def _failure(status: int, message: str, code: str = "FAILURE") -> web.Response:
    """NinjaOne's API error body: `{resultCode, errorMessage}` (module New-NinjaOneError)."""
    return web.json_response({"resultCode": code, "errorMessage": message}, status=status)


class NinjaOneSimulator(Simulator):
    vendor = "ninjaone"

    def __init__(self, client_id: str = "ninja-client", client_secret: str | None = None,
                 token_ttl: int = 3600,
                 granted_scopes: frozenset[str] = frozenset({"monitoring", "management"})) -> None:
        self.granted_scopes = set(granted_scopes)   # what the API app was granted at NinjaOne
        self.credentials = {"client_id": client_id,
                            "client_secret": client_secret or secrets.token_urlsafe(24)}
        self.token_ttl = token_ttl              # expires_in of the tokens handed out
        # How long a token really works, when NinjaOne drops it before its expires_in (None: it
        # works for expires_in seconds).
        self.token_valid_for: float | None = None
        self.tokens: dict[str, float] = {}      # access token -> wall-clock expiry
        self.organizations: dict[int, dict] = {}
        self.devices: dict[int, dict] = {}
        self.alerts: dict[str, dict] = {}       # uid -> alert, in creation order
        self.backup_jobs: list[dict] = []
        self.resets: dict[str, list[dict]] = {}  # uid -> activity data bodies received
        self.cleared: dict[str, dict] = {}      # uid -> alert reset (no longer listed)
        self.requests: list[dict] = []          # writes received: {method, path, body}
        self.token_requests: list[dict] = []    # {grant_type, client_id, scope}, never secrets
        self._cursors: dict[str, dict] = {}
        super().__init__()

    # --- seeding and control ------------------------------------------------------------------
    def seed(self, organizations=(), devices=(), alerts=(), backup_jobs=()) -> None:
        for org in organizations:
            self.organizations[int(org["id"])] = dict(org)
        for device in devices:
            self.devices[int(device["id"])] = dict(device)
        now = time.time()
        for alert in alerts:
            item = {"createTime": now, "updateTime": now, **alert}
            item.setdefault("uid", str(uuid.uuid4()))
            self.alerts[item["uid"]] = item
        self.backup_jobs.extend(dict(job) for job in backup_jobs)

    def touch_device(self, device_id: int, **changes) -> dict:
        """Change a device as its agent or a technician would (e.g. `offline=True`)."""
        device = self.devices[int(device_id)]
        device.update(changes)
        return device

    def remove_device(self, device_id: int) -> None:
        self.devices.pop(int(device_id))

    def touch_alert(self, uid: str, **changes) -> dict:
        alert = self.alerts[uid]
        alert.update(changes)
        alert["updateTime"] = time.time()
        return alert

    def clear_alert(self, uid: str) -> None:
        """The condition cleared (or was reset in the console): NinjaOne stops listing it."""
        self.cleared[uid] = self.alerts.pop(uid)

    def raise_again(self, uid: str) -> dict:
        """A reset condition that still holds: NinjaOne triggers it again as a new alert (a new
        uid is our assumption; the API does not say)."""
        old = self.cleared.get(uid) or self.alerts[uid]
        now = time.time()
        alert = {**old, "uid": str(uuid.uuid4()), "createTime": now, "updateTime": now}
        self.alerts[alert["uid"]] = alert
        return alert

    def add_backup_job(self, **job) -> dict:
        item = {"jobId": str(uuid.uuid4()), **job}
        self.backup_jobs.append(item)
        return item

    def invalidate_tokens(self) -> None:
        """Revoke every issued token (as a credential rotation or server restart would)."""
        self.tokens.clear()

    def state(self) -> dict:
        return {"organizations": list(self.organizations.values()),
                "devices": list(self.devices.values()), "alerts": list(self.alerts.values()),
                "backup_jobs": self.backup_jobs, "resets": self.resets,
                "cleared": list(self.cleared),
                "requests": self.requests, "token_requests": self.token_requests,
                "tokens": len(self.tokens)}

    # --- auth ---------------------------------------------------------------------------------
    def public_paths(self) -> tuple[str, ...]:
        return (r"/ws/oauth/token",)

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= time.time():
            # The body a live tenant gives (homotechsual/NinjaOne issue #59).
            return web.json_response({"error": "not_authenticated",
                                      "error_description": "Invalid credentials", "error_code": 10},
                                     status=401)
        return None

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"resultCode": "FAILURE", "errorMessage": message},
                                 status=status, headers=headers)

    # --- routes -------------------------------------------------------------------------------
    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/ws/oauth/token", self.token)
        router.add_get("/v2/organizations", self.list_organizations)
        router.add_get("/v2/devices", self.list_nodes)
        router.add_get("/v2/devices-detailed", self.list_devices)
        router.add_get("/v2/device/{id}", self.get_device)
        router.add_get("/v2/alerts", self.list_alerts)
        router.add_post("/v2/alert/{uid}/reset", self.reset_alert)
        router.add_delete("/v2/alert/{uid}", self.delete_alert)
        router.add_get("/v2/backup/jobs", self.list_backup_jobs)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests.append({k: form.get(k) for k in ("grant_type", "client_id", "scope")})
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if (form.get("client_id") != self.credentials["client_id"]
                or not secrets.compare_digest(str(form.get("client_secret", "")),
                                              self.credentials["client_secret"])):
            return web.json_response({"error": "invalid_client",
                                      "error_description": "Bad client credentials"}, status=401)
        scopes = set(str(form.get("scope", "")).split())
        if not scopes or not scopes <= SCOPES or not scopes <= self.granted_scopes:
            # Refused, not narrowed (WYRE-AI/ninjaone-mcp PR #87).
            return web.json_response({"error": "invalid_scope"}, status=400)
        token = secrets.token_urlsafe(32)
        lifetime = self.token_ttl if self.token_valid_for is None else self.token_valid_for
        self.tokens[token] = time.time() + lifetime
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": self.token_ttl, "scope": " ".join(sorted(scopes))})

    async def list_organizations(self, request: web.Request) -> web.Response:
        return self._keyset(request, self.organizations)

    async def list_devices(self, request: web.Request) -> web.Response:
        return self._keyset(request, self.devices)

    async def list_nodes(self, request: web.Request) -> web.Response:
        nodes = {key: {k: v for k, v in device.items() if k in NODE_FIELDS}
                 for key, device in self.devices.items()}
        return self._keyset(request, nodes)

    async def get_device(self, request: web.Request) -> web.Response:
        raw = request.match_info["id"]
        device = self.devices.get(int(raw)) if raw.isdigit() else None
        if device is None:
            return _failure(404, f"Device {raw} not found")
        return web.json_response(device)

    async def list_alerts(self, request: web.Request) -> web.Response:
        source = request.query.get("sourceType")
        items = [a for a in self.alerts.values() if not source or a.get("sourceType") == source]
        return web.json_response(items)

    async def reset_alert(self, request: web.Request) -> web.StreamResponse:
        uid = request.match_info["uid"]
        try:
            body = await request.json() if request.body_exists else {}
        except json.JSONDecodeError:
            return _failure(400, "Malformed JSON body")
        if not isinstance(body, dict):
            return _failure(400, "Activity data must be a JSON object")
        self.requests.append({"method": "POST", "path": request.path, "body": body})
        if uid not in self.alerts:
            return _failure(404, f"Alert {uid} not found")
        # The condition is reset: the alert is no longer triggered, so no longer listed.
        self.resets.setdefault(uid, []).append(body)
        self.clear_alert(uid)
        return web.Response(status=204)

    async def delete_alert(self, request: web.Request) -> web.StreamResponse:
        uid = request.match_info["uid"]
        self.requests.append({"method": "DELETE", "path": request.path, "body": None})
        if uid not in self.alerts:
            return _failure(404, f"Alert {uid} not found")
        self.clear_alert(uid)
        return web.Response(status=204)

    async def list_backup_jobs(self, request: web.Request) -> web.Response:
        size = _page_size(request.query.get("pageSize"), 1, 10000)
        if size is None:
            return _failure(400, "pageSize must be an integer between 1 and 10000")
        name = request.query.get("cursor")
        if name:
            cursor = self._cursors.get(name)
            if cursor is None or cursor["expires"] <= time.time():
                return _failure(400, "Unknown or expired cursor")
        else:
            # A cursor pins the result set, so later pages do not shift while jobs come in.
            include = request.query.get("include", "active")
            # `include` selects devices (active, deleted or all), not jobs.
            if include not in ("active", "deleted", "all"):
                return _failure(400, "include must be active, deleted or all")
            items = [j for j in self.backup_jobs if include == "all"
                     or (include == "deleted") == (j.get("deviceId") not in self.devices)]
            name = uuid.uuid4().hex
            cursor = self._cursors[name] = {"items": items, "offset": 0,
                                            "expires": time.time() + 300}
        page = cursor["items"][cursor["offset"]:cursor["offset"] + size]
        cursor["offset"] += len(page)
        return web.json_response({"cursor": {"name": name, "offset": cursor["offset"],
                                             "count": len(page), "expires": cursor["expires"]},
                                  "results": page})

    def _keyset(self, request: web.Request, table: dict[int, Any]) -> web.Response:
        size = _page_size(request.query.get("pageSize"), 1, 10000)
        after = request.query.get("after", "0")
        if size is None or not after.lstrip("-").isdigit():
            return _failure(400, "pageSize and after must be integers")
        items = [table[k] for k in sorted(table) if k > int(after)][:size]
        return web.json_response(items)


def _page_size(raw: str | None, low: int, high: int) -> int | None:
    if raw is None:
        return high
    if not raw.isdigit() or not low <= int(raw) <= high:
        return None
    return int(raw)


SIMULATOR = NinjaOneSimulator
