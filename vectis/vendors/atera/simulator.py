"""Atera simulator: API v3 under `/api/v3`, in memory.

Shapes follow Atera's published specs (contract.json): the API key in `X-API-KEY` (legacy) or
`Authorization: Bearer` (JWT keys), PascalCase records, `{items, totalItemCount, page,
itemsInPage, totalPages, prevLink, nextLink}` list envelopes paged by `page` / `itemsInPage`
(clamped to the endpoint's maximum: 50 for tickets, comments, alerts and contacts), ProblemDetails
error bodies (`application/problem+json`, `errors` for validation) for 4xx, none for 401 and 5xx,
`{ActionID: "<id>"}` (a string) answers to writes. `create_answer` picks what `POST /tickets`
answers, since neither spec says what ActionID holds for a create: "result" (the ticket id),
"action" (an id of something else, an action number), "null" (`{ActionID: null}`, the newer spec
allows it) or "empty" (201 without a body, the older spec). Comments need an existing `TechnicianId` (an e-mail alone is
refused). Alerts can be resolved (`PUT`, 204) and deleted (`DELETE`, 204) as the real API allows,
although Vectis offers neither (the public docs' matrix).

`GET /tickets/lastmodified?date=` lists the tickets modified since `date` (default: today). The
modification time is kept beside the ticket (the DTO has no such field): a seeded ticket was last
modified at its latest dated event, any write stamps it now. A deleted ticket stays, in status
"Deleted", out of the default ticket list. Tests change objects vendor-side with `touch_ticket`,
`delete_ticket`, `archive_contact`, `archive_alert` and `remove`.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime

from aiohttp import web

from ..simkit import Simulator
from .wire import (
    enum_problem,
    int_param,
    invalid,
    json_object,
    message,
    now_text,
    page,
    problem_body,
    utc_param,
)

ROOT = "/api/v3"
EDITABLE = ("TicketTitle", "TicketStatus", "TicketType", "TicketPriority", "TicketImpact",
            "TechnicianContactID", "TechnicianEmail")


class AteraSimulator(Simulator):
    vendor = "atera"
    request_log_prefix = ROOT
    root = ROOT

    def __init__(self) -> None:
        self.credentials = {"api_key": secrets.token_hex(16), "technician_id": "1",
                            "technician_email": "tech@msp.example"}
        self.create_answer = "result"                 # "result" | "action" | "null" | "empty"
        self.technicians: dict[int, dict] = {1: {"TechnicianContactID": 1, "Email": "tech@msp.example",
                                                 "FirstName": "Sam", "LastName": "Tech"}}
        self.customers: dict[int, dict] = {}
        self.contacts: dict[int, dict] = {}
        self.tickets: dict[int, dict] = {}
        self.comments: dict[int, list[dict]] = {}
        self.alerts: dict[int, dict] = {}
        self.agents: dict[int, dict] = {}
        self.contracts: dict[int, dict] = {}
        self.invoices: dict[int, dict] = {}
        self.modified: dict[int, datetime] = {}       # ticket id -> last modification (UTC)
        self._ids = {"ticket": 5000, "contact": 900, "comment": 0, "action": 0}
        super().__init__()

    # --- set-up -------------------------------------------------------------------------------
    def routes(self, router: web.UrlDispatcher) -> None:
        r, ticket, alert = ROOT, ROOT + r"/tickets/{id:\d+}", ROOT + r"/alerts/{id:\d+}"
        router.add_get(f"{r}/customers", self._lister("customers", 500))
        router.add_get(f"{r}/contacts", self.list_contacts)
        router.add_get(f"{r}/tickets", self.list_tickets)
        router.add_get(f"{r}/tickets/lastmodified", self.list_modified_tickets)
        router.add_post(f"{r}/tickets", self.create_ticket)
        router.add_get(ticket, self.get_ticket)
        router.add_put(ticket, self.update_ticket)
        router.add_post(ticket, self.update_ticket)       # Atera accepts POST for updates too
        router.add_get(ticket + "/comments", self.list_comments)
        router.add_post(ticket + "/comments", self.add_comment)
        router.add_get(f"{r}/alerts", self.list_alerts)
        router.add_get(alert, self.get_alert)
        router.add_put(alert, self.resolve_alert)
        router.add_delete(alert, self.delete_alert)
        router.add_get(f"{r}/agents", self._lister("agents", 500))
        router.add_get(f"{r}/contracts", self._lister("contracts", 500))
        router.add_get(f"{r}/billing/invoices", self._lister("invoices", 500))

    def seed(self, *, customers=(), contacts=(), tickets=(), comments=(), alerts=(), agents=(),
             contracts=(), invoices=(), technicians=()) -> None:
        """Plain Atera-shaped records (PascalCase, ids in `<Kind>ID`)."""
        for row in customers:
            self.customers[int(row["CustomerID"])] = dict(row)
        for row in contacts:
            self.contacts[int(row["EndUserID"])] = self._contact(dict(row))
        for row in tickets:
            ticket = {"TicketStatus": "Open", "TicketPriority": "Medium", "TicketType": "Incident",
                      "TicketCreatedDate": now_text(), **row}
            ticket.setdefault("TicketNumber", str(ticket["TicketID"]))
            self.tickets[int(ticket["TicketID"])] = ticket
            self.comments.setdefault(int(ticket["TicketID"]), [])
        for row in comments:                           # each names its TicketID
            row = dict(row)
            self.comments.setdefault(int(row.pop("TicketID")), []).append(row)
        for row in alerts:
            self.alerts[int(row["AlertID"])] = {"Archived": False, "ArchivedDate": None, **row}
        for row in agents:
            self.agents[int(row["AgentID"])] = dict(row)
        for row in contracts:
            self.contracts[int(row["ContractID"])] = dict(row)
        for row in invoices:
            self.invoices[int(row["InvoiceNumber"])] = dict(row)
        for row in technicians:
            self.technicians[int(row["TechnicianContactID"])] = dict(row)
        for ticket_id, ticket in self.tickets.items():
            if ticket_id not in self.modified:
                self.modified[ticket_id] = self._last_event(ticket)
        # New objects continue after the seeded ids, as the vendor's own numbering would.
        self._ids["ticket"] = max([self._ids["ticket"], *self.tickets])
        self._ids["contact"] = max([self._ids["contact"], *self.contacts])

    def state(self) -> dict:
        return {"customers": list(self.customers.values()), "contacts": list(self.contacts.values()),
                "tickets": list(self.tickets.values()),
                "comments": {str(k): v for k, v in self.comments.items()},
                "alerts": list(self.alerts.values()), "log": self.log}

    # --- vendor-side changes (tests) ------------------------------------------------------------
    def touch_ticket(self, ticket_id: int, **changes) -> dict:
        """Change a ticket as a technician would in Atera's UI (e.g. `TicketStatus="Closed"`)."""
        ticket = self.tickets[int(ticket_id)]
        ticket.update(changes)
        if "TicketStatus" in changes:
            self._status_changed(ticket)
        self.modified[int(ticket_id)] = datetime.now(UTC)
        return ticket

    def delete_ticket(self, ticket_id: int) -> None:
        self.touch_ticket(ticket_id, TicketStatus="Deleted")

    def archive_contact(self, contact_id: int) -> None:
        self.contacts[int(contact_id)]["Archived"] = True

    def archive_alert(self, alert_id: int) -> None:
        alert = self.alerts[int(alert_id)]
        alert.update(Archived=True, ArchivedDate=alert.get("ArchivedDate") or now_text())

    def remove(self, kind: str, vendor_id: int) -> None:
        """Delete a customer, agent, alert, contract or invoice (`kind` names the attribute)."""
        getattr(self, kind).pop(int(vendor_id))

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        key = request.headers.get("X-API-KEY", "")
        bearer = request.headers.get("Authorization", "")
        if not key and bearer.startswith("Bearer "):
            key = bearer[7:]
        if not hmac.compare_digest(key, self.credentials["api_key"]):
            return self.error_response(401, "Authorization has been denied for this request.")
        return None

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        """4xx as ProblemDetails, except 401 (undocumented: ASP.NET Core's default, no body);
        5xx without a body (both specs: 500 with no schema)."""
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        if status >= 500 or status == 401:
            return web.Response(status=status, headers=headers)
        return web.Response(text=problem_body(status, message), status=status, headers=headers,
                            content_type="application/problem+json")


    # --- lists --------------------------------------------------------------------------------
    def _lister(self, attr: str, limit: int):
        async def handler(request: web.Request) -> web.Response:
            return page(request, list(getattr(self, attr).values()), limit)
        return handler

    async def list_contacts(self, request: web.Request) -> web.Response:
        # `Email` is the newer spec's name, `searchOptions.email` the older one's.
        wanted = (request.query.get("Email") or request.query.get("searchOptions.email", "")).lower()
        rows = [c for c in self.contacts.values() if wanted in str(c.get("Email") or "").lower()]
        return page(request, rows, 50)

    async def list_tickets(self, request: web.Request) -> web.Response:
        q, rows = request.query, list(self.tickets.values())
        if q.get("customerId"):
            customer = int_param(q["customerId"])
            rows = [t for t in rows if t.get("CustomerID") == customer]
        wanted = str(q.get("ticketStatus") or "").lower()
        if wanted:
            rows = [t for t in rows if str(t.get("TicketStatus")).lower() == wanted]
        else:                       # deleted tickets are listed only when asked for
            rows = [t for t in rows if str(t.get("TicketStatus")).lower() != "deleted"]
        return page(request, rows, 50)

    async def list_modified_tickets(self, request: web.Request) -> web.Response:
        text = request.query.get("date")
        try:
            since = datetime.fromisoformat(text.replace("Z", "+00:00")) if text else \
                datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        except ValueError:
            return invalid("date", f"The value '{text}' is not valid.")
        since = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
        rows = [t for ticket_id, t in self.tickets.items() if self.modified.get(ticket_id, since) >= since]
        return page(request, rows, 50)

    async def get_ticket(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return message(404, f"Ticket {request.match_info['id']} was not found.")
        return web.json_response(ticket)

    async def list_comments(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        if ticket_id not in self.tickets:
            return message(404, f"Ticket {ticket_id} was not found.")
        return page(request, self.comments.get(ticket_id, []), 50)

    async def list_alerts(self, request: web.Request) -> web.Response:
        rows, status = list(self.alerts.values()), request.query.get("alertStatus")
        if status == "Open":
            rows = [a for a in rows if not a.get("Archived") and not a.get("SnoozedEndDate")]
        elif status == "Resolved":
            rows = [a for a in rows if a.get("Archived")]
        elif status == "Snoozed":
            rows = [a for a in rows if a.get("SnoozedEndDate") and not a.get("Archived")]
        elif status:
            return invalid("alertStatus", f"The value '{status}' is not valid.")
        return page(request, rows, 50)

    async def get_alert(self, request: web.Request) -> web.Response:
        alert = self.alerts.get(int(request.match_info["id"]))
        return web.json_response(alert) if alert else message(404, "Alert was not found.")

    # --- writes -------------------------------------------------------------------------------
    async def create_ticket(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        for field in ("TicketTitle", "Description"):
            if not str(body.get(field) or "").strip():
                return invalid(f"ticket.{field}", f"The {field} field is required.")
        problem = enum_problem(body)
        if problem is not None:
            return problem
        if body.get("EndUserID"):
            contact = self.contacts.get(int_param(body["EndUserID"]))
            if contact is None:
                return message(400, f"End user {body['EndUserID']} was not found.")
        elif body.get("EndUserEmail") and body.get("EndUserFirstName"):
            contact = self._contact_for(body)
            if contact is None:
                return message(400, "No customer matches the new end user's e-mail domain.")
        else:
            return message(400, "An end user is required: EndUserID, or EndUserFirstName, "
                                 "EndUserLastName and EndUserEmail.")
        self._ids["ticket"] += 1
        ticket_id, stamp = self._ids["ticket"], now_text()
        customer = self.customers.get(contact["CustomerID"], {})
        self.tickets[ticket_id] = {
            "TicketID": ticket_id, "TicketTitle": body["TicketTitle"], "TicketNumber": str(ticket_id),
            "TicketPriority": body.get("TicketPriority") or "Medium",
            "TicketImpact": body.get("TicketImpact") or "NoImpact",
            "TicketStatus": body.get("TicketStatus") or "Open", "TicketSource": "API",
            "TicketType": body.get("TicketType") or "Incident",
            "EndUserID": contact["EndUserID"], "EndUserEmail": contact.get("Email"),
            "EndUserFirstName": contact.get("Firstname"), "EndUserLastName": contact.get("Lastname"),
            "EndUserPhone": contact.get("Phone"), "TicketResolvedDate": None,
            "TicketCreatedDate": stamp, "FirstComment": body["Description"],
            "LastEndUserComment": body["Description"], "LastEndUserCommentTimestamp": stamp,
            "LastTechnicianComment": None, "LastTechnicianCommentTimestamp": None,
            "CustomerID": contact["CustomerID"], "CustomerName": customer.get("CustomerName"),
            "TechnicianContactID": body.get("TechnicianContactID"), "TechnicianEmail": body.get("TechnicianEmail"),
        }
        # The description is the end user's opening comment of the conversation.
        self.modified[ticket_id] = datetime.now(UTC)
        self.comments[ticket_id] = [{"Date": stamp, "Comment": body["Description"],
                                     "EndUserID": contact["EndUserID"], "TechnicianContactID": None,
                                     "Email": contact.get("Email"), "FirstName": contact.get("Firstname"),
                                     "LastName": contact.get("Lastname"), "IsInternal": False}]
        if self.create_answer == "empty":
            return web.Response(status=201)
        self._ids["action"] += 1
        action = {"null": None, "action": str(self._ids["action"])}.get(self.create_answer,
                                                                         str(ticket_id))
        return web.json_response({"ActionID": action}, status=201)

    async def update_ticket(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        if ticket is None:
            return message(404, f"Ticket {request.match_info['id']} was not found.")
        body = await json_object(request)
        problem = enum_problem(body)
        if problem is not None:
            return problem
        if "TicketStatus" in body and not str(body["TicketStatus"] or "").strip():
            return invalid("ticket.TicketStatus", "The TicketStatus field is invalid.")
        ticket.update({k: body[k] for k in EDITABLE if k in body})
        self._status_changed(ticket)
        self.modified[int(ticket["TicketID"])] = datetime.now(UTC)
        return web.json_response({"ActionID": str(ticket["TicketID"])})

    async def add_comment(self, request: web.Request) -> web.Response:
        ticket_id = int(request.match_info["id"])
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return message(404, f"Ticket {ticket_id} was not found.")
        body = await json_object(request)
        text = str(body.get("CommentText") or "")
        if not text.strip():
            return invalid("parameters.CommentText", "The CommentText field is required.")
        stamp = body.get("CommentTimestampUTC") or now_text()
        tech, user = body.get("TechnicianCommentDetails"), body.get("EnduserCommentDetails")
        if isinstance(tech, dict):
            if not int_param(tech.get("TechnicianId") or 0):
                return invalid("TechnicianCommentDetails.TechnicianId",
                               "An existing technician ID is required.")
            who = self._technician(tech)
            if who is None:
                return message(400, "Technician was not found.")
            comment = {"Date": stamp, "Comment": text, "EndUserID": None,
                       "TechnicianContactID": who["TechnicianContactID"], "Email": who.get("Email"),
                       "FirstName": who.get("FirstName"), "LastName": who.get("LastName"),
                       "IsInternal": bool(tech.get("IsInternal"))}
            ticket.update(LastTechnicianComment=text, LastTechnicianCommentTimestamp=stamp)
        elif isinstance(user, dict) and int_param(user.get("EnduserId") or 0) in self.contacts:
            contact = self.contacts[int_param(user["EnduserId"])]
            comment = {"Date": stamp, "Comment": text, "EndUserID": contact["EndUserID"],
                       "TechnicianContactID": None, "Email": contact.get("Email"),
                       "FirstName": contact.get("Firstname"), "LastName": contact.get("Lastname"),
                       "IsInternal": False}
            ticket.update(LastEndUserComment=text, LastEndUserCommentTimestamp=stamp)
        else:
            return message(400, "TechnicianCommentDetails or EnduserCommentDetails is required.")
        self.comments.setdefault(ticket_id, []).append(comment)
        self.modified[ticket_id] = datetime.now(UTC)
        self._ids["comment"] += 1
        return web.json_response({"ActionID": str(self._ids["comment"])}, status=201)

    async def resolve_alert(self, request: web.Request) -> web.Response:
        alert = self.alerts.get(int(request.match_info["id"]))
        if alert is None:
            return message(404, "Alert was not found.")
        alert.update(Archived=True, ArchivedDate=alert.get("ArchivedDate") or now_text())
        return web.Response(status=204)

    async def delete_alert(self, request: web.Request) -> web.Response:
        if self.alerts.pop(int(request.match_info["id"]), None) is None:
            return message(404, "Alert was not found.")
        return web.Response(status=204)

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _status_changed(ticket: dict) -> None:
        if str(ticket["TicketStatus"]).lower() in ("resolved", "closed"):
            ticket["TicketResolvedDate"] = ticket.get("TicketResolvedDate") or now_text()
        elif str(ticket["TicketStatus"]).lower() != "deleted":
            ticket["TicketResolvedDate"] = None

    def _last_event(self, ticket: dict) -> datetime:
        dates = [ticket.get("TicketCreatedDate"), ticket.get("TicketResolvedDate"),
                 *(c.get("Date") for c in self.comments.get(int(ticket["TicketID"]), ()))]
        return max((utc_param(d) for d in dates if d), default=datetime.now(UTC))

    def _contact(self, row: dict) -> dict:
        customer = self.customers.get(int(row.get("CustomerID") or 0), {})
        row.setdefault("CustomerName", customer.get("CustomerName"))
        row.setdefault("IsContactPerson", False)
        row.setdefault("Archived", False)
        row.setdefault("CreatedOn", now_text())
        return row

    def _contact_for(self, body: dict) -> dict | None:
        """An existing end user with that e-mail, else a new one under the customer whose
        domain matches the address."""
        email = str(body["EndUserEmail"]).strip()
        for contact in self.contacts.values():
            if str(contact.get("Email") or "").lower() == email.lower():
                return contact
        domain = email.rpartition("@")[2].lower()
        customer = next((c for c in self.customers.values()
                         if str(c.get("Domain") or "").lower() == domain), None)
        if customer is None:
            return None
        self._ids["contact"] += 1
        contact = self._contact({"EndUserID": self._ids["contact"], "CustomerID": customer["CustomerID"],
                                 "Firstname": body["EndUserFirstName"],
                                 "Lastname": body.get("EndUserLastName") or "", "Email": email})
        self.contacts[contact["EndUserID"]] = contact
        return contact

    def _technician(self, details: dict) -> dict | None:
        if details.get("TechnicianId"):
            return self.technicians.get(int_param(details["TechnicianId"]))
        email = str(details.get("TechnicianEmail") or "").lower()
        return next((t for t in self.technicians.values()
                     if email and str(t.get("Email") or "").lower() == email), None)


SIMULATOR = AteraSimulator
