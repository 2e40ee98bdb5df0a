"""Autotask PSA simulator: `/ATServicesRest/V1.0/...` with the ApiIntegrationCode / UserName /
Secret headers, `POST /{Entity}/query` filters answered as `{items, pageDetails}` (at most 500
per page, `nextPageUrl` to follow with a POST of the same body; a GET there answers 405),
`{"item": ...}` for single reads (`{"item": null}` for an unknown id, as Autotask answers),
`{"itemId": n}` for writes, picklists under `/{Entity}/entityInformation/fields`, and Autotask's
`{"errors": [...]}` bodies (faults too). The vendor contract is `contract.json` beside this module.

Tests change entities as a technician would through `update`, `touch_ticket`, `add_note`,
`deactivate_company` and `delete_invoice`; every stamp comes from `clock`.

Also serves the unauthenticated zone look-up `GET /atservicesrest/v1.0/zoneInformation?user=`,
whose `url` points back at this simulator. The filter language and paging are `autotask_query`.
"""
from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..simkit import Simulator, continue_after

# The `as` aliases re-export names this module held before the query filter moved out.
from .query import MAX_RECORDS as MAX_RECORDS
from .query import OPS as OPS
from .query import matcher as matcher
from .query import page, page_size, read_search, select

ROOT = "/ATServicesRest/V1.0"
ZONE_PATH = "/atservicesrest/v1.0/zoneInformation"
COMPLETE = 5                       # the system "Complete" ticket status
API_RESOURCE_ID = 29682885         # the API user's resource id
ENTITIES = {"Companies": "companies", "Contacts": "contacts", "Tickets": "tickets",
            "TicketNotes": "notes", "ConfigurationItems": "configuration_items",
            "Contracts": "contracts", "Invoices": "invoices", "Resources": "resources"}
# The fields Autotask stamps when an entity changes (Invoices have none).
CHANGE_STAMPS = {"Companies": ("lastTrackedModifiedDateTime",), "Contacts": ("lastModifiedDate",),
                 "Tickets": ("lastTrackedModificationDateTime", "lastActivityDate"),
                 "TicketNotes": ("lastActivityDate",), "Contracts": ("lastModifiedDateTime",),
                 "ConfigurationItems": (), "Resources": (), "Invoices": ()}


def now_iso(moment: datetime | None = None) -> str:
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def at_error(status: int, *messages: str) -> web.Response:
    return web.json_response({"errors": list(messages)}, status=status)


def picklist(pairs: tuple, default: int | None = None) -> list[dict]:
    return [{"value": str(value), "label": label, "isDefaultValue": value == default,
             "sortOrder": order, "parentValue": "", "isActive": True, "isSystem": True}
            for order, (value, label) in enumerate(pairs)]


def field(name: str, data_type: str = "integer", *, required: bool = False, length: int = 0,
          values: list[dict] | None = None) -> dict:
    return {"name": name, "dataType": data_type, "length": length, "isRequired": required,
            "isReadOnly": name in ("id", "ticketNumber", "createDate", "createDateTime"),
            "isQueryable": True, "isReference": name.endswith("ID"), "referenceEntityType": "",
            "isPickList": values is not None, "picklistValues": values,
            "picklistParentValueField": "", "isSupportedWebhookField": False}


def default_fields() -> dict[str, list[dict]]:
    """The stock picklists of a new tenant (values are the system ones; labels can be renamed)."""
    return {"Tickets": [
        field("id", "long"), field("ticketNumber", "string", length=50),
        field("companyID", required=True), field("contactID"),
        field("title", "string", required=True, length=255),
        field("description", "string", length=8000),
        field("status", required=True, values=picklist(
            ((1, "New"), (5, "Complete"), (7, "Waiting Customer"), (8, "In Progress"),
             (9, "Waiting Materials"), (12, "Waiting Vendor")), default=1)),
        field("priority", required=True, values=picklist(
            ((1, "High"), (2, "Medium"), (3, "Low"), (4, "Critical")), default=2)),
        # The system "Client Portal" queue comes first by sortOrder (as in recorded tenants):
        # a connector that takes the first queue files every ticket there.
        field("queueID", values=picklist(((29683482, "Client Portal"), (8, "Post Sale"),
                                          (29682833, "Level I Support")), default=29682833)),
        field("createDate", "datetime"), field("completedDate", "datetime"),
        field("lastActivityDate", "datetime")],
        "TicketNotes": [
        field("id", "long"), field("ticketID", required=True),
        field("title", "string", required=True, length=250),
        field("description", "string", required=True, length=32000),
        # 2 = "Task Detail" as recorded (django-autotask fixtures, no default value flagged);
        # the other labels are unverified.
        field("noteType", required=True, values=picklist(
            ((1, "Task Summary"), (2, "Task Detail"), (3, "Task Notes")))),
        field("publish", required=True, values=picklist(
            ((1, "All Autotask Users"), (2, "Internal Project Team"),
             (4, "Internal & Co-Managed")), default=1)),
        field("createDateTime", "datetime"), field("lastActivityDate", "datetime")]}


class AutotaskSimulator(Simulator):
    vendor = "autotask"
    root = ROOT

    def __init__(self, username: str = "api-user@vectis-sim.example") -> None:
        self.credentials = {"username": username, "secret": secrets.token_urlsafe(12),
                            "integration_code": secrets.token_hex(12).upper()}
        self._ids = itertools.count(12801)
        self._numbers: dict[str, itertools.count] = {}
        # Every stamp the simulator writes comes from here; tests move it to make a change land
        # after a given moment without sleeping.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        for store in ENTITIES.values():
            setattr(self, store, {})   # id -> Autotask entity
        self.resources[API_RESOURCE_ID] = {"id": API_RESOURCE_ID, "firstName": "API",
                                           "lastName": "User", "email": username,
                                           "userName": username, "isActive": True}
        self.fields = default_fields()
        self.writes: list[dict] = []   # every accepted write, as received, for assertions
        self._notes_index: dict[int, list[dict]] = {}
        self._notes_index_size = -1
        super().__init__()

    # --- state ------------------------------------------------------------------------------
    def seed(self, *, companies=(), contacts=(), tickets=(), notes=(), configuration_items=(),
             contracts=(), invoices=(), resources=()) -> None:
        """Preload Autotask-shaped entities; missing ids (and ticket defaults, and the change
        stamps an entity carries) are filled in."""
        stamp = self.now()
        for entity, items in (("Companies", companies), ("Contacts", contacts),
                              ("ConfigurationItems", configuration_items),
                              ("Contracts", contracts), ("Invoices", invoices),
                              ("Resources", resources)):
            for item in items:
                item = {"id": item.get("id") or next(self._ids),
                        **dict.fromkeys(CHANGE_STAMPS[entity], item.get("createDate") or stamp),
                        **item}
                getattr(self, ENTITIES[entity])[item["id"]] = item
        for item in tickets:
            ticket = {"id": next(self._ids), "ticketNumber": self._number(), "status": 1,
                      "priority": 2, "description": "", "createDate": stamp,
                      "lastActivityDate": stamp, "completedDate": None, **item}
            ticket.setdefault("lastTrackedModificationDateTime", ticket["lastActivityDate"])
            self.tickets[ticket["id"]] = ticket
        for item in notes:
            note = {"id": next(self._ids), "noteType": 2, "publish": 1, "title": "",
                    "createDateTime": stamp, **item}
            note.setdefault("lastActivityDate", note["createDateTime"])
            self.notes[note["id"]] = note
        self._ids = continue_after(self._ids, [*self.companies, *self.contacts, *self.tickets, *self.notes,
                                      *self.contracts, *self.invoices])

    def state(self) -> dict:
        return {"tickets": list(self.tickets.values()), "notes": list(self.notes.values()),
                "writes": self.writes}

    def now(self) -> str:
        return now_iso(self.clock())

    # --- changes made at the vendor (as a technician in Autotask's own UI would) ------------
    def update(self, entity: str, item_id: int, **fields) -> dict:
        """Change fields of an entity (`Companies`, `Tickets`, ...); Autotask stamps the
        entity's change fields, as every edit does."""
        item = getattr(self, ENTITIES[entity])[item_id]
        item.update(fields)
        item.update(dict.fromkeys(CHANGE_STAMPS[entity], self.now()))
        return item

    def touch_ticket(self, ticket_id: int, **fields) -> dict:
        """Moving a ticket to or from Complete sets or clears its completion date."""
        ticket = self.update("Tickets", ticket_id, **fields)
        if "status" in fields:
            done = ticket["status"] == COMPLETE
            ticket.update(completedDate=self.now() if done else None,
                          resolvedDateTime=self.now() if done else None)
        return ticket

    def deactivate_company(self, company_id: int) -> dict:
        """Autotask cannot delete a company that has history: it is made inactive instead."""
        return self.update("Companies", company_id, isActive=False)

    def delete_invoice(self, invoice_id: int) -> None:
        del self.invoices[invoice_id]

    def add_note(self, ticket_id: int, text: str, *, internal: bool = False) -> dict:
        return self._store_note(self.tickets[ticket_id], {
            "title": text.splitlines()[0][:250], "description": text, "noteType": 2,
            "publish": 2 if internal else 1})

    def _number(self) -> str:
        """Ticket numbers are `T<yyyymmdd>.<4-digit daily sequence>`."""
        day = self.clock().astimezone(UTC).strftime("%Y%m%d")
        counter = self._numbers.setdefault(day, itertools.count(1))
        return f"T{day}.{next(counter):04d}"

    def _values(self, entity: str, name: str) -> set[int]:
        spec = next(f for f in self.fields[entity] if f["name"] == name)
        return {int(v["value"]) for v in spec["picklistValues"] if v["isActive"]}

    # --- serving ----------------------------------------------------------------------------
    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        """Autotask's `{"errors": ["..."]}` body; a thread-limit refusal names Itgenatr005."""
        if status == 429:
            message = "Thread Threshold Exceeded (Itgenatr005)"
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"errors": [message]}, status=status, headers=headers)

    def public_paths(self) -> tuple[str, ...]:
        return (r"(?i)/atservicesrest/v1\.0/zoneinformation",)

    async def authenticate(self, request: web.Request) -> web.Response | None:
        c, h = self.credentials, request.headers
        if (h.get("UserName"), h.get("Secret"), h.get("ApiIntegrationCode")) != (
                c["username"], c["secret"], c["integration_code"]):
            return at_error(401, "Unauthorized: the API user, secret or integration code is "
                                 "not valid.")
        return None

    def routes(self, router: web.UrlDispatcher) -> None:
        entity = "{entity:" + "|".join(ENTITIES) + "}"
        router.add_get(ZONE_PATH, self._zone)
        router.add_post(f"{ROOT}/{entity}/query", self._query)
        router.add_get(f"{ROOT}/{entity}/query", self._query)
        router.add_post(f"{ROOT}/{entity}/query/next", self._query)
        router.add_get(f"{ROOT}/{entity}/query/next", self._query)
        router.add_post(f"{ROOT}/{entity}/query/count", self._count)
        router.add_get(f"{ROOT}/{entity}/entityInformation/fields", self._fields)
        router.add_get(f"{ROOT}/{entity}/{{id:\\d+}}", self._get_item)
        router.add_post(f"{ROOT}/Tickets", self._create_ticket)
        router.add_patch(f"{ROOT}/Tickets", self._patch_ticket)
        router.add_post(f"{ROOT}/Tickets/{{id:\\d+}}/Notes", self._create_note)
        router.add_get(f"{ROOT}/Tickets/{{id:\\d+}}/Notes/{{note:\\d+}}", self._get_note)

    async def _zone(self, request: web.Request) -> web.Response:
        if request.query.get("user", "").lower() != self.credentials["username"].lower():
            # Autotask answers 500 for a blank or unknown user (django-autotask get_zone_info).
            return at_error(500, "Unable to find the user in any zone.")
        origin = f"{request.scheme}://{request.host}"
        return web.json_response({"zoneName": "Simulated Zone", "url": f"{origin}/ATServicesRest/",
                                  "webUrl": f"{origin}/", "ci": 1})

    def _store(self, request: web.Request) -> dict:
        return getattr(self, ENTITIES[request.match_info["entity"]])

    async def _get_item(self, request: web.Request) -> web.Response:
        # An unknown id is not a 404 at Autotask: the answer is 200 with a null item.
        return web.json_response({"item": self._store(request).get(int(request.match_info["id"]))})

    async def _fields(self, request: web.Request) -> web.Response:
        return web.json_response({"fields": self.fields.get(request.match_info["entity"], [])})

    def _select(self, request: web.Request, query: dict) -> list[dict]:
        store = self._store(request)
        rows: Iterable[dict] = store.values()
        if store is self.notes:
            tickets = _ticket_filter(query["filter"])
            if tickets is not None:
                rows = self._notes_of(tickets)
        return select(rows, query["filter"])

    def _notes_of(self, ticket_ids: Iterable) -> list[dict]:
        """The notes of some tickets, from an index by ticket rebuilt when notes come or go. Like
        Autotask's own index: a scan of every note for each page of a sync made a 50,000-ticket
        sync take hours (the filter still applies to what the index returns)."""
        if self._notes_index_size != len(self.notes):
            index: dict[int, list[dict]] = {}
            for note in self.notes.values():
                index.setdefault(_number(note.get("ticketID")), []).append(note)
            self._notes_index, self._notes_index_size = index, len(self.notes)
        return [note for ticket_id in dict.fromkeys(map(_number, ticket_ids)) if ticket_id is not None
                for note in self._notes_index.get(ticket_id, [])]

    async def _query(self, request: web.Request) -> web.Response:
        if request.method == "GET" and request.path.endswith("/next") and \
                "search" not in request.query:
            # The next page of a POST query carries no search: it must be POSTed with the body
            # (a public client records this 405 for a GET).
            return at_error(405, "The requested resource does not support http method 'GET'.")
        try:
            query, paging = await read_search(request)
            size = page_size(query, paging)
            rows = self._select(request, query)
        except (ValueError, TypeError) as exc:
            return at_error(400, str(exc))
        next_url = f"{request.scheme}://{request.host}{request.path.removesuffix('/next')}/next"
        return web.json_response(page(rows, query, paging, size, next_url,
                                      with_search=request.method == "GET"))

    async def _count(self, request: web.Request) -> web.Response:
        try:
            return web.json_response({"queryCount": len(self._select(
                request, (await read_search(request))[0]))})
        except (ValueError, TypeError) as exc:
            return at_error(400, str(exc))

    async def _body(self, request: web.Request) -> Any:
        try:
            body = await request.json()
        except ValueError:
            body = None
        self.writes.append({"method": request.method, "path": request.path, "body": body})
        return body

    def _check_ticket(self, body: dict, *, creating: bool) -> list[str]:
        errors = []
        if (creating or "companyID" in body) and body.get("companyID") not in self.companies:
            errors.append(f"companyID: no Company with id {body.get('companyID')!r}.")
        if creating or "title" in body:
            if not isinstance(body.get("title"), str) or not body["title"].strip():
                errors.append("Value is required for the field: title.")
            elif len(body["title"]) > 255:
                errors.append("title: the value exceeds the maximum length of 255.")
        if len(str(body.get("description") or "")) > 8000:
            errors.append("description: the value exceeds the maximum length of 8000.")
        for name in ("status", "priority", "queueID"):   # required on create, except the queue
            if ((creating and name != "queueID") or body.get(name) is not None) and \
                    body.get(name) not in self._values("Tickets", name):
                errors.append(f"{name}: {body.get(name)!r} is not a valid picklist value.")
        if body.get("contactID") is not None and self.contacts and \
                body["contactID"] not in self.contacts:
            errors.append(f"contactID: no Contact with id {body['contactID']!r}.")
        if creating and body.get("queueID") is None:
            if body.get("assignedResourceID") is None:
                errors.append("A ticket needs a queueID or a primary resource.")
            elif body.get("assignedResourceRoleID") is None:
                errors.append("When assigning a Resource, you must assign both a "
                              "assignedResourceID and assignedResourceRoleID.")
        return errors

    async def _create_ticket(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict):
            return at_error(400, "The request body must be a Ticket object.")
        if errors := self._check_ticket(body, creating=True):
            return at_error(400, *errors)
        stamp = self.now()
        ticket = {"ticketType": 1, "source": -1, "contactID": None, "assignedResourceID": None,
                  "assignedResourceRoleID": None, "dueDateTime": None, "userDefinedFields": [],
                  **{k: v for k, v in body.items() if k not in ("id", "ticketNumber")},
                  "id": next(self._ids), "ticketNumber": self._number(),
                  "description": body.get("description") or "", "createDate": stamp,
                  "lastActivityDate": stamp, "lastTrackedModificationDateTime": stamp,
                  "completedDate": None, "creatorResourceID": API_RESOURCE_ID}
        self.tickets[ticket["id"]] = ticket
        return web.json_response({"itemId": ticket["id"]})

    async def _patch_ticket(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict) or not isinstance(body.get("id"), int):
            return at_error(400, "PATCH needs the ticket's id in the body.")
        ticket = self.tickets.get(body["id"])
        if ticket is None:
            return at_error(404, f"Tickets {body['id']} was not found.")
        if errors := self._check_ticket(body, creating=False):
            return at_error(400, *errors)
        stamp, was_complete = self.now(), ticket["status"] == COMPLETE
        ticket.update({k: v for k, v in body.items()
                       if k not in ("id", "ticketNumber", "createDate")}, lastActivityDate=stamp,
                      lastTrackedModificationDateTime=stamp)
        if ticket["status"] == COMPLETE and not was_complete:
            ticket.update(completedDate=stamp, resolvedDateTime=stamp)
        elif ticket["status"] != COMPLETE:
            ticket.update(completedDate=None, resolvedDateTime=None)
        return web.json_response({"itemId": ticket["id"]})

    async def _create_note(self, request: web.Request) -> web.Response:
        ticket = self.tickets.get(int(request.match_info["id"]))
        body = await self._body(request)
        if ticket is None:
            return at_error(404, f"Tickets {request.match_info['id']} was not found.")
        if not isinstance(body, dict):
            return at_error(400, "The request body must be a TicketNote object.")
        errors = [f"Value is required for the field: {name}." for name in ("title", "description")
                  if not str(body.get(name) or "").strip()]
        for name, limit in (("title", 250), ("description", 32000)):
            if len(str(body.get(name) or "")) > limit:
                errors.append(f"{name}: the value exceeds the maximum length of {limit}.")
        for name in ("noteType", "publish"):
            if body.get(name) not in self._values("TicketNotes", name):
                errors.append(f"{name}: {body.get(name)!r} is not a valid picklist value.")
        if body.get("ticketID") not in (None, ticket["id"]):
            errors.append("ticketID does not match the parent ticket.")
        if errors:
            return at_error(400, *errors)
        note = self._store_note(ticket, {k: body[k] for k in ("title", "description", "noteType",
                                                             "publish")})
        return web.json_response({"itemId": note["id"]})

    def _store_note(self, ticket: dict, fields: dict) -> dict:
        """A note by the API user; it counts as activity on its ticket."""
        stamp = self.now()
        note = {"id": next(self._ids), "ticketID": ticket["id"], **fields,
                "createDateTime": stamp, "lastActivityDate": stamp,
                "creatorResourceID": API_RESOURCE_ID, "createdByContactID": None}
        self.notes[note["id"]] = note
        ticket["lastActivityDate"] = stamp
        return note

    async def _get_note(self, request: web.Request) -> web.Response:
        note = self.notes.get(int(request.match_info["note"]))
        if note is not None and note["ticketID"] != int(request.match_info["id"]):
            note = None
        return web.json_response({"item": note})


SIMULATOR = AutotaskSimulator


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _ticket_filter(conditions: list) -> list | None:
    """The ticket ids a top-level `ticketID` eq/in condition allows, or None (no such condition)."""
    for condition in conditions:
        if (isinstance(condition, dict) and str(condition.get("field", "")).lower() == "ticketid"
                and condition.get("op") in ("eq", "in")):
            value = condition.get("value")
            return list(value) if condition["op"] == "in" and isinstance(value, list) else [value]
    return None
