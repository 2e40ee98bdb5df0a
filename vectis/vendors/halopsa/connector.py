"""HaloPSA: OAuth2 client credentials against the instance's own auth server, tickets and their
actions under `{base}/api` (base = the instance root, e.g. `https://acme.halopsa.com`).

- create_ticket: `POST /api/Tickets` with a one-item array (an item without `id` is a create);
- add_note: `POST /api/Actions` with `hiddenfromuser` = internal, `sendemail` = customer-visible;
- close_ticket: the resolution as a customer-visible action (skipped when that exact note is
  already on the ticket), then the ticket upsert `POST /api/Tickets [{id, status_id: <closed>}]`.
  We close through the upsert rather than an action's `new_status` because the upsert names the
  final state: repeating it changes nothing, so it may be retried after a 5xx or a lost answer,
  while a repeated action would post a second resolution note.
Status ids are read from `GET /api/Status` (Halo instances rename and add statuses); priorities
and the ticket type use Halo's default ids (P1 Critical .. P4 Low, type 1 Incident).
"""
from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import datetime, timedelta
from typing import Any, ClassVar

from cachetools import TTLCache

from ..base import CloseDraft, Connector, NoteDraft, TicketDraft, VendorCall, VerbResult, vendor_time
from ..errors import NotConfigured, VendorError
from ..http import VendorResponse
from .reader import HaloPSARead, action_ref

PRIORITY_IDS = {"critical": 1, "high": 2, "medium": 3, "low": 4}
INCIDENT_TYPE_ID = 1
PAGE_SIZE = 100                       # Halo's maximum page size for tickets
RECOVER_PAGES = 10                    # newest 1,000 tickets of the client
CLOCK_SLACK = timedelta(seconds=5)    # Halo's clock and ours differ; dates lose sub-seconds

# Access tokens live for the process and are shared by every connector of the same source. The
# key includes a digest of the secret: two sources that share an instance and a client id but not
# the secret must never borrow each other's token (a wrong secret has to fail, not ride along).
_TOKENS: TTLCache = TTLCache(maxsize=1024, ttl=24 * 3600)
_AUTH_REFUSALS = ("invalid_client", "unauthorized_client", "invalid_grant", "invalid_scope")


class HaloPSA(HaloPSARead, Connector):
    vendor = "halopsa"
    kind = "psa"
    # Only tickets can be asked for by change time (`lastupdatefromdate`).
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "contacts": "snapshot", "tickets": "incremental",
        "contracts": "snapshot", "invoices": "snapshot"}
    verbs = frozenset({"create_ticket", "add_note", "close_ticket"})
    missing: dict[str, str] = {}      # the public docs list no absent verb for HaloPSA

    def __init__(self, base_url, credentials, http, settings=None):
        super().__init__(base_url, credentials, http, settings)
        self._statuses: list[dict] | None = None
        self._token_lock = asyncio.Lock()

    # --- authentication ---------------------------------------------------------------------
    def _token_key(self) -> tuple:
        creds = self.credentials
        secret = str(creds.get("client_secret") or "").encode()
        return (self.base_url, str(creds.get("client_id") or ""), str(creds.get("tenant") or ""),
                hashlib.sha256(secret).hexdigest())

    def _cached_token(self) -> str | None:
        entry = _TOKENS.get(self._token_key())
        if entry is not None and entry[1] > time.monotonic():
            return entry[0]
        return None

    async def _token(self) -> tuple[str, bool]:
        """(access token, whether it came from the cache)."""
        token = self._cached_token()
        if token is not None:
            return token, True
        async with self._token_lock:     # concurrent calls on a cold cache fetch one token
            token = self._cached_token()
            if token is not None:
                return token, True
            token, lifetime = await self._fetch_token()
            # Renew a little before the vendor's expiry so a call never starts on a dying token.
            renew_at = time.monotonic() + lifetime - min(60.0, lifetime / 10)
            _TOKENS[self._token_key()] = (token, renew_at)
            return token, False

    def _forget_token(self, token: str) -> None:
        key = self._token_key()
        entry = _TOKENS.get(key)
        if entry is not None and entry[0] == token:   # keep a newer token another call fetched
            _TOKENS.pop(key, None)

    async def _fetch_token(self) -> tuple[str, float]:
        creds = self.credentials
        if not creds.get("client_id") or not creds.get("client_secret"):
            raise NotConfigured("HaloPSA needs client_id and client_secret")
        form = {"grant_type": "client_credentials", "client_id": str(creds["client_id"]),
                "client_secret": str(creds["client_secret"]), "scope": "all"}
        params = {"tenant": str(creds["tenant"])} if creds.get("tenant") else None
        # Asking for a token twice has no effect on the vendor, so the request may be retried.
        response = await self.http.request(self.vendor, "POST", f"{self.base_url}/auth/token",
                                           idempotent=True, data=form, params=params,
                                           accept=(400, 401))
        body = response.body if isinstance(response.body, dict) else {}
        if response.status in (400, 401):
            error = str(body.get("error") or "")
            # OAuth servers answer bad client credentials with 400 invalid_client (RFC 6749
            # 5.2); for callers that is the same failure as a 401 from the API itself.
            status = 401 if response.status == 401 or error in _AUTH_REFUSALS else 400
            raise VendorError(self.vendor, f"token request refused ({error or response.status})",
                              status=status, retry_safe=True)
        token = body.get("access_token")
        if not token:
            raise VendorError(self.vendor, "token response without access_token",
                              status=response.status, retry_safe=True)
        return str(token), float(body.get("expires_in") or 3600)

    async def auth_headers(self) -> dict[str, str]:
        token, _ = await self._token()
        return {"Authorization": f"Bearer {token}"}

    async def _call(self, call: VendorCall, *, idempotent: bool) -> VendorResponse:
        token, cached = await self._token()
        response = await self._send_with(call, token, idempotent, (401,) if cached else ())
        if response.status == 401:
            # The cached token was revoked or expired early. A 401 means the request was refused
            # unprocessed, so one resend with a fresh token is safe even for a POST.
            self._forget_token(token)
            token, _ = await self._token()
            response = await self._send_with(call, token, idempotent, ())
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
            if isinstance(body, dict):
                body = body.get("statuses") or body.get("records")
            if not isinstance(body, list):
                raise VendorError(self.vendor, "unexpected answer to the status list",
                                  status=response.status, retry_safe=True)
            self._statuses = [s for s in body if isinstance(s, dict)]
        return self._statuses

    async def _status_id(self, canonical: str) -> int:
        statuses = await self._status_list()
        # A status literally named "Closed" wins over other closed-type ones such as "Cancelled".
        named = [s for s in statuses if str(s.get("name", "")).strip().lower() == canonical]
        typed = [s for s in statuses if _canonical(s) == canonical]
        for status in named + typed:
            return int(status["id"])
        raise VendorError(self.vendor, f"no '{canonical}' status in /api/Status", retry_safe=True)

    def _status_of(self, status_id: Any) -> str:
        for status in self._statuses or ():
            if str(status.get("id")) == str(status_id):
                return _canonical(status)
        return "open"

    async def _find_action(self, ticket_id: int, text: str, internal: bool,
                           floor: datetime | None) -> dict | None:
        response = await self._call(VendorCall("GET", "/api/Actions",
                                               params={"ticket_id": ticket_id}), idempotent=True)
        body = response.body if isinstance(response.body, dict) else {}
        found = None
        for action in body.get("actions") or ():
            if (str(action.get("note") or "").strip() == text.strip()
                    and bool(action.get("hiddenfromuser")) == internal
                    and (floor is None or (vendor_time(action.get("datetime")) or floor) >= floor)):
                if found is None or int(action.get("id") or 0) > int(found.get("id") or 0):
                    found = action
        return found

    # --- create_ticket ----------------------------------------------------------------------
    async def _plan_create_ticket(self, draft: TicketDraft) -> list[VendorCall]:
        if draft.priority not in PRIORITY_IDS:
            raise ValueError(f"unknown priority {draft.priority!r}")
        item: dict[str, Any] = {
            "summary": draft.subject, "details": draft.description,
            "client_id": _ref(draft.company_ref, "client"),
            "priority_id": PRIORITY_IDS[draft.priority], "tickettype_id": INCIDENT_TYPE_ID,
            "status_id": await self._status_id("new"),
        }
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
        response = await self._call(call, idempotent=False)
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
                created = vendor_time(ticket.get("dateoccurred"))
                dates.append(created or floor)
                if ticket.get("summary") == draft.subject and created and created >= floor:
                    return self._ticket_result(ticket, response.status)
            if len(tickets) < PAGE_SIZE or (dates and min(dates) < floor):
                return None
        return None

    def _ticket_result(self, ticket: dict, status: int) -> VerbResult:
        return VerbResult(external_id=str(ticket["id"]), number=str(ticket["id"]),
                          status=self._status_of(ticket.get("status_id")),
                          created_at=vendor_time(ticket.get("dateoccurred")), vendor_status=status,
                          extra={"client_id": ticket.get("client_id")})

    # --- add_note ---------------------------------------------------------------------------
    @staticmethod
    def _action(ticket_id: int, text: str, internal: bool, outcome: str | None = None) -> dict:
        return {"ticket_id": ticket_id, "note": text,
                "outcome": outcome or ("Private Note" if internal else "Note"),
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
        calls = []
        # A repeated close must not post the resolution twice, so an identical customer-visible
        # note already on the ticket counts as posted.
        if draft.resolution and not await self._find_action(ticket_id, draft.resolution, False, None):
            action = self._action(ticket_id, draft.resolution, False, outcome="Resolution")
            calls.append(VendorCall("POST", "/api/Actions", body=[action]))
        closed = await self._status_id("closed")
        calls.append(VendorCall("POST", "/api/Tickets", body=[{"id": ticket_id, "status_id": closed}]))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        calls = await self._plan_close_ticket(draft)
        for call in calls[:-1]:
            await self._call(call, idempotent=False)
        # The upsert sets a final state: sending it twice is harmless, so it is retried.
        response = await self._call(calls[-1], idempotent=True)
        ticket = _first(response.body) or {}
        return VerbResult(external_id=str(draft.ticket_ref), number=str(draft.ticket_ref),
                          status=self._status_of(ticket.get("status_id", calls[-1].body[0]["status_id"])),
                          vendor_status=response.status)


def _canonical(status: dict) -> str:
    name = str(status.get("name") or "").strip().lower()
    if str(status.get("type") or "").strip().lower() == "closed" or name == "closed":
        return "closed"
    if name in ("resolved", "completed"):
        return "resolved"
    if name == "new":
        return "new"
    if "progress" in name:
        return "in_progress"
    if any(word in name for word in ("wait", "hold", "pending", "with user", "awaiting")):
        return "waiting"
    return "open"


def _note_result(action: dict, status: int) -> VerbResult:
    return VerbResult(external_id=action_ref(action.get("ticket_id"), action["id"]),
                      created_at=vendor_time(action.get("datetime")), vendor_status=status,
                      extra={"ticket_id": action.get("ticket_id")})


def _first(body: Any) -> dict | None:
    """Halo answers an array POST with the saved records; accept a bare object as well."""
    if isinstance(body, list):
        body = body[0] if body else None
    return body if isinstance(body, dict) else None


def _ref(value: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise VendorError("halopsa", f"{value!r} is not a HaloPSA {what} id", retry_safe=True) from None


CONNECTOR = HaloPSA
