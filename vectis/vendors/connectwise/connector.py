"""ConnectWise Manage (PSA): tickets on a service board, notes with per-note visibility flags,
closing by moving the ticket to the board's closed status.

Base URL: `https://{host}/{codebase}/apis/3.0` (`discover_base_url` reads the codebase from the
unauthenticated companyinfo look-up). Auth: Basic `company+public:private` plus the integration's
`clientId` header on every call. Credentials: company_id, public_key, private_key, client_id.

Per-source settings: `board_id` (the service board new tickets go to; default: the first active
board that is not a project board) and `closed_status` (the board status, by name or id, that
closes a ticket; default: the status named "Closed", else a closed status that is not a
cancel/void-like one). A board may have several closed statuses ("Closed", "Cancelled",
"Completed"); which one a ticket gets is what CW reports and SLAs see, so it is never chosen by id.
The vendor contract is `contract.json` beside this module.
"""
from __future__ import annotations

import base64
import logging
import re
from datetime import datetime
from typing import ClassVar

from ..base import (
    TICKET_VERBS,
    CloseDraft,
    Connector,
    NoteDraft,
    SourceSetting,
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
# Closed statuses that record a ticket as not done: never chosen as the default closing status.
NOT_DONE = re.compile(r"cancel|void|duplicate|spam|merge|reject|abandon", re.I)
# After "Closed", names that mean the work is done, in order of preference.
DONE_NAMES = ("resolved", "completed", "complete")
log = logging.getLogger(__name__)

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
    settings: ClassVar[tuple[SourceSetting, ...]] = (
        SourceSetting("board_id", "service board id new tickets are filed on (default: the first "
                      "active board that is not a project board)", kind=int),
        SourceSetting("closed_status", "board status, by name or id, that closes a ticket "
                      "(default: the status named 'Closed', else a closed status that is not "
                      "cancel/void-like)"),
    )
    effects: ClassVar[dict[str, str]] = {
        "create_ticket": "POST /service/tickets: a service ticket on the source's board with the "
                         "board's default status; the description becomes its first Discussion "
                         "note",
        "add_note": "POST /service/tickets/{id}/notes: a Discussion note (detailDescriptionFlag, "
                    "shown to the customer as the board allows) or an Internal note "
                    "(internalAnalysisFlag)",
        "close_ticket": "an optional Resolution note, then PATCH status/id to the board's closing "
                        "status (setting closed_status, default 'Closed'); CW sets closedFlag, "
                        "closedDate and closedBy",
    }
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
    async def _write(self, call: VendorCall, *, idempotent: bool, what: str):
        """Send a write; a 400 becomes an error that names CW's field errors and the next step."""
        response = await self.send(call, idempotent=idempotent, accept=(400,))
        if response.status == 400:
            raise invalid_object(what, response.body)
        return response

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
            chosen = self.setting("board_id") or self.credentials.get("board_id")
            if chosen:
                self._board_id = int(chosen)
            else:
                # A project board's tickets are project work, not service requests.
                boards = await self._all("/service/boards",
                                         "inactiveFlag=false and projectFlag=false")
                if not boards:
                    raise VendorError(
                        self.vendor, "no active service board (other than project boards) to "
                        "file tickets on", retry_safe=True,
                        hint="choose the board with `{connect} --setting board_id=<id>`")
                self._board_id = int(boards[0]["id"])
                log.info("connectwise: no board_id setting, filing tickets on board %s (%s)",
                         self._board_id, boards[0].get("name"))
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
            self._closed_status[board] = int(self._closing_status(board, statuses)["id"])
        return self._closed_status[board]

    def _closing_status(self, board: int, statuses: list[dict]) -> dict:
        """The board status a close moves the ticket to: the `closed_status` setting (a name or
        an id), else "Closed", else a done-like closed status, else one that is not
        cancel/void-like; never chosen by id order ("Cancelled" may have the lowest id)."""
        closed = [s for s in statuses if s.get("closedStatus") and not s.get("inactive")]
        wanted = self.setting("closed_status")
        if wanted is not None:
            text = str(wanted).strip()
            found = next((s for s in closed if str(s.get("id")) == text), None) or next(
                (s for s in closed if str(s.get("name", "")).strip().lower() == text.lower()),
                None)
            if found is None:
                raise self._no_closing_status(
                    board, closed, f"board {board} has no active closed status {text!r} "
                    "(setting closed_status)")
            return found
        ordered = sorted(closed, key=lambda s: (s.get("sortOrder") or 0, s["id"]))
        done = [s for s in ordered if not NOT_DONE.search(str(s.get("name", "")))]
        for test in ([lambda s: str(s.get("name", "")).strip().lower() == "closed"]
                     + [lambda s, n=name: str(s.get("name", "")).strip().lower() == n
                        for name in DONE_NAMES]
                     + [lambda s: s.get("escalationStatus") == "Resolved", lambda s: True]):
            found = next((s for s in done if test(s)), None)
            if found is not None:
                return found
        raise self._no_closing_status(
            board, closed, f"board {board} has no active closed status that is not a "
            "cancel/void-like one" if closed else f"board {board} has no active closed status")

    def _no_closing_status(self, board: int, closed: list[dict], message: str) -> VendorError:
        names = ", ".join(f"{s.get('name')!r} (id {s['id']})" for s in closed) or "none"
        return VendorError(
            self.vendor, message, retry_safe=True,
            hint=f"the closed statuses of board {board} are: {names}; choose the one Vectis "
                 "closes with by `{connect} --setting closed_status=<name or id>` (or add a "
                 "closed status to the board in ConnectWise)")

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
        response = await self._write(call, idempotent=False, what="ticket")
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
        response = await self._write(call, idempotent=False, what="note")
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
            response = await self._write(call, idempotent=call.method != "POST",
                                         what="note" if call.method == "POST" else "ticket")
        if response is None or not isinstance(response.body, dict):
            raise VendorError(self.vendor, "no answer to the close", retry_safe=True)
        return ticket_result(response.body, response.status)


# The next step for a 400 on a field, in CW's terms.
FIELD_HINTS = {
    "board": "choose a board this API member may use with `{connect} --setting board_id=<id>`",
    "status": "choose the closing status with `{connect} --setting closed_status=<name or id>`",
    "company": "the company is not in ConnectWise (deleted or merged there?): the next sync "
               "brings Vectis up to date",
    "contact": "the contact is not in ConnectWise (deleted or merged there?): the next sync "
               "brings Vectis up to date",
}


def invalid_object(what: str, body) -> VendorError:
    """CW's 400 `{code, message, errors: [{code, message, resource, field}]}` as a VendorError
    that says which fields were refused."""
    body = body if isinstance(body, dict) else {}
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    detail = "; ".join(f"{e.get('field') or e.get('resource') or '?'}: {e.get('message')}"
                       for e in errors)
    message = str(body.get("message") or f"{what} refused")
    fields = [str(e.get("field") or "").lower() for e in errors]
    hint = next((FIELD_HINTS[f] for f in fields if f in FIELD_HINTS), None)
    return VendorError("connectwise", f"{message} ({detail})" if detail else message,
                       status=400, retry_safe=True,
                       hint=hint or "correct the request; CW named the fields it refused")


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
