"""NinjaOne (NinjaRMM): OAuth2 client credentials, API under `/v2`, alert reset as the only write.

`base_url` is the instance root (e.g. `https://app.ninjarmm.com`, `https://eu.ninjarmm.com`); the
token endpoint is `{base}/ws/oauth/token` and every API path starts with `/v2`.

NinjaOne has no "acknowledged" state and no alert status at all: both alert verbs RESET the
condition. Acknowledge uses `POST /v2/alert/{uid}/reset` with a small activity-data body (so the
note travels with it); resolve uses `DELETE /v2/alert/{uid}`. After either, the alert leaves
`GET /v2/alerts` (the list of triggered conditions), so the next sync resolves it here; if the
condition still holds, NinjaOne raises it again as a new alert. Both calls are repeatable: an
alert NinjaOne no longer has (404: an earlier attempt whose answer was lost, or a reset in the
console) is the outcome the caller wanted. NinjaOne also has ticket endpoints, but Vectis does not
write tickets there, so no ticket verbs are listed.

The token asks for the scopes in the `scope` setting (default `monitoring management`: reads need
monitoring, the resets need management). NinjaOne refuses a token request naming a scope the API
app was not granted (400 invalid_scope) instead of narrowing it.
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any, ClassVar
from urllib.parse import quote

from cachetools import TTLCache

from ..base import AlertDraft, Connector, SourceSetting, VendorCall, VerbResult
from ..errors import VendorError
from ..http import VendorResponse
from .reader import NinjaOneRead

SCOPE = "monitoring management"          # the `scope` setting's default; `control` is remote control
RENEW_MARGIN = 60.0        # seconds before expiry at which a cached token counts as spent
PAGE_SIZE = 1000

# (base_url, client_id, secret digest) -> (access token, monotonic deadline). The digest keeps a
# caller with the right client id but a wrong secret from ever receiving someone else's token.
_TOKENS: TTLCache = TTLCache(maxsize=512, ttl=24 * 3600)


class NinjaOneConnector(NinjaOneRead, Connector):
    vendor = "ninjaone"
    kind = "rmm"
    verbs = frozenset({"acknowledge_alert", "resolve_alert"})
    missing: dict[str, str] = {}   # every verb of the matrix is available
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("scope", "OAuth scopes asked for with the token, space-separated (from "
                      "monitoring, management, control, offline_access); the API app must be "
                      "granted every one of them", default=SCOPE),)
    effects: ClassVar[dict[str, str]] = {
        "acknowledge_alert": "POST /v2/alert/{uid}/reset with the note as activity data resets the "
                             "condition: NinjaOne has no acknowledged state, the alert leaves its "
                             "active alert list (the next sync resolves it in Vectis) and NinjaOne "
                             "raises a new alert if the condition still holds.",
        "resolve_alert": "DELETE /v2/alert/{uid} resets the condition: the alert leaves NinjaOne's "
                         "active alert list, and NinjaOne raises a new alert if the condition "
                         "still holds.",
    }
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "assets": "snapshot", "alerts": "snapshot",
        "backup_jobs": "snapshot"}
    # Devices page by keyset (`after` the last id) and alerts come in one list: a read cannot
    # skip one, so what it lacks is gone (docs/sync.md).
    SNAPSHOT_STABLE: ClassVar[frozenset[str]] = frozenset({"assets", "alerts"})

    def __init__(self, base_url, credentials, http, settings=None):
        super().__init__(base_url, credentials, http, settings)
        self._lock: asyncio.Lock | None = None

    # --- auth ---------------------------------------------------------------------------------
    @property
    def _cache_key(self) -> tuple[str, str, str]:
        secret = str(self.credentials.get("client_secret", ""))
        return (self.base_url, str(self.credentials.get("client_id", "")),
                hashlib.sha256(secret.encode()).hexdigest())

    def _cached_token(self) -> str | None:
        entry = _TOKENS.get(self._cache_key)
        if entry is None or entry[1] - RENEW_MARGIN <= time.monotonic():
            return None
        return entry[0]

    async def _token(self) -> str:
        token = self._cached_token()
        if token is not None:
            return token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:     # one token request per connector, not one per parallel call
            token = self._cached_token()
            if token is not None:
                return token
            form = {"grant_type": "client_credentials",
                    "client_id": str(self.credentials.get("client_id", "")),
                    "client_secret": str(self.credentials.get("client_secret", "")),
                    "scope": str(self.setting("scope"))}
            # Asking for a token twice is harmless, so the token request may be retried.
            try:
                response = await self.http.request(self.vendor, "POST",
                                                   self.base_url + "/ws/oauth/token",
                                                   idempotent=True, data=form)
            except VendorError as exc:
                raise _token_error(exc, form["scope"]) from None
            body = response.json()
            if not isinstance(body, dict) or not body.get("access_token"):
                raise self.unexpected("the token request", response)
            lifetime = float(body.get("expires_in", 3600))
            _TOKENS[self._cache_key] = (body["access_token"], time.monotonic() + lifetime)
            return body["access_token"]

    async def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._token()}"}

    async def send(self, call: VendorCall, *, idempotent: bool,
                   accept: tuple[int, ...] = ()) -> VendorResponse:
        # A token revoked or expired early on the vendor's side: drop it and try once more with a
        # fresh one. A 401 means the request was not processed, so repeating it is safe.
        cached = self._cached_token() is not None
        try:
            return await super().send(call, idempotent=idempotent, accept=accept)
        except VendorError as exc:
            if exc.status != 401 or not cached:
                raise
        _TOKENS.pop(self._cache_key, None)
        return await super().send(call, idempotent=idempotent, accept=accept)

    # --- verbs --------------------------------------------------------------------------------
    async def _plan_acknowledge_alert(self, draft: AlertDraft) -> list[VendorCall]:
        # The reset body is free-form "activity data"; keep it to the note.
        body = {"note": draft.note} if draft.note else {}
        return [VendorCall("POST", f"/v2/alert/{_seg(draft.alert_ref)}/reset", body=body)]

    async def _perform_acknowledge_alert(self, draft: AlertDraft) -> VerbResult:
        (call,) = await self._plan_acknowledge_alert(draft)
        return await self._reset(call, draft)

    async def _plan_resolve_alert(self, draft: AlertDraft) -> list[VendorCall]:
        return [VendorCall("DELETE", f"/v2/alert/{_seg(draft.alert_ref)}")]

    async def _perform_resolve_alert(self, draft: AlertDraft) -> VerbResult:
        (call,) = await self._plan_resolve_alert(draft)
        return await self._reset(call, draft)

    async def _reset(self, call: VendorCall, draft: AlertDraft) -> VerbResult:
        """Either reset call. Resetting twice leaves the same state, so retries are safe; an
        alert NinjaOne no longer lists (404: an earlier attempt whose answer was lost, or a reset
        in the console) is already where the caller wanted it."""
        try:
            response = await self.send(call, idempotent=True, accept=(404,))
        except VendorError as exc:
            if exc.status == 403:
                raise VendorError(self.vendor, str(exc), status=403, retry_safe=True,
                                  hint="NinjaOne resets alerts only for an API app with the "
                                       "management scope: grant it to the app at NinjaOne and keep "
                                       "it in `{connect} --setting scope=\"monitoring management\"`"
                                  ) from None
            raise
        # NinjaOne's answer: the condition is reset and no longer listed; there is no status.
        extra: dict[str, Any] = {"alert_ref": draft.alert_ref, "effect": "reset", "listed": False}
        if response.status == 404:
            extra["already"] = True
        return VerbResult(vendor_status=response.status, extra=extra)

    # --- reads (for sync) ---------------------------------------------------------------------
    async def list_organizations(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._after_pages("/v2/organizations", page_size)

    async def list_devices(self, page_size: int = PAGE_SIZE) -> list[dict]:
        return await self._after_pages("/v2/devices", page_size)

    async def get_device(self, device_id: int | str) -> dict:
        return (await self._get(f"/v2/device/{_seg(device_id)}")).json()

    async def list_alerts(self, source_type: str | None = None) -> list[dict]:
        params = {"sourceType": source_type} if source_type else None
        body = (await self._get("/v2/alerts", params)).json()
        return body if isinstance(body, list) else []

    async def list_backup_jobs(self, page_size: int = PAGE_SIZE, include: str = "all") -> list[dict]:
        return [job async for batch in self._cursor_iter("/v2/backup/jobs", page_size, include)
                for job in batch]

    async def _after_pages(self, path: str, page_size: int) -> list[dict]:
        return [item async for batch in self._after_iter(path, page_size) for item in batch]


def _token_error(exc: VendorError, scope: str) -> VendorError:
    """A refused token request, with the next step in NinjaOne's terms."""
    text = str(exc)
    if exc.status == 400 and "scope" in text:
        hint = (f"the NinjaOne API app is not granted every scope of {scope!r}: grant them to the "
                "app (Administration > Apps > API) or ask for fewer with "
                "`{connect} --setting scope=\"monitoring management\"`")
    elif exc.status in (400, 401):
        hint = ("NinjaOne refused the API app's client id or secret (an \"API Services "
                "(machine-to-machine)\" app with the client credentials grant is needed): store "
                "valid ones with `{connect} --base-url URL --credentials-stdin`")
    else:
        return exc
    return VendorError(exc.vendor, f"token request refused: {text}", status=exc.status,
                       retry_safe=True, retry_after=exc.retry_after, hint=hint)


def _seg(value: int | str) -> str:
    """A vendor id as one path segment (never lets an id add path parts)."""
    return quote(str(value), safe="")


CONNECTOR = NinjaOneConnector
