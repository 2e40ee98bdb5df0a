"""N-able N-central (`https://{server}`): a long-lived User-API token (JWT) is exchanged at
`POST /api/auth/authenticate` for an access token (about 1 h) and a refresh token (about 25 h);
calls carry `Bearer <access token>`.

The access token is cached per server and user token, renewed through `POST /api/auth/refresh`
(refresh token as a text/plain body) when it nears expiry, and obtained afresh from
`/api/auth/authenticate` when the refresh token is spent or refused.

N-central has no REST verb that updates a notification or an active issue, so the connector
offers no verbs; its read helpers page through `pageNumber`/`pageSize` lists (`{data,
totalPages, ...}`) for the RMM sync.

N-central limits concurrent calls per endpoint (3 to 50) and asks clients to back off 2 s, 5 s,
10 s on a 429 without saying how long in the answer: reads that are still refused after the
shared retries are tried again on that schedule.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import quote

from cachetools import TTLCache

from ..base import Connector, SourceSetting, VendorCall
from ..errors import VendorError
from ..http import VendorResponse
from .reader import HINTS, NCentralRead, parse_state_severity

NO_UPDATE_VERB = "N-central exposes no documented notification-update REST verb."
RENEW_MARGIN = 60.0
PAGE_SIZE = 1000
RATE_LIMIT_BACKOFF = (2.0, 5.0, 10.0)    # the vendor's advice after a 429 (rate_limiting.htm)


@dataclass
class _Tokens:
    access: str | None
    access_until: float          # monotonic deadlines
    refresh: str | None
    refresh_until: float


# (base_url, digest of the user token) -> _Tokens. The user token itself is never a key.
_TOKENS: TTLCache = TTLCache(maxsize=512, ttl=26 * 3600)


class NCentralConnector(NCentralRead, Connector):
    vendor = "ncentral"
    kind = "rmm"
    verbs = frozenset()
    missing = {"acknowledge_alert": NO_UPDATE_VERB, "resolve_alert": NO_UPDATE_VERB}
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "Nothing: N-central's custom-PSA tickets are its own outbound "
                         "integration, not a ticket system Vectis writes to.",
        "add_note": "Nothing: N-central notes belong to devices, not tickets.",
        "close_ticket": "Nothing: N-central has no tickets of its own.",
        "acknowledge_alert": "Nothing: no REST call acknowledges an active issue (only the "
                             "N-central UI does).",
        "resolve_alert": "Nothing: an active issue leaves N-central's list only when its "
                         "service returns to normal.",
    }
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("org_unit_ids",
                      "comma-separated org unit ids (service organization, customer or site) "
                      "whose active issues are read; default: every service organization the "
                      "API user can list"),
        SourceSetting("state_severity",
                      "overrides of notificationState -> severity, e.g. '5=critical,6=critical' "
                      "(default 1/3/8 info, 2/6 minor, 4 moderate, 5 critical, 7 major)"),
    )
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "assets": "snapshot", "alerts": "snapshot"}

    def __init__(self, base_url, credentials, http, settings=None):
        super().__init__(base_url, credentials, http, settings)
        parse_state_severity(self.setting("state_severity"))     # refuse a bad table at once
        self._lock: asyncio.Lock | None = None
        self.rate_limit_backoff = RATE_LIMIT_BACKOFF

    # --- auth ---------------------------------------------------------------------------------
    @property
    def _cache_key(self) -> tuple[str, str]:
        user_token = str(self.credentials.get("user_api_token", ""))
        return (self.base_url, hashlib.sha256(user_token.encode()).hexdigest())

    def _usable_access(self) -> str | None:
        entry = _TOKENS.get(self._cache_key)
        if entry is None or entry.access is None or entry.access_until - RENEW_MARGIN <= time.monotonic():
            return None
        return entry.access

    async def _access_token(self) -> str:
        token = self._usable_access()
        if token is not None:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._usable_access()
            if token is not None:
                return token
            entry = _TOKENS.get(self._cache_key)
            if entry is not None and entry.refresh and entry.refresh_until - RENEW_MARGIN > time.monotonic():
                try:
                    return await self._exchange("/api/auth/refresh", {"Content-Type": "text/plain"},
                                                entry.refresh)
                except VendorError as exc:
                    # A refused refresh token (revoked, server restarted): start over below.
                    if exc.status not in (400, 401, 403):
                        raise
            user_token = str(self.credentials.get("user_api_token", ""))
            try:
                return await self._exchange("/api/auth/authenticate",
                                            {"Authorization": f"Bearer {user_token}"}, None)
            except VendorError as exc:
                if exc.status == 401:
                    exc.hint = HINTS[401]
                raise

    async def _exchange(self, path: str, headers: dict[str, str], data: str | None) -> str:
        # Token requests change nothing on the server worth protecting, so they may be retried.
        response = await self.http.request(self.vendor, "POST", self.base_url + path,
                                           idempotent=True, headers=headers, data=data)
        body = response.json()
        tokens = body.get("tokens") if isinstance(body, dict) else None
        access = (tokens or {}).get("access") or {}
        refresh = (tokens or {}).get("refresh") or {}
        if not access.get("token"):
            raise self.unexpected(f"POST {path}", response)
        now = time.monotonic()
        _TOKENS[self._cache_key] = _Tokens(
            access["token"], now + float(access.get("expirySeconds", 3600)),
            refresh.get("token"), now + float(refresh.get("expirySeconds", 0)))
        return access["token"]

    def _drop_access(self) -> None:
        entry = _TOKENS.get(self._cache_key)
        if entry is not None:
            entry.access = None

    async def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._access_token()}"}

    async def send(self, call: VendorCall, *, idempotent: bool,
                   accept: tuple[int, ...] = ()) -> VendorResponse:
        waits = list(self.rate_limit_backoff) if idempotent else []
        while True:
            try:
                return await self._send_once(call, idempotent=idempotent, accept=accept)
            except VendorError as exc:
                if exc.status != 429 or not waits:
                    raise
            await asyncio.sleep(waits.pop(0))

    async def _send_once(self, call: VendorCall, *, idempotent: bool,
                         accept: tuple[int, ...] = ()) -> VendorResponse:
        # An access token the server no longer honours: drop it (keeping the refresh token) and
        # try once more. A 401 means the request was not processed, so repeating it is safe.
        cached = self._usable_access() is not None
        try:
            return await super().send(call, idempotent=idempotent, accept=accept)
        except VendorError as exc:
            if exc.status != 401 or not cached:
                raise
        self._drop_access()
        return await super().send(call, idempotent=idempotent, accept=accept)

    # --- reads (for sync) ---------------------------------------------------------------------
    async def list_customers(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._pages("/api/customers", page_size)

    async def list_devices(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._pages("/api/devices", page_size)

    async def list_alerts(self, org_unit_id: int | str, page_size: int = PAGE_SIZE) -> list[dict]:
        """Active issues of an org unit (service organization, customer or site) and below."""
        return await self._pages(f"/api/org-units/{quote(str(org_unit_id), safe='')}/active-issues",
                                 page_size)

    async def _pages(self, path: str, page_size: int) -> list[dict]:
        return [item async for batch in self._iter_pages(path, page_size) for item in batch]


CONNECTOR = NCentralConnector
