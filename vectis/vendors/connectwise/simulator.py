"""ConnectWise Manage simulator: `/v4_6_release/apis/3.0/...` with Basic company+public:private
auth plus the `clientId` header, bare-array lists paged by page/pageSize with an RFC 5988 `Link`
header, the `conditions` query language, and CW's `{code, message, errors}` error bodies. Also
serves the unauthenticated `GET /login/companyinfo/{companyId}` codebase look-up. Conditions,
orderBy and paging are `connectwise_query`.

Tests change records as a technician would through `update`, `touch_ticket`, `add_note` and
`delete_company`, which stamp `_info.lastUpdated`; every stamp comes from `clock`.
"""
from __future__ import annotations

import base64
import itertools
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..simkit import Simulator, continue_after

# The `as` aliases re-export names this module held before the query language moved out.
from .query import DEFAULT_PAGE_SIZE as DEFAULT_PAGE_SIZE
from .query import MAX_PAGE_SIZE as MAX_PAGE_SIZE
from .query import lookup as lookup
from .query import paginate, select
from .query import parse_conditions as parse_conditions
from .query import parse_dt as parse_dt

ROOT = "/v4_6_release/apis/3.0"
CODEBASE = "v4_6_release/"
API_MEMBER = {"id": 190, "identifier": "APIMember", "name": "API Member"}


def now_iso(moment: datetime | None = None) -> str:
    """CW's date format: whole seconds, `Z`."""
    return (moment or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cw_error(status: int, code: str, message: str, errors: list | None = None) -> web.Response:
    return web.json_response({"code": code, "message": message, **({"errors": errors} if errors
                                                                  else {})}, status=status)


def invalid(resource: str, errors: list[dict]) -> web.Response:
    errors = [{**error, "resource": resource} for error in errors]
    return cw_error(400, "InvalidObject", f"{resource} object is invalid", errors)


class ConnectWiseSimulator(Simulator):
    vendor = "connectwise"
    root = ROOT

    def __init__(self, company_id: str = "vectis_sim") -> None:
        self.credentials = {"company_id": company_id, "public_key": secrets.token_hex(8),
                            "private_key": secrets.token_hex(8), "client_id": str(uuid.uuid4())}
        self._ids = itertools.count(1001)
        # Every stamp the simulator writes comes from here; tests move it to make a change land
        # after a given moment without sleeping.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.companies, self.contacts, self.configurations = {}, {}, {}  # id -> CW object
        self.agreements, self.invoices, self.tickets = {}, {}, {}
        self.notes: dict[int, list[dict]] = {}                           # ticket id -> notes
        self.writes: list[dict] = []      # every accepted write, as received, for assertions
        # Real default priorities: ids are not in urgency order, so connectors must map by name.
        self.priorities = {p["id"]: p for p in (
            {"id": 4, "name": "Priority 1 - Emergency Response", "sortOrder": 1},
            {"id": 15, "name": "Priority 2 - Quick Response", "sortOrder": 2},
            {"id": 8, "name": "Priority 3 - Normal Response", "sortOrder": 3, "defaultFlag": True},
            {"id": 7, "name": "Priority 4 - Schedule Maintenance", "sortOrder": 4},
            {"id": 16, "name": "Do Not Respond", "sortOrder": 5})}
        # A project board with the lowest id, and a service board whose lowest-id closed status
        # is "Cancelled": connectors must choose the board and the closing status by meaning,
        # never by id order.
        self.boards = {1: {"id": 1, "name": "Projects", "inactiveFlag": False,
                           "projectFlag": True},
                       2: {"id": 2, "name": "Help Desk", "inactiveFlag": False,
                           "projectFlag": False}}
        self.statuses = {
            1: [board_status(1, "New", 0, "NotResponded", defaultFlag=True),
                board_status(2, "Closed", 1, "Resolved", closedStatus=True)],
            2: [board_status(10, "Cancelled", 6, "NoEscalation", closedStatus=True),
                board_status(11, "New", 0, "NotResponded", defaultFlag=True),
                board_status(12, "In Progress", 1, "Responded"),
                board_status(13, "Waiting Customer", 2, "Responded"),
                # an inactive closed status: connectors must skip it
                board_status(14, "Closed (old)", 4, "Resolved", closedStatus=True, inactive=True),
                board_status(15, "Closed", 5, "Resolved", closedStatus=True)]}
        super().__init__()

    # --- state ------------------------------------------------------------------------------
    def seed(self, *, companies=(), contacts=(), boards=(), statuses=None, priorities=(),
             tickets=(), notes=(), configurations=(), agreements=(), invoices=()) -> None:
        """Preload CW-shaped objects; missing ids are assigned. `statuses` = {boardId: [...]}"""
        stamp = self.now()
        for store, items in ((self.companies, companies), (self.contacts, contacts),
                             (self.boards, boards), (self.priorities, priorities),
                             (self.configurations, configurations),
                             (self.agreements, agreements), (self.invoices, invoices)):
            for item in items:
                item = {"id": item.get("id") or next(self._ids), **item}
                if store is not self.boards and store is not self.priorities:
                    # Every CW record carries `_info`, which `lastUpdated` conditions read.
                    item.setdefault("_info", {"dateEntered": stamp, "enteredBy": "Vectis",
                                              "lastUpdated": stamp, "updatedBy": "Vectis"})
                if store is self.boards:
                    # CW answers every board field; these are the ones connectors filter on.
                    item = {"inactiveFlag": False, "projectFlag": False, **item}
                store[item["id"]] = item
        for board_id, board_statuses in (statuses or {}).items():
            self.statuses[int(board_id)] = [
                {"sortOrder": n, "inactive": False, "closedStatus": False, **s}
                for n, s in enumerate(board_statuses)]
        for item in tickets:
            self._fill_ticket(dict(item))
        for item in notes:
            note = {"id": next(self._ids), "dateCreated": stamp, "internalAnalysisFlag": False,
                    "detailDescriptionFlag": False, "resolutionFlag": False, **item}
            self.notes.setdefault(int(note["ticketId"]), []).append(note)
        self._ids = continue_after(self._ids, [*self.companies, *self.contacts, *self.tickets,
                                      *(n["id"] for ns in self.notes.values() for n in ns)])

    def state(self) -> dict:
        return {"tickets": list(self.tickets.values()), "notes": self.notes, "writes": self.writes}

    def now(self) -> str:
        return now_iso(self.clock())

    # --- changes made at the vendor (as a technician in CW's own UI would) -------------------
    def update(self, kind: str, object_id: int, **fields) -> dict:
        """Change fields of a company, contact, agreement, invoice, configuration or ticket;
        CW stamps `_info.lastUpdated`, as every edit does."""
        store = {"companies": self.companies, "contacts": self.contacts,
                 "agreements": self.agreements, "invoices": self.invoices,
                 "configurations": self.configurations, "tickets": self.tickets}[kind]
        item = store[object_id]
        item.update(fields)
        item.setdefault("_info", {"dateEntered": self.now()}).update(lastUpdated=self.now(),
                                                                      updatedBy="Vectis")
        return item

    def touch_ticket(self, ticket_id: int, *, status: str | None = None, **fields) -> dict:
        """`status` names a status of the ticket's board; a closed status closes the ticket."""
        ticket = self.tickets[ticket_id]
        if status is not None:
            found = next(s for s in self.statuses[ticket["board"]["id"]]
                         if s["name"].lower() == status.lower() and not s.get("inactive"))
            closed = bool(found.get("closedStatus"))
            fields.update(status=_ref(found), closedFlag=closed,
                          closedDate=self.now() if closed else None)
        return self.update("tickets", ticket_id, **fields)

    def delete_company(self, company_id: int) -> dict:
        """CW keeps a deleted company, flagged, so integrations can see it went."""
        return self.update("companies", company_id, deletedFlag=True)

    def add_note(self, ticket_id: int, text: str, *, internal: bool = False) -> dict:
        flag = "internalAnalysisFlag" if internal else "detailDescriptionFlag"
        return self._add_note(self.tickets[ticket_id], {"text": text, flag: True})

    def _fill_ticket(self, ticket: dict) -> dict:
        """Complete a ticket the way CW stores it, and store it."""
        ticket.setdefault("id", next(self._ids))
        self.tickets[ticket["id"]] = ticket
        board = self.boards[ticket.get("board", {}).get("id") or self.service_board()]
        status = self._status(board["id"], ticket.get("status", {}).get("id")) or \
            next(s for s in self.statuses[board["id"]] if s.get("defaultFlag"))
        stamp = self.now()
        ticket.update(recordType="ServiceTicket", board=_ref(board), status=_ref(status))
        ticket.setdefault("priority", _ref(next(
            (p for p in self.priorities.values() if p.get("defaultFlag")), {}), "sort"))
        ticket.setdefault("closedFlag", bool(status.get("closedStatus")))
        ticket.setdefault("_info", {"dateEntered": stamp, "enteredBy": "APIMember",
                                    "lastUpdated": stamp, "updatedBy": "APIMember"})
        return ticket

    def service_board(self) -> int:
        """The lowest-id active board that is not a project board."""
        return min(i for i, b in self.boards.items()
                   if not b.get("projectFlag") and not b.get("inactiveFlag"))

    def _status(self, board_id: int, status_id: Any) -> dict | None:
        return next((s for s in self.statuses.get(board_id, []) if s["id"] == status_id), None)

    # --- serving ----------------------------------------------------------------------------
    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        """CW's error body `{code, message}` (swagger `Error`); the codes other than
        InvalidObject are not published, so they name the HTTP status."""
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"code": ERROR_CODES.get(status, "Error"), "message": message},
                                 status=status, headers=headers)

    def public_paths(self) -> tuple[str, ...]:
        return (r"/login/companyinfo/[^/]+",)

    async def authenticate(self, request: web.Request) -> web.Response | None:
        c = self.credentials
        expected = base64.b64encode(
            f"{c['company_id']}+{c['public_key']}:{c['private_key']}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return cw_error(401, "Unauthorized", "Authentication failed.")
        if request.headers.get("clientId") != c["client_id"]:
            return cw_error(401, "Unauthorized", "A valid clientId header is required.")
        return None

    def routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/login/companyinfo/{company}", self._companyinfo)
        lists = {"/company/companies": (self.companies, "Company"),
                 "/company/contacts": (self.contacts, "Contact"),
                 "/company/configurations": (self.configurations, "Configuration"),
                 "/finance/agreements": (self.agreements, "Agreement"),
                 "/finance/invoices": (self.invoices, "Invoice"),
                 "/service/boards": (self.boards, "Board"),
                 "/service/priorities": (self.priorities, "Priority")}
        for path, (store, name) in lists.items():
            router.add_get(ROOT + path, self._lister(store))
            router.add_get(ROOT + path + "/{id:\\d+}", self._getter(store, name))
        router.add_get(ROOT + "/service/boards/{id:\\d+}/statuses", self._board_statuses)
        router.add_get(ROOT + "/service/tickets", self._lister(self.tickets))
        router.add_post(ROOT + "/service/tickets", self._create_ticket)
        router.add_get(ROOT + "/service/tickets/{id:\\d+}", self._getter(self.tickets, "Ticket"))
        router.add_patch(ROOT + "/service/tickets/{id:\\d+}", self._patch_ticket)
        router.add_get(ROOT + "/service/tickets/{id:\\d+}/notes", self._list_notes)
        router.add_post(ROOT + "/service/tickets/{id:\\d+}/notes", self._create_note)

    async def _companyinfo(self, request: web.Request) -> web.Response:
        if request.match_info["company"].lower() != self.credentials["company_id"].lower():
            return cw_error(404, "NotFound", "Company not found")
        return web.json_response({"CompanyName": "Vectis Simulated MSP", "Codebase": CODEBASE,
                                  "VersionCode": "v2025.1", "CompanyID": self.credentials[
                                      "company_id"], "IsCloud": True, "SiteUrl": request.host})

    def _page(self, request: web.Request, items: list[dict]) -> web.Response:
        """Filter by `conditions`, sort by `orderBy`, answer one page as a bare array with
        first/prev/next/last in `Link`."""
        try:
            items, page, size = select(request.query, items)
        except ValueError as exc:
            return cw_error(400, "InvalidObject", f"Invalid request: {exc}")
        rows, headers = paginate(request.query, request.url, items, page, size)
        return web.json_response(rows, headers=headers)

    def _lister(self, store: dict):
        async def handler(request: web.Request) -> web.Response:
            return self._page(request, list(store.values()))
        return handler

    def _getter(self, store: dict, name: str):
        async def handler(request: web.Request) -> web.Response:
            item = store.get(int(request.match_info["id"]))
            if item is None:
                return cw_error(404, "NotFound", f"{name} {request.match_info['id']} not found")
            return web.json_response(item)
        return handler

    async def _board_statuses(self, request: web.Request) -> web.Response:
        board_id = int(request.match_info["id"])
        if board_id not in self.boards:
            return cw_error(404, "NotFound", f"Board {board_id} not found")
        return self._page(request, [{**s, "board": _ref(self.boards[board_id])}
                                    for s in self.statuses.get(board_id, [])])

    async def _body(self, request: web.Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.writes.append({"method": request.method, "path": request.path, "body": body})
        return body

    async def _create_ticket(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            return invalid("ticket", [_e("ticket", "The ticket object is null.", "NullObject")])
        errors, refs, summary = [], {}, body.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors.append(_e("summary", "The summary field is required.", "NullObject"))
        elif len(summary) > 100:
            errors.append(_e("summary", "summary cannot be longer than 100 characters."))
        for field, store in (("company", self.companies), ("board", self.boards),
                             ("priority", self.priorities), ("contact", self.contacts)):
            ref = body.get(field)
            if ref is None:       # board, priority and contact fall back to the defaults
                if field == "company":
                    errors.append(_e(field, "The company field is required.", "NullObject"))
                continue
            refs[field] = store.get(ref.get("id")) if isinstance(ref, dict) else None
            if refs[field] is None:
                errors.append(_e(field, f"{field.capitalize()} not found."))
        board_id = (refs.get("board") or {}).get("id") or self.service_board()
        if body.get("status") and self._status(board_id, body["status"].get("id")) is None:
            errors.append(_e("status", "Status is not valid for this board."))
        if errors:
            return invalid("ticket", errors)
        ticket = {"summary": summary, "company": _ref(refs["company"], "identifier"),
                  "board": {"id": board_id}, "status": body.get("status") or {},
                  "severity": body.get("severity", "Medium"), "impact": body.get("impact", "Medium")}
        if "priority" in refs:
            ticket["priority"] = _ref(refs["priority"], "sort")
        if "contact" in refs:
            ticket["contact"] = _ref(refs["contact"])
        ticket.update({f: body[f] for f in ("contactName", "contactEmailAddress") if body.get(f)})
        ticket = self._fill_ticket(ticket)
        # CW stores the initial texts as the ticket's first notes.
        for field, flag in (("initialDescription", "detailDescriptionFlag"),
                            ("initialInternalAnalysis", "internalAnalysisFlag")):
            if body.get(field):
                self._add_note(ticket, {"text": body[field], flag: True})
        return web.json_response(ticket, status=201)

    async def _patch_ticket(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        body = await self._body(request)
        if ticket is None:
            return cw_error(404, "NotFound", f"Ticket {request.match_info['id']} not found")
        if not isinstance(body, list) or not all(isinstance(op, dict) for op in body):
            return invalid("ticket", [_e("patch", "Expected a JSON Patch array.")])
        for op in body:
            path, value = str(op.get("path", "")).strip("/").lower(), op.get("value")
            if op.get("op") not in ("replace", "add") or path not in ("status/id", "summary"):
                return invalid("ticket", [_e(path, f"Unsupported patch {op.get('op')} {path}")])
            if path == "status/id":
                status = self._status(ticket["board"]["id"], value)
                if status is None:
                    return invalid("ticket", [_e("status", "Status is not valid for this board.")])
                closed = bool(status.get("closedStatus"))
                ticket.update(status=_ref(status), closedFlag=closed,
                              closedDate=self.now() if closed else None,
                              closedBy=API_MEMBER["identifier"] if closed else None)
            else:
                ticket["summary"] = value
        ticket["_info"]["lastUpdated"] = self.now()
        return web.json_response(ticket)

    async def _list_notes(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self.tickets:
            return cw_error(404, "NotFound", f"Ticket {ticket_id} not found")
        return self._page(request, self.notes.get(ticket_id, []))

    async def _create_note(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        body = await self._body(request)
        if ticket is None:
            return cw_error(404, "NotFound", f"Ticket {request.match_info['id']} not found")
        if not isinstance(body, dict) or not str(body.get("text") or "").strip():
            return invalid("note", [_e("text", "The text field is required.", "NullObject")])
        if not any(body.get(f) for f in ("detailDescriptionFlag", "internalAnalysisFlag",
                                         "resolutionFlag")):
            return invalid("note", [_e("flags", "A note needs a Discussion, Internal or "
                                                "Resolution flag.")])
        return web.json_response(self._add_note(ticket, body), status=201)

    def _add_note(self, ticket: dict, body: dict) -> dict:
        stamp = self.now()
        flags = ("detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag", "issueFlag",
                 "customerUpdatedFlag", "processNotifications")
        note = {"id": next(self._ids), "ticketId": ticket["id"], "text": body["text"],
                **{f: bool(body.get(f)) for f in flags},
                "internalFlag": bool(body.get("internalAnalysisFlag")),
                "externalFlag": bool(body.get("detailDescriptionFlag") or body.get("resolutionFlag")),
                "member": API_MEMBER, "dateCreated": stamp, "createdBy": API_MEMBER["identifier"],
                "_info": {"lastUpdated": stamp, "updatedBy": API_MEMBER["identifier"]}}
        if isinstance(body.get("contact"), dict):
            note["contact"] = body["contact"]
        self.notes.setdefault(ticket["id"], []).append(note)
        ticket["_info"]["lastUpdated"] = stamp
        return note


ERROR_CODES = {400: "InvalidObject", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               405: "MethodNotAllowed", 409: "Conflict", 429: "TooManyRequests",
               500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
               504: "GatewayTimeout"}


def board_status(status_id: int, name: str, order: int, escalation: str, **flags) -> dict:
    """A board status as CW answers it."""
    return {"id": status_id, "name": name, "sortOrder": order, "escalationStatus": escalation,
            "closedStatus": False, "inactive": False, "defaultFlag": False,
            "displayOnBoard": True, "timeEntryNotAllowed": False, **flags}


def _e(field: str, message: str, code: str = "InvalidObject") -> dict:
    return {"code": code, "message": message, "field": field}


def _ref(obj: dict, *extra: str) -> dict:
    """The `{id, name, ...}` reference CW embeds for a linked object."""
    return {k: obj[k] for k in ("id", "name", *extra) if k in obj} | (
        {"sort": obj["sortOrder"]} if "sort" in extra and "sortOrder" in obj else {})


SIMULATOR = ConnectWiseSimulator

