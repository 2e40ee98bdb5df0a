"""ConnectWise Manage (PSA): tickets on a service board, notes with per-note visibility flags,
closing by moving the ticket to the board's closed status.

Base URL: `https://{host}/{codebase}/apis/3.0` (`discover_base_url` reads the codebase from the
unauthenticated companyinfo look-up). Auth: Basic `company+public:private` plus the integration's
`clientId` header on every call. Credentials: company_id, public_key, private_key, client_id,
and optionally board_id (otherwise the first active service board is used).
"""
from __future__ import annotations

import base64
from datetime import datetime
from typing import ClassVar

from ..base import (
    TICKET_VERBS,
    CloseDraft,
    Connector,
    NoteDraft,
    TicketDraft,
    VendorCall,
    VerbResult,
    floor_second,
    vendor_time,
)
from ..errors import VendorError
from ..http import VendorHttp
from .formats import PRIORITY_WORDS, canonical_status, cw_time
from .reader import ConnectWiseReader

SUMMARY_MAX = 100                  # CW rejects longer summaries
PAGE_SIZE = 1000                   # CW's maximum pageSize
async def discover_base_url(http: VendorHttp, host: str, company_id: str) -> str:
    """`https://{host}/{codebase}apis/3.0` from `GET /login/companyinfo/{companyId}`.
    `host` may carry a scheme (the simulator is plain http)."""
    origin = host if "://" in host else f"https://{host}"
    response = await http.request("connectwise", "GET",
                                  f"{origin.rstrip('/')}/login/companyinfo/{company_id}",
                                  idempotent=True)
    codebase = (response.body or {}).get("Codebase") if isinstance(response.body, dict) else None
    if not codebase:
        raise VendorError("connectwise", "companyinfo has no Codebase", status=response.status,
                          retry_safe=True)
    return f"{origin.rstrip('/')}/{codebase.strip('/')}/apis/3.0"


class ConnectWiseConnector(ConnectWiseReader, Connector):
    vendor = "connectwise"
    kind = "psa"
    verbs = frozenset(TICKET_VERBS)
    missing: dict[str, str] = {}   # the public matrix lists no absent tools for ConnectWise
    # Every CW record carries `_info.lastUpdated`, which `conditions` can filter on.
    SYNC_ENTITIES: ClassVar[dict[str, str]] = {
        "customers": "incremental", "contacts": "incremental", "tickets": "incremental",
        "contracts": "incremental", "invoices": "incremental"}

    def __init__(self, base_url: str, credentials: dict, http: VendorHttp, settings=None):
        super().__init__(base_url, credentials, http, settings)
        # Read-only look-ups cached for this connector's lifetime.
        self._board_id: int | None = None
        self._priorities: list[dict] | None = None
        self._closed_status: dict[int, int] = {}

    async def auth_headers(self) -> dict[str, str]:
        c = self.credentials
        token = base64.b64encode(
            f"{c['company_id']}+{c['public_key']}:{c['private_key']}".encode()).decode()
        return {"Authorization": f"Basic {token}", "clientId": c["client_id"],
                "Accept": "application/json"}

    # --- look-ups ---------------------------------------------------------------------------
    async def _get(self, path: str, params: dict | None = None):
        return (await self.send(VendorCall("GET", path, params=params), idempotent=True)).body

    async def _all(self, path: str, conditions: str | None = None) -> list[dict]:
        """Every page of a list endpoint (page numbers until a short page)."""
        out, page = [], 1
        while True:
            params = {"page": page, "pageSize": PAGE_SIZE, "orderBy": "id asc"}
            if conditions:
                params["conditions"] = conditions
            items = await self._get(path, params)
            if not isinstance(items, list):
                raise VendorError(self.vendor, f"unexpected answer to GET {path}",
                                  retry_safe=True)
            out += items
            if len(items) < PAGE_SIZE:
                return out
            page += 1

    async def board_id(self) -> int:
        if self._board_id is None:
            if self.credentials.get("board_id"):
                self._board_id = int(self.credentials["board_id"])
            else:
                boards = await self._all("/service/boards", "inactiveFlag=false")
                if not boards:
                    raise VendorError(self.vendor, "no active service board to file tickets on",
                                      retry_safe=True)
                self._board_id = int(boards[0]["id"])
        return self._board_id

    async def priority_id(self, priority: str) -> int | None:
        """The CW priority whose name says `priority`; None leaves CW's default."""
        if self._priorities is None:
            self._priorities = sorted(await self._all("/service/priorities"),
                                      key=lambda p: (p.get("sortOrder") or 0, p["id"]))
        for word in PRIORITY_WORDS.get(priority, ()):
            for candidate in self._priorities:
                if word in str(candidate.get("name", "")).lower():
                    return int(candidate["id"])
        return None

    async def closed_status_id(self, ticket_ref: str) -> int:
        ticket = await self._get(f"/service/tickets/{_int(ticket_ref, 'ticket')}")
        board = int(ticket["board"]["id"])
        if board not in self._closed_status:
            statuses = await self._all(f"/service/boards/{board}/statuses")
            closed = [s for s in statuses if s.get("closedStatus") and not s.get("inactive")]
            if not closed:
                raise VendorError(self.vendor, f"board {board} has no active closed status",
                                  retry_safe=True)
            self._closed_status[board] = int(closed[0]["id"])
        return self._closed_status[board]

    # --- create_ticket ----------------------------------------------------------------------
    async def _plan_create_ticket(self, draft: TicketDraft) -> list[VendorCall]:
        body: dict = {"summary": draft.subject[:SUMMARY_MAX],
                      "company": {"id": _int(draft.company_ref, "company")},
                      "board": {"id": await self.board_id()},
                      "initialDescription": draft.description}
        priority = await self.priority_id(draft.priority)
        if priority is not None:
            body["priority"] = {"id": priority}
        if draft.contact_ref:
            body["contact"] = {"id": _int(draft.contact_ref, "contact")}
        elif draft.requester:
            body.update({k: v for k, v in (("contactName", draft.requester.get("name")),
                                           ("contactEmailAddress", draft.requester.get("email")))
                         if v})
        return [VendorCall("POST", "/service/tickets", body)]

    async def _perform_create_ticket(self, draft: TicketDraft) -> VerbResult:
        [call] = await self._plan_create_ticket(draft)
        response = await self.send(call, idempotent=False)
        if not isinstance(response.body, dict) or "id" not in response.body:
            raise self.unexpected("ticket create", response)
        return ticket_result(response.body, response.status)

    async def _recover_create_ticket(self, draft: TicketDraft, since: datetime) -> VerbResult | None:
        summary, company = draft.subject[:SUMMARY_MAX], _int(draft.company_ref, "company")
        since = floor_second(since)
        # lastUpdated >= dateEntered, so this never hides the ticket; the summary condition is
        # only a narrowing hint (CW's quoting of '"' is undocumented), the exact check is below.
        conditions = f"company/id={company} and lastUpdated>={cw_time(since)}"
        if '"' not in summary and "\\" not in summary:
            conditions += f' and summary="{summary}"'
        for ticket in await self._all("/service/tickets", conditions):
            entered = vendor_time((ticket.get("_info") or {}).get("dateEntered"))
            if ticket.get("summary") == summary and \
                    (ticket.get("company") or {}).get("id") == company and \
                    entered is not None and entered >= since:
                return ticket_result(ticket, None)
        return None

    # --- add_note ---------------------------------------------------------------------------
    async def _plan_add_note(self, draft: NoteDraft) -> list[VendorCall]:
        body = {"text": draft.body, "detailDescriptionFlag": not draft.internal,
                "internalAnalysisFlag": draft.internal, "resolutionFlag": False}
        return [VendorCall("POST", f"/service/tickets/{_int(draft.ticket_ref, 'ticket')}/notes",
                           body)]

    async def _perform_add_note(self, draft: NoteDraft) -> VerbResult:
        [call] = await self._plan_add_note(draft)
        response = await self.send(call, idempotent=False)
        if not isinstance(response.body, dict) or "id" not in response.body:
            raise self.unexpected("note create", response)
        return note_result(response.body, response.status)

    async def _recover_add_note(self, draft: NoteDraft, since: datetime) -> VerbResult | None:
        since = floor_second(since)
        flag = "internalAnalysisFlag" if draft.internal else "detailDescriptionFlag"
        notes = await self._all(f"/service/tickets/{_int(draft.ticket_ref, 'ticket')}/notes")
        for note in notes:
            created = vendor_time(note.get("dateCreated"))
            if note.get("text") == draft.body and note.get(flag) and created and created >= since:
                return note_result(note, None)
        return None

    # --- close_ticket -----------------------------------------------------------------------
    async def _plan_close_ticket(self, draft: CloseDraft) -> list[VendorCall]:
        ticket_id = _int(draft.ticket_ref, "ticket")
        calls = []
        if draft.resolution:
            calls.append(VendorCall("POST", f"/service/tickets/{ticket_id}/notes",
                                    {"text": draft.resolution, "resolutionFlag": True,
                                     "detailDescriptionFlag": False,
                                     "internalAnalysisFlag": False}))
        patch = [{"op": "replace", "path": "status/id",
                  "value": await self.closed_status_id(draft.ticket_ref)}]
        calls.append(VendorCall("PATCH", f"/service/tickets/{ticket_id}", patch))
        return calls

    async def _perform_close_ticket(self, draft: CloseDraft) -> VerbResult:
        response = None
        for call in await self._plan_close_ticket(draft):
            # The note POST creates something; the status PATCH can be repeated safely.
            response = await self.send(call, idempotent=call.method != "POST")
        if response is None or not isinstance(response.body, dict):
            raise VendorError(self.vendor, "no answer to the close", retry_safe=True)
        return ticket_result(response.body, response.status)


def ticket_result(ticket: dict, http_status: int | None) -> VerbResult:
    return VerbResult(external_id=str(ticket["id"]), number=str(ticket["id"]),
                      status=canonical_status(ticket),
                      created_at=vendor_time((ticket.get("_info") or {}).get("dateEntered")),
                      vendor_status=http_status)


def note_result(note: dict, http_status: int | None) -> VerbResult:
    return VerbResult(external_id=str(note["id"]), created_at=vendor_time(note.get("dateCreated")),
                      vendor_status=http_status, extra={"ticket_id": str(note.get("ticketId"))})


def _int(ref: str, what: str) -> int:
    try:
        return int(ref)
    except (TypeError, ValueError):
        raise VendorError("connectwise", f"{what} id {ref!r} is not a ConnectWise id",
                          retry_safe=True) from None


CONNECTOR = ConnectWiseConnector
