"""HaloPSA: OAuth2 client credentials against the instance's own auth server, tickets and their
actions under `{base}/api` (base = the instance root, e.g. `https://acme.halopsa.com`).

- authentication: the auth server is asked of the instance, `GET /api/authinfo` -> `auth_url`
  (token URL = auth_url + `/token`, tenant = the credentials' `tenant`, else its `tenant_id`),
  as Halo's own PowerShell module does; when the instance does not answer that, `{base}/auth/token`
  (the hosted default). Setting `auth_url` overrides the discovery (self-hosted instances);
- create_ticket: `POST /api/Tickets` with a one-item array (an item without `id` is a create; Halo
  answers with the saved ticket), ticket type from setting `ticket_type_id`;
- add_note: `POST /api/Actions` with `hiddenfromuser` = internal, `sendemail` = customer-visible;
- close_ticket: the resolution as a customer-visible action (skipped when that exact note is
  already on the ticket), then the ticket upsert `POST /api/Tickets [{id, status_id: <closed>}]`.
  We close through the upsert rather than an action's `new_status` because the upsert names the
  final state: repeating it changes nothing, so it may be retried after a 5xx or a lost answer,
  while a repeated action would post a second resolution note.
The closing status is setting `closed_status_id` (default 9, Halo's system Closed), checked
against `GET /api/Status`: Halo's status `type` does not say which statuses close (formats.py).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cachetools import TTLCache

from ..base import CloseDraft, Connector, NoteDraft, SourceSetting, TicketDraft, VendorCall, VerbResult
from ..errors import NotConfigured, VendorError
from ..http import VendorResponse
from .formats import SETTINGS, canonical_status, closed_ids, halo_date, priority_ids
from .reader import HaloPSARead, action_ref

PAGE_SIZE = 100                       # Halo's maximum page size for tickets
RECOVER_PAGES = 10                    # newest 1,000 tickets of the client
CLOCK_SLACK = timedelta(seconds=5)    # Halo's clock and ours differ; dates lose sub-seconds

# Access tokens live for the process and are shared by every connector of the same source. The
# key includes the token URL and a digest of the secret: two sources that share an instance and
# a client id but not the secret must never borrow each other's token (a wrong secret has to
# fail, not ride along).
_TOKENS: TTLCache = TTLCache(maxsize=1024, ttl=24 * 3600)
# Instance root -> (token URL, tenant_id) from `GET /api/authinfo`, asked once an hour.
_AUTH_SERVERS: TTLCache = TTLCache(maxsize=256, ttl=3600)
_AUTH_REFUSALS = ("invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope")
CREDENTIALS_HINT = ("HaloPSA refused the API application's client id/secret (or the tenant): check "
                    "the application under Configuration > Integrations > HaloPSA API, then store "
                    "them with `{connect} --base-url URL --credentials-stdin`")


class HaloPSA(HaloPSARead, Connector):
    vendor = "halopsa"
    kind = "psa"
    # Only tickets can be asked for by change time (`lastupdatefromdate`).
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "contacts": "snapshot", "tickets": "incremental",
        "contracts": "snapshot", "invoices": "snapshot"}
    verbs = frozenset({"create_ticket", "add_note", "close_ticket"})
    missing: dict[str, str] = {}      # the public docs list no absent verb for HaloPSA
    settings: ClassVar[tuple[SourceSetting, ...]] = SETTINGS
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "POST /api/Tickets (one item without id): a ticket of the source's ticket "
                         "type (setting ticket_type_id, default 1) for the client; Halo runs the "
                         "type's rules, SLA and workflow and may e-mail the user an "
                         "acknowledgement",
        "add_note": "POST /api/Actions: an action on the ticket's history; internal = "
                    "hiddenfromuser (off the end-user portal), customer-visible = sendemail "
                    "(Halo e-mails it to the ticket's user)",
        "close_ticket": "an optional resolution action (customer-visible, e-mailed), then "
                        "POST /api/Tickets {id, status_id} with the closing status (setting "
                        "closed_status_id, default 9 = Halo's system Closed); Halo stamps "
                        "dateclosed",
    }

    def __init__(self, base_url, credentials, http, settings=None):
        super().__init__(base_url, credentials, http, settings)
        self._statuses: list[dict] | None = None
        self._token_lock = asyncio.Lock()
        self._token_used: tuple | None = None

    # --- authentication ---------------------------------------------------------------------
    async def _auth_server(self) -> tuple[str, str]:
        """(token URL, tenant) of this source."""
        tenant = str(self.credentials.get("tenant") or "")
        configured = self.setting("auth_url")
        if configured:
            return str(configured).rstrip("/") + "/token", tenant
        found = _AUTH_SERVERS.get(self.base_url)
        if found is None:
            async with self._token_lock:
                found = _AUTH_SERVERS.get(self.base_url) or await self._discover()
        return found[0], tenant or found[1]

    async def _discover(self) -> tuple[str, str]:
        fallback = (f"{self.base_url}/auth/token", "")
        try:
            response = await self.http.request(self.vendor, "GET", f"{self.base_url}/api/authinfo",
                                               idempotent=True, accept=(400, 401, 403, 404, 405))
        except VendorError:
            return fallback           # 5xx, rate limit or unreachable: asked again next time
        body = response.body if isinstance(response.body, dict) else {}
        auth_url = body.get("auth_url")
        if 200 <= response.status < 300 and isinstance(auth_url, str) \
                and auth_url.startswith(("https://", "http://")):
            found = (auth_url.rstrip("/") + "/token", str(body.get("tenant_id") or ""))
        else:
            found = fallback          # an instance without authinfo: the hosted default
        _AUTH_SERVERS[self.base_url] = found
        return found

    def _token_key(self, server: tuple[str, str]) -> tuple:
        creds = self.credentials
        secret = str(creds.get("client_secret") or "").encode()
        return (server[0], str(creds.get("client_id") or ""), server[1],
                hashlib.sha256(secret).hexdigest())

    @staticmethod
    def _cached_token(key: tuple) -> str | None:
        entry = _TOKENS.get(key)
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        return None

    async def _token(self) -> tuple[str, bool]:
        """(access token, whether it came from the cache)."""
        server = await self._auth_server()
        key = self._token_used = self._token_key(server)
        token = self._cached_token(key)
        if token is not None:
            return token, True
        async with self._token_lock:     # concurrent calls on a cold cache fetch one token
            token = self._cached_token(key)
            if token is not None:
                return token, True
            token, lifetime = await self._fetch_token(*server)
            # Renew a little before the vendor's expiry so a call never starts on a dying token.
            renew_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
            _TOKENS[key] = (token, renew_at)
            return token, False

    def _forget_token(self, token: str) -> None:
        key = self._token_used
        entry = _TOKENS.get(key) if key is not None else None
        if entry is not None and entry[0] == token:   # keep a newer token another call fetched
            _TOKENS.pop(key, None)

    async def _fetch_token(self, url: str, tenant: str) -> tuple[str, float]:
        creds = self.credentials
        if not creds.get("client_id") or not creds.get("client_secret"):
            raise NotConfigured("HaloPSA needs client_id and client_secret")
        form = {"grant_type": "client_credentials", "client_id": str(creds["client_id"]),
                "client_secret": str(creds["client_secret"]), "scope": "all"}
        params = {"tenant": tenant} if tenant else None
        # Asking for a token twice has no effect on the vendor, so the request may be retried.
        response = await self.http.request(self.vendor, "POST", url, idempotent=True, data=form,
                                           params=params, accept=(400, 401))
        body = response.body if isinstance(response.body, dict) else {}
        if response.status in (400, 401):
            error = str(body.get("error") or "")
            # OAuth servers answer bad client credentials with 400 invalid_client (RFC 6749
            # 5.2); for callers that is the same failure as a 401 from the API itself.
            refused = response.status == 401 or error in _AUTH_REFUSALS
            raise VendorError(self.vendor, f"token request refused ({error or response.status})",
                              status=401 if refused else 400, retry_safe=True,
                              hint=CREDENTIALS_HINT if refused else None)
        token = body.get("access_token")
        if not token:
            raise VendorError(self.vendor, "token response without access_token",
                              status=response.status, retry_safe=True)
        return str(token), float(body.get("expires_in") or 3600)

    async def auth_headers(self) -> dict[str, str]:
        token, _ = await self._token()
        return {"Authorization": f"Bearer {token}"}

    async def _call(self, call: VendorCall, *, idempotent: bool,
                    accept: tuple[int, ...] = ()) -> VendorResponse:
        token, cached = await self._token()
        response = await self._send_with(call, token, idempotent,
                                         accept + ((401,) if cached else ()))
        if response.status == 401 and cached:
            # The cached token was revoked or expired early. A 401 means the request was refused
            # unprocessed, so one resend with a fresh token is safe even for a POST.
            self._forget_token(token)
            token, _ = await self._token()
            response = await self._send_with(call, token, idempotent, accept)
        return response

    async def _send_with(self, call: VendorCall, token: str, idempotent: bool,
                         accept: tuple[int, ...]) -> VendorResponse:
        kwargs: dict[str, Any] = {"params": call.params}
        kwargs["json" if call.content_type == "application/json" else "data"] = call.body
        return await self.http.request(self.vendor, call.method, self.base_url + call.path,
                                       idempotent=idempotent, accept=accept,
                                       headers={"Authorization": f"Bearer {token}"}, **kwargs)

    # --- look-ups ---------------------------------------------------------------------------
    async def _status_list(self) -> list[dict]:
        if self._statuses is None:
            response = await self._call(VendorCall("GET", "/api/Status"), idempotent=True)
            body = response.body
            if not isinstance(body, list):
                raise VendorError(self.vendor, "unexpected answer to the status list",
                                  status=response.status, retry_safe=True)
            self._statuses = [s for s in body if isinstance(s, dict)]
        return self._statuses

    def _closed_ids(self) -> frozenset[int]:
        return closed_ids(self.setting("closed_status_id"))

    async def _configured_status(self, name: str) -> int:
        """The status id a setting names, checked against the instance's statuses."""
        wanted = int(self.setting(name))
        statuses = await self._status_list()
        if any(str(s.get("id")) == str(wanted) for s in statuses):
            return wanted
        known = ", ".join(f"{s.get('id')} {s.get('name')}" for s in statuses) or "none"
        what = "closing status" if name == "closed_status_id" else "status new tickets get"
        raise VendorError(self.vendor, f"this instance has no status {wanted} (setting {name}); "
                          f"its statuses: {known}", retry_safe=True,
                          hint=f"set the {what} with `{{connect}} --setting {name}=<id>`")

    def _status_of(self, status_id: Any) -> str:
        closed = self._closed_ids()
        for status in self._statuses or ():
            if str(status.get("id")) == str(status_id):
                return canonical_status(status, closed)
        return canonical_status({"id": status_id}, closed)

    def _priority_ids(self) -> dict[str, int]:
        try:
            return priority_ids(self.setting("priority_ids"))
        except ValueError as exc:
            raise VendorError(self.vendor, str(exc), retry_safe=True,
                              hint="set it with `{connect} --setting "
                                   "priority_ids=critical=1,high=2,medium=3,low=4`") from None

    async def _find_action(self, ticket_id: int, text: str, internal: bool,
                           floor: datetime | None) -> dict | None:
        response = await self._call(VendorCall("GET", "/api/Actions",
                                               params={"ticket_id": ticket_id}), idempotent=True)
        body = response.body if isinstance(response.body, dict) else {}
        found = None
        for action in body.get("actions") or ():
            if (str(action.get("note") or "").strip() == text.strip()
                    and bool(action.get("hiddenfromuser")) == internal
                    and (floor is None or (halo_date(action.get("datetime")) or floor) >= floor)):
                if found is None or int(action.get("id") or 0) > int(found.get("id") or 0):
                    found = action
        return found

    # --- create_ticket ----------------------------------------------------------------------
    async def _plan_create_ticket(self, draft: TicketDraft) -> list[VendorCall]:
        priorities = self._priority_ids()
        if draft.priority not in ("critical", "high", "medium", "low"):
            raise ValueError(f"unknown priority {draft.priority!r}")
        item: dict[str, Any] = {
            "summary": draft.subject, "details": draft.description,
            "client_id": _ref(draft.company_ref, "client"),
            "tickettype_id": int(self.setting("ticket_type_id")),
        }
        if draft.priority in priorities:    # else Halo applies the SLA's default priority
            item["priority_id"] = priorities[draft.priority]
        if self.setting("new_status_id") is not None:   # else the ticket type's start status
            item["status_id"] = await self._configured_status("new_status_id")
        requester = draft.requester or {}
        if draft.contact_ref:
            item["user_id"] = _ref(draft.contact_ref, "user")
        elif requester.get("email"):
            item["user_email"] = requester["email"]
            if requester.get("name"):
                item["user_name"] = requester["name"]
        return [VendorCall("POST", "/api/Tickets", body=[item])]

    async def _perform_create_ticket(self, draft: TicketDraft) -> VerbResult:
        (call,) = await self._plan_create_ticket(draft)
        await self._status_list()
        try:
            response = await self._call(call, idempotent=False)
        except VendorError as exc:
            if exc.status != 400:
                raise
            type_id = call.body[0]["tickettype_id"]
            raise VendorError(self.vendor, str(exc), status=400, retry_safe=True, hint=(
                f"HaloPSA refused the ticket: if ticket type {type_id} requires fields Vectis "
                "does not send (category, custom fields) or does not allow the status, choose "
                "another type with `{connect} --setting ticket_type_id=<id>`")) from None
        ticket = _first(response.body)
        if ticket is None or ticket.get("id") is None:
            raise self.unexpected("the ticket create", response)
        return self._ticket_result(ticket, response.status)

    async def _recover_create_ticket(self, draft: TicketDraft, since: datetime) -> VerbResult | None:
        client_id, floor = _ref(draft.company_ref, "client"), since - CLOCK_SLACK
        await self._status_list()
        for page in range(1, RECOVER_PAGES + 1):
            params = {"client_id": client_id, "pageinate": "true", "page_no": page,
                      "page_size": PAGE_SIZE, "order": "id", "orderdesc": "true"}
            response = await self._call(VendorCall("GET", "/api/Tickets", params=params),
                                        idempotent=True)
            body = response.body if isinstance(response.body, dict) else {}
            tickets = [t for t in body.get("tickets") or () if isinstance(t, dict)]
            dates = []
            for ticket in tickets:       # newest first: the first match is the latest attempt
                created = halo_date(ticket.get("dateoccurred"))
                dates.append(created or floor)
                if ticket.get("summary") == draft.subject and created and created >= floor:
                    return self._ticket_result(ticket, response.status)
            if len(tickets) < PAGE_SIZE or (dates and min(dates) < floor):
                return None
        return None

    def _ticket_result(self, ticket: dict, status: int) -> VerbResult:
        return VerbResult(external_id=str(ticket["id"]), number=str(ticket["id"]),
                          status=self._status_of(ticket.get("status_id")),
                          created_at=halo_date(ticket.get("dateoccurred")), vendor_status=status,
                          extra={"client_id": ticket.get("client_id")})

    # --- add_note ---------------------------------------------------------------------------
    def _action(self, ticket_id: int, text: str, internal: bool, outcome: str | None = None) -> dict:
        outcome = outcome or self.setting("private_note_outcome" if internal else "note_outcome")
        return {"ticket_id": ticket_id, "note": text, "outcome": outcome,
                "hiddenfromuser": internal, "sendemail": not internal}

    async def _plan_add_note(self, draft: NoteDraft) -> list[VendorCall]:
        action = self._action(_ref(draft.ticket_ref, "ticket"), draft.body, draft.internal)
        return [VendorCall("POST", "/api/Actions", body=[action])]

    async def _perform_add_note(self, draft: NoteDraft) -> VerbResult:
        (call,) = await self._plan_add_note(draft)
        response = await self._call(call, idempotent=False)
        action = _first(response.body)
        if action is None or action.get("id") is None:
            raise self.unexpected("the action create", response)
        return _note_result(action, response.status)

    async def _recover_add_note(self, draft: NoteDraft, since: datetime) -> VerbResult | None:
        action = await self._find_action(_ref(draft.ticket_ref, "ticket"), draft.body,
                                         draft.internal, since - CLOCK_SLACK)
        return None if action is None else _note_result(action, 200)

    # --- close_ticket -----------------------------------------------------------------------
    async def _plan_close_ticket(self, draft: CloseDraft) -> list[VendorCall]:
        ticket_id = _ref(draft.ticket_ref, "ticket")
        closed = await self._configured_status("closed_status_id")
        calls = []
        # A repeated close must not post the resolution twice, so an identical customer-visible
        # note already on the ticket counts as posted.
        if draft.resolution and not await self._find_action(ticket_id, draft.resolution, False, None):
            action = self._action(ticket_id, draft.resolution, False,
                                  outcome=self.setting("resolution_outcome"))
            calls.append(VendorCall("POST", "/api/Actions", body=[action]))
        calls.append(VendorCall("POST", "/api/Tickets", body=[{"id": ticket_id, "status_id": closed}]))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        calls = await self._plan_close_ticket(draft)
        for call in calls[:-1]:
            await self._call(call, idempotent=False)
        closed = calls[-1].body[0]["status_id"]
        try:
            # The upsert sets a final state: sending it twice is harmless, so it is retried.
            response = await self._call(calls[-1], idempotent=True)
        except VendorError as exc:
            if exc.status != 400:
                raise
            raise VendorError(self.vendor, str(exc), status=400, retry_safe=True, hint=(
                f"HaloPSA refused status {closed} for this ticket: its ticket type may require "
                "closure fields or not allow that status; close it in Halo, or choose the "
                "closing status with `{connect} --setting closed_status_id=<id>`")) from None
        ticket = _first(response.body) or {}
        return VerbResult(external_id=str(draft.ticket_ref), number=str(draft.ticket_ref),
                          status=self._status_of(ticket.get("status_id", closed)),
                          vendor_status=response.status)


def _note_result(action: dict, status: int) -> VerbResult:
    return VerbResult(external_id=action_ref(action.get("ticket_id"), action["id"]),
                      created_at=halo_date(action.get("datetime")), vendor_status=status,
                      extra={"ticket_id": action.get("ticket_id")})


def _first(body: Any) -> dict | None:
    """Halo answers a one-item POST with the saved record; accept an array as well."""
    if isinstance(body, list):
        body = body[0] if body else None
    return body if isinstance(body, dict) else None


def _ref(value: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise VendorError("halopsa", f"{value!r} is not a HaloPSA {what} id", retry_safe=True) from None


CONNECTOR = HaloPSA
