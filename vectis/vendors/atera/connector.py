"""Atera: API v3 (`https://app.atera.com/api/v3`). A legacy API key goes in the `X-API-KEY`
header; a JWT key (Atera's newer keys; legacy keys stop working 60 days after an account switches)
goes in `Authorization: Bearer` (setting `auth_scheme`, default: guessed from the key).

- create_ticket: `POST /tickets` -> 201. The older spec documents no body, the newer one
  `{ActionID: string|null}` without saying what it holds. A numeric ActionID is taken as the
  ticket id only if `GET /tickets/{id}` shows our title; otherwise (absent, null, not numeric, or
  another ticket) the created ticket is found the way recovery finds one: this customer's ticket
  with our title created since the call. Atera files a ticket under its end user's customer, so
  the ticket names an end user of `company_ref`: the given contact, the requester's contact when
  the e-mail is known there, else a new end user from the requester's name and e-mail, else the
  customer's contact person. The ticket type is the `ticket_type` setting (default Incident).
- add_note: `POST /tickets/{id}/comments` as an existing technician: `TechnicianId` (setting
  `technician_id`, or the credential of that name) is required, `TechnicianEmail` is sent too
  when known; `IsInternal` = internal.
- close_ticket: the resolution as a public comment (skipped when already on the ticket), then
  `PUT /tickets/{id} {TicketStatus: <close_status>}` (free text at Atera; default "Closed").
Alerts: Atera's API can resolve (archive) and delete alerts, but the public docs' matrix lists
both alert verbs as absent for Atera, and the public docs decide what Vectis offers.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ..base import (
    CloseDraft,
    Connector,
    NoteDraft,
    SourceSetting,
    TicketDraft,
    VendorCall,
    VerbResult,
    vendor_time,
)
from ..errors import NotConfigured, VendorError
from ..http import VendorResponse
from .reader import AteraRead

ALERTS_ABSENT = ("Vectis offers no alert writes for Atera (the public docs' vendor matrix); "
                 "Atera's own API can resolve (archive) an alert: do it in Atera.")
PRIORITIES = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
STATUSES = {"open": "open", "pending": "waiting", "resolved": "resolved", "closed": "closed"}
TICKET_PAGE = 50                      # Atera's maximum for tickets and comments
CONTACT_PAGE = 50                     # ... and for contacts (the newer spec; the older said 500)
AUTH_SCHEMES = ("auto", "jwt", "key")
MAX_PAGES = 20
CLOCK_SLACK = timedelta(seconds=5)    # Atera's clock and ours differ


class Atera(AteraRead, Connector):
    vendor = "atera"
    kind = "psa"
    # Only tickets can be asked for by change time (`/tickets/lastmodified`).
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "snapshot", "contacts": "snapshot", "assets": "snapshot",
        "tickets": "incremental", "alerts": "snapshot", "contracts": "snapshot",
        "invoices": "snapshot"}
    verbs = frozenset({"create_ticket", "add_note", "close_ticket"})
    missing = {"acknowledge_alert": ALERTS_ABSENT, "resolve_alert": ALERTS_ABSENT}
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("close_status", "the TicketStatus text that closes a ticket (free text at "
                      "Atera; some tenants finish with Resolved)", default="Closed"),
        SourceSetting("technician_id", "the Atera technician (TechnicianId) that notes and closing "
                      "comments are posted as; default: the credential technician_id", kind=int),
        SourceSetting("ticket_type", "TicketType of created tickets (Incident, Problem, Request "
                      "or Change)", default="Incident"),
        SourceSetting("auth_scheme", "how the API key is sent: jwt (Authorization: Bearer), key "
                      "(X-API-KEY) or auto (a JWT-shaped or long key as Bearer)", default="auto"),
    )
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "POST /api/v3/tickets creates a ticket filed under an end user of the "
                         "customer (an existing EndUserID, or a new end user from the requester's "
                         "name and e-mail).",
        "add_note": "POST /api/v3/tickets/{id}/comments adds a comment as the configured "
                    "technician, staff-only when IsInternal is true; Atera comments have no id.",
        "close_ticket": "The resolution as a public comment, then PUT /api/v3/tickets/{id} sets "
                        "the free-text TicketStatus to the close_status setting (default Closed).",
    }

    async def auth_headers(self) -> dict[str, str]:
        key = str(self.credentials.get("api_key") or "")
        if not key:
            raise NotConfigured("Atera needs api_key")
        scheme = str(self.setting("auth_scheme")).lower()
        if scheme not in AUTH_SCHEMES:
            raise NotConfigured(f"Atera auth_scheme must be one of {', '.join(AUTH_SCHEMES)}")
        if scheme == "jwt" or (scheme == "auto" and _jwt_like(key)):
            return {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        return {"X-API-KEY": key, "Accept": "application/json"}

    async def send(self, call: VendorCall, *, idempotent: bool,
                   accept: tuple[int, ...] = ()) -> VendorResponse:
        try:
            return await super().send(call, idempotent=idempotent, accept=accept)
        except VendorError as exc:
            if exc.status != 401:
                raise
            raise VendorError(self.vendor, str(exc), status=401, retry_safe=exc.retry_safe,
                              hint="Atera refused the API key (Admin > Data management > API): "
                                   "store a valid one with `{connect} --credentials-stdin`; a JWT "
                                   "key is sent as Bearer, a legacy one as X-API-KEY (force it "
                                   "with `{connect} --setting auth_scheme=jwt|key`)") from None

    def _now(self) -> datetime:
        return datetime.now(UTC)

    async def _get(self, path: str, params: dict | None = None) -> VendorResponse:
        return await self.send(VendorCall("GET", path, params=params), idempotent=True)

    async def _pages(self, path: str, params: dict, size: int):
        """Every item of a paged list, page by page (bounded)."""
        for page in range(1, MAX_PAGES + 1):
            response = await self._get(path, {**params, "page": page, "itemsInPage": size})
            body = response.body if isinstance(response.body, dict) else {}
            for item in body.get("items") or ():
                if isinstance(item, dict):
                    yield item
            if page >= int(body.get("totalPages") or 0):
                return

    # --- create_ticket ----------------------------------------------------------------------
    async def _plan_create_ticket(self, draft: TicketDraft) -> list[VendorCall]:
        if draft.priority not in PRIORITIES:
            raise ValueError(f"unknown priority {draft.priority!r}")
        body: dict[str, Any] = {"TicketTitle": draft.subject, "Description": draft.description,
                                "TicketPriority": PRIORITIES[draft.priority],
                                "TicketType": str(self.setting("ticket_type"))}
        body.update(await self._end_user(draft))
        return [VendorCall("POST", "/tickets", body=body)]

    async def _end_user(self, draft: TicketDraft) -> dict:
        customer = str(draft.company_ref)
        if draft.contact_ref:
            return {"EndUserID": _ref(draft.contact_ref, "contact")}
        requester = draft.requester or {}
        email = str(requester.get("email") or "").strip()
        if email:
            params = {"Email": email}     # the newer spec's name (the older: searchOptions.email)
            async for contact in self._pages("/contacts", params, CONTACT_PAGE):
                if str(contact.get("Email") or "").lower() != email.lower():
                    continue      # the search matches parts of addresses
                if str(contact.get("CustomerID")) != customer:
                    raise VendorError(self.vendor, "the requester's e-mail belongs to an end user "
                                      "of another Atera customer", retry_safe=True)
                return {"EndUserID": contact["EndUserID"]}
            first, _, last = str(requester.get("name") or "").strip().partition(" ")
            first = first or email.split("@")[0]
            # Atera needs first name, last name and e-mail to create an end user: a one-word
            # name is used for both.
            return {"EndUserFirstName": first, "EndUserLastName": last.strip() or first,
                    "EndUserEmail": email}
        best = None
        async for contact in self._pages("/contacts", {}, CONTACT_PAGE):
            if str(contact.get("CustomerID")) == customer and not contact.get("Archived"):
                rank = (not contact.get("IsContactPerson"), int(contact.get("EndUserID") or 0))
                if best is None or rank < best[0]:
                    best = (rank, contact)
        if best is None:
            raise VendorError(self.vendor, f"Atera customer {customer} has no end user to open "
                              "the ticket for; give a requester", retry_safe=True)
        return {"EndUserID": best[1]["EndUserID"]}

    async def _perform_create_ticket(self, draft: TicketDraft) -> VerbResult:
        (call,) = await self._plan_create_ticket(draft)
        started = self._now()
        response = await self.send(call, idempotent=False)
        body = response.body if isinstance(response.body, dict) else {}
        # ActionID is documented only by the newer spec, as a nullable string, and what it holds
        # for a create is not stated: trust it only when it leads to our ticket.
        action = str(body.get("ActionID") or "").strip()
        if action.isdigit():
            try:
                ticket = (await self._get(f"/tickets/{int(action)}")).body
            except VendorError:
                ticket = None
            if isinstance(ticket, dict) and ticket.get("TicketTitle") == draft.subject:
                return replace(_ticket_result(ticket), vendor_status=response.status)
        try:
            found = await self._recover_create_ticket(draft, started)
        except VendorError:
            if not action.isdigit():
                raise
            # The ticket exists but Atera does not answer reads now: failing would invite a
            # duplicate. Report what we know.
            return VerbResult(external_id=action, status="open", created_at=self._now(),
                              vendor_status=response.status)
        if found is None:
            raise VendorError(self.vendor, "Atera accepted the ticket (HTTP "
                              f"{response.status}) without naming it, and no ticket titled "
                              f"{draft.subject!r} of customer {draft.company_ref} shows yet",
                              status=response.status, retry_safe=False,
                              hint="look for the ticket in Atera before creating it again")
        return replace(found, vendor_status=response.status)

    async def _recover_create_ticket(self, draft: TicketDraft, since: datetime) -> VerbResult | None:
        floor, found = since - CLOCK_SLACK, None
        params = {"customerId": _ref(draft.company_ref, "customer")}
        async for ticket in self._pages("/tickets", params, TICKET_PAGE):
            created = vendor_time(ticket.get("TicketCreatedDate"))
            if ticket.get("TicketTitle") == draft.subject and created and created >= floor:
                if found is None or int(ticket["TicketID"]) > int(found["TicketID"]):
                    found = ticket
        return None if found is None else _ticket_result(found)

    # --- add_note ---------------------------------------------------------------------------
    def _technician_id(self) -> int:
        chosen = self.setting("technician_id") or self.credentials.get("technician_id")
        if not str(chosen or "").strip().isdigit() or int(chosen) <= 0:
            raise VendorError(self.vendor, "no Atera technician is configured: Atera posts "
                              "comments only as an existing technician (TechnicianId)",
                              retry_safe=True,
                              hint="set the technician with `{connect} --setting "
                                   "technician_id=<TechnicianId>` (Atera: Admin > Technicians)")
        return int(chosen)

    def _comment(self, text: str, internal: bool) -> dict:
        creds = self.credentials
        # Both specs require an existing technician ID; an e-mail alone binds TechnicianId to 0.
        details: dict[str, Any] = {"TechnicianId": self._technician_id(), "IsInternal": internal}
        if creds.get("technician_email"):
            details["TechnicianEmail"] = str(creds["technician_email"])
        # Our own timestamp: recovery then compares it with our own clock, not Atera's.
        return {"CommentText": text, "CommentTimestampUTC": _iso(self._now()),
                "TechnicianCommentDetails": details}

    async def _plan_add_note(self, draft: NoteDraft) -> list[VendorCall]:
        ticket_id = _ref(draft.ticket_ref, "ticket")
        return [VendorCall("POST", f"/tickets/{ticket_id}/comments",
                           body=self._comment(draft.body, draft.internal))]

    async def _perform_add_note(self, draft: NoteDraft) -> VerbResult:
        (call,) = await self._plan_add_note(draft)
        response = await self.send(call, idempotent=False)
        body = response.body if isinstance(response.body, dict) else {}
        # Atera's comment list carries no comment id; the create answer may.
        action = body.get("ActionID")
        return VerbResult(external_id=None if action is None else str(action),
                          created_at=vendor_time(call.body["CommentTimestampUTC"]),
                          vendor_status=response.status, extra={"ticket_id": draft.ticket_ref})

    async def _find_comment(self, ticket_id: int, text: str, internal: bool,
                            floor: datetime | None) -> dict | None:
        found = None
        async for comment in self._pages(f"/tickets/{ticket_id}/comments", {}, TICKET_PAGE):
            when = vendor_time(comment.get("Date"))
            if (str(comment.get("Comment") or "").strip() == text.strip()
                    and bool(comment.get("IsInternal")) == internal
                    and (floor is None or (when is not None and when >= floor))):
                found = comment
        return found

    async def _recover_add_note(self, draft: NoteDraft, since: datetime) -> VerbResult | None:
        comment = await self._find_comment(_ref(draft.ticket_ref, "ticket"), draft.body,
                                           draft.internal, since - CLOCK_SLACK)
        if comment is None:
            return None
        return VerbResult(created_at=vendor_time(comment.get("Date")), vendor_status=200,
                          extra={"ticket_id": draft.ticket_ref})

    # --- close_ticket -----------------------------------------------------------------------
    async def _plan_close_ticket(self, draft: CloseDraft) -> list[VendorCall]:
        ticket_id = _ref(draft.ticket_ref, "ticket")
        calls = []
        # A repeated close must not post the resolution twice.
        if draft.resolution and not await self._find_comment(ticket_id, draft.resolution, False, None):
            calls.append(VendorCall("POST", f"/tickets/{ticket_id}/comments",
                                    body=self._comment(draft.resolution, False)))
        calls.append(VendorCall("PUT", f"/tickets/{ticket_id}",
                                body={"TicketStatus": str(self.setting("close_status"))}))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        calls = await self._plan_close_ticket(draft)
        for call in calls[:-1]:
            await self.send(call, idempotent=False)
        response = await self.send(calls[-1], idempotent=True)   # setting a status is repeatable
        return VerbResult(external_id=str(draft.ticket_ref), status="closed",
                          vendor_status=response.status)


def _ticket_result(ticket: dict) -> VerbResult:
    # The published example has TicketNumber "0": no number, not number zero.
    number = ticket.get("TicketNumber")
    if str(number or "").strip() in ("", "0"):
        number = ticket.get("TicketID")
    return VerbResult(external_id=str(ticket["TicketID"]),
                      number=None if number is None else str(number),
                      status=STATUSES.get(str(ticket.get("TicketStatus") or "open").lower(), "open"),
                      created_at=vendor_time(ticket.get("TicketCreatedDate")),
                      extra={"customer_id": ticket.get("CustomerID")})


def _jwt_like(key: str) -> bool:
    """A JWT (three dot-separated base64url parts) or a key too long to be a legacy one (the
    rule PSAtera uses: more than 100 characters)."""
    parts = key.split(".")
    b64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    return len(key) > 100 or (len(parts) == 3 and all(p and set(p) <= b64 for p in parts))


def _ref(value: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise VendorError("atera", f"{value!r} is not an Atera {what} id", retry_safe=True) from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


CONNECTOR = Atera
