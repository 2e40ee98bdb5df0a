"""Atera: API v3 (`https://app.atera.com/api/v3`), authenticated by the `X-API-KEY` header.

- create_ticket: `POST /tickets` -> 201 `{ActionID: <ticket id>}`, then `GET /tickets/{id}` for
  the number and creation date. Atera files a ticket under its end user's customer, so the
  ticket names an end user of `company_ref`: the given contact, the requester's contact when the
  e-mail is known there, else a new end user from the requester's name and e-mail, else the
  customer's contact person.
- add_note: `POST /tickets/{id}/comments` as the technician in the credentials
  (`technician_id` and/or `technician_email`), `IsInternal` = internal.
- close_ticket: the resolution as a public comment (skipped when already on the ticket), then
  `PUT /tickets/{id} {TicketStatus: "Closed"}`.
Alerts: the current API can resolve and delete alerts, but the public docs' matrix lists both
alert verbs as absent for Atera, and the public docs decide what Vectis offers.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ..base import CloseDraft, Connector, NoteDraft, TicketDraft, VendorCall, VerbResult, vendor_time
from ..errors import NotConfigured, VendorError
from ..http import VendorResponse
from .reader import AteraRead

ALERTS_ABSENT = "Atera’s alerts API has no documented update verb."
PRIORITIES = {"low": "Low", "medium": "Medium", "high": "High", "critical": "Critical"}
STATUSES = {"open": "open", "pending": "waiting", "resolved": "resolved", "closed": "closed"}
TICKET_PAGE = 50                      # Atera's maximum for tickets and comments
CONTACT_PAGE = 500                    # ... and for contacts
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

    async def auth_headers(self) -> dict[str, str]:
        key = self.credentials.get("api_key")
        if not key:
            raise NotConfigured("Atera needs api_key")
        return {"X-API-KEY": str(key), "Accept": "application/json"}

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
                                "TicketType": "Incident"}
        body.update(await self._end_user(draft))
        return [VendorCall("POST", "/tickets", body=body)]

    async def _end_user(self, draft: TicketDraft) -> dict:
        customer = str(draft.company_ref)
        if draft.contact_ref:
            return {"EndUserID": _ref(draft.contact_ref, "contact")}
        requester = draft.requester or {}
        email = str(requester.get("email") or "").strip()
        if email:
            params = {"searchOptions.email": email}
            async for contact in self._pages("/contacts", params, CONTACT_PAGE):
                if str(contact.get("Email") or "").lower() != email.lower():
                    continue      # the search matches parts of addresses
                if str(contact.get("CustomerID")) != customer:
                    raise VendorError(self.vendor, "the requester's e-mail belongs to an end user "
                                      "of another Atera customer", retry_safe=True)
                return {"EndUserID": contact["EndUserID"]}
            first, _, last = str(requester.get("name") or "").strip().partition(" ")
            return {"EndUserFirstName": first or email.split("@")[0],
                    "EndUserLastName": last.strip(), "EndUserEmail": email}
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
        response = await self.send(call, idempotent=False)
        body = response.body if isinstance(response.body, dict) else {}
        try:
            ticket_id = int(str(body.get("ActionID")))
        except ValueError:
            raise self.unexpected("the ticket create", response) from None
        try:
            ticket = (await self._get(f"/tickets/{ticket_id}")).body
        except VendorError:
            # The ticket exists; failing now would invite a duplicate. Report what we know.
            return VerbResult(external_id=str(ticket_id), status="open",
                              created_at=self._now(), vendor_status=response.status)
        result = _ticket_result(ticket if isinstance(ticket, dict) else {"TicketID": ticket_id})
        return replace(result, vendor_status=response.status)

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
    def _comment(self, text: str, internal: bool) -> dict:
        creds = self.credentials
        if not creds.get("technician_id") and not creds.get("technician_email"):
            raise NotConfigured("Atera comments need technician_id or technician_email")
        details: dict[str, Any] = {}
        if creds.get("technician_id"):
            details["TechnicianId"] = int(creds["technician_id"])
        details["IsInternal"] = internal
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
        calls.append(VendorCall("PUT", f"/tickets/{ticket_id}", body={"TicketStatus": "Closed"}))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        calls = await self._plan_close_ticket(draft)
        for call in calls[:-1]:
            await self.send(call, idempotent=False)
        response = await self.send(calls[-1], idempotent=True)   # setting a status is repeatable
        return VerbResult(external_id=str(draft.ticket_ref), status="closed",
                          vendor_status=response.status)


def _ticket_result(ticket: dict) -> VerbResult:
    number = ticket.get("TicketNumber") or ticket.get("TicketID")
    return VerbResult(external_id=str(ticket["TicketID"]),
                      number=None if number is None else str(number),
                      status=STATUSES.get(str(ticket.get("TicketStatus") or "open").lower(), "open"),
                      created_at=vendor_time(ticket.get("TicketCreatedDate")),
                      extra={"customer_id": ticket.get("CustomerID")})


def _ref(value: str, what: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        raise VendorError("atera", f"{value!r} is not an Atera {what} id", retry_safe=True) from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


CONNECTOR = Atera
