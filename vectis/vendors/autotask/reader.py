"""The read side of Autotask PSA for the sync engine (contract: vectis/sync/records.py).

Pages are `POST /{Entity}/query` (at most 500 rows) followed by POSTing the same query body to
each `nextPageUrl` (Autotask answers a GET there with 405 after a POST query). Incremental
entities filter on the stamps Autotask keeps, `gte` the floored `since` (filter values carry whole
seconds; the boundary second is read again rather than missed):
- Companies: lastActivityDate or lastTrackedModifiedDateTime;
- Contacts: lastActivityDate or lastModifiedDate;
- Tickets: lastActivityDate (a new note sets it) or lastTrackedModificationDateTime;
- Contracts: lastModifiedDateTime.
Invoices have no change stamp: a snapshot.

Autotask deletes almost nothing: a company or contact that is gone is made inactive, and comes
back as `deleted=True`. A company of type Cancellation is a former customer rather than a removed
record: it stays, with status churned.

A ticket page brings its notes (`TicketNotes` whose ticketID is in the page) and the contacts and
resources it names (requester, assignee, note authors), each in one `in` query per page.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import parse_qsl, urlsplit

from ...sync.records import Record
from ..base import VendorCall, floor_second, vendor_time
from ..errors import VendorError
from .formats import DEFAULT_PRIORITY, PRIORITY_WORDS, at_time

CHANGE_STAMPS = {"customers": ("lastActivityDate", "lastTrackedModifiedDateTime"),
                 "contacts": ("lastActivityDate", "lastModifiedDate"),
                 "tickets": ("lastActivityDate", "lastTrackedModificationDateTime"),
                 "contracts": ("lastModifiedDateTime",), "invoices": ()}
ENTITY_PATHS = {"customers": "/Companies", "contacts": "/Contacts", "tickets": "/Tickets",
                "contracts": "/Contracts", "invoices": "/Invoices"}
MAX_IN = 500                     # Autotask's limit on the values of one condition
PUBLISH_ALL = 1                  # "All Autotask Users": the note is customer-visible
# companyType picklist (system values): 1 Customer, 2 Lead, 3 Prospect, 4 Dead, 5 Vendor,
# 6 Cancellation, 7 Partner.
CANCELLATION = 6
COMPANY_STATUS = {2: "prospect", 3: "prospect", 4: "churned", CANCELLATION: "churned"}
# contractType picklist: 1 Time & Materials, 3 Fixed Price, 4 Block Hours, 6 Per Ticket,
# 7 Recurring Service, 8 Retainer.
CONTRACT_KIND = {1: "project", 3: "project", 4: "block_hours", 6: "block_hours",
                 7: "managed_services", 8: "block_hours"}


class AutotaskReader:
    """Mixin for AutotaskConnector: `read(entity, since)` as the sync engine expects."""

    sync_page_size: ClassVar[int] = 500        # Autotask's maximum maxRecords

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        if entity not in ENTITY_PATHS:
            raise ValueError(f"Autotask has no {entity} to sync")
        filters = changed_since(CHANGE_STAMPS[entity], since)
        now = datetime.now(UTC)
        if entity == "tickets":
            async for page in self._ticket_pages(filters):
                yield page
            return
        mapper = {"customers": company_record, "contacts": contact_record,
                  "contracts": contract_record, "invoices": invoice_record}[entity]
        async for rows in self._pages(ENTITY_PATHS[entity], filters):
            yield [mapper(row, now) for row in rows]

    async def _pages(self, entity_path: str, filters: list[dict],
                     size: int | None = None) -> AsyncIterator[list[dict]]:
        body = {"filter": filters, "maxRecords": size or self.sync_page_size}
        call = VendorCall("POST", f"{entity_path}/query", body)
        while True:
            # A query POST changes nothing, so it may be retried like a GET.
            answer = (await self.send(call, idempotent=True)).body
            if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
                raise VendorError("autotask", f"unexpected answer to {call.path}", retry_safe=True)
            if answer["items"]:
                yield answer["items"]
            next_url = (answer.get("pageDetails") or {}).get("nextPageUrl")
            if not next_url or not answer["items"]:
                return
            call = self._next_page(next_url, body)

    def _next_page(self, url: str, body: dict) -> VendorCall:
        """A `nextPageUrl` (kept as given, query string included) relative to the base URL, to
        POST with the first request's body, as public clients do (Autotask varies the path's
        case)."""
        parts, base = urlsplit(url), urlsplit(self.base_url)
        if not parts.path.lower().startswith(base.path.lower()):
            raise VendorError("autotask", "nextPageUrl outside the API root", retry_safe=True)
        return VendorCall("POST", parts.path[len(base.path):], body,
                          params=dict(parse_qsl(parts.query)))

    async def _by_id(self, entity_path: str, ids: Iterable, known: dict[int, dict | None]) -> None:
        """Fill `known` with the rows of `ids` not looked up yet (None for ids that are gone)."""
        wanted = sorted({int(i) for i in ids if i is not None} - set(known))
        for start in range(0, len(wanted), MAX_IN):
            chunk = wanted[start:start + MAX_IN]
            known.update(dict.fromkeys(chunk))
            async for rows in self._pages(entity_path, [{"op": "in", "field": "id", "value": chunk}]):
                known.update({int(row["id"]): row for row in rows})

    async def _ticket_pages(self, filters: list[dict]) -> AsyncIterator[list[Record]]:
        await self.picklist("Tickets", "status")           # labels for canonical_status
        priorities = {int(v["value"]): priority_of(str(v.get("label", "")), int(v["value"]))
                      for v in await self.picklist("Tickets", "priority")}
        contacts: dict[int, dict | None] = {}
        resources: dict[int, dict | None] = {}
        async for tickets in self._pages("/Tickets", filters):
            notes: dict[int, list[dict]] = {}
            ids = [int(t["id"]) for t in tickets]
            async for rows in self._pages("/TicketNotes", [{"op": "in", "field": "ticketID",
                                                            "value": ids}]):
                for note in rows:
                    notes.setdefault(int(note["ticketID"]), []).append(note)
            thread = [n for ns in notes.values() for n in ns]
            await self._by_id("/Contacts", [t.get("contactID") for t in tickets]
                              + [n.get("createdByContactID") for n in thread], contacts)
            await self._by_id("/Resources", [t.get("assignedResourceID") for t in tickets]
                              + [n.get("creatorResourceID") for n in thread], resources)
            yield [self._ticket_record(t, notes.get(int(t["id"]), []), priorities, contacts,
                                       resources) for t in tickets]

    def _ticket_record(self, ticket: dict, notes: list[dict], priorities: dict[int, str],
                       contacts: dict, resources: dict) -> Record:
        status = self.canonical_status(ticket.get("status"))
        contact = contacts.get(ticket.get("contactID")) if ticket.get("contactID") else None
        assignee = resources.get(ticket.get("assignedResourceID")) \
            if ticket.get("assignedResourceID") else None
        stamps = [vendor_time(ticket.get(f)) for f in CHANGE_STAMPS["tickets"]]
        fields = {
            "number": ticket.get("ticketNumber"), "subject": ticket.get("title"),
            "description": ticket.get("description") or "", "status": status,
            "priority": priorities.get(ticket.get("priority"))
            or priority_of("", ticket.get("priority")),
            "assignee": person(assignee),
            "created_at": vendor_time(ticket.get("createDate")),
            "updated_at": max((s for s in stamps if s), default=None),
            "closed_at": vendor_time(ticket.get("completedDate"))
            if status in ("resolved", "closed") else None}
        if contact is not None:
            fields["requester"] = person(contact)
        links = {"customer": str(ticket["companyID"])} if ticket.get("companyID") else {}
        if ticket.get("contactID"):
            links["contact"] = str(ticket["contactID"])
        notes = sorted(notes, key=lambda n: (vendor_time(n.get("createDateTime"))
                                             or datetime.min.replace(tzinfo=UTC), n["id"]))
        return Record(str(ticket["id"]), fields, links=links,
                      children=[note_record(n, contacts, resources) for n in notes])


# --- mapping: Autotask row -> Record ---------------------------------------------------------
def changed_since(stamps: tuple[str, ...], since: datetime | None) -> list[dict]:
    """The query filter: everything (a query needs one condition), or rows stamped since."""
    if since is None or not stamps:
        return [{"op": "gte", "field": "id", "value": 0}]
    value = at_time(floor_second(since))
    conditions = [{"op": "gte", "field": stamp, "value": value} for stamp in stamps]
    return conditions if len(conditions) == 1 else [{"op": "or", "items": conditions}]


def priority_of(label: str, value) -> str:
    label = label.lower()
    for canonical, words in PRIORITY_WORDS.items():
        if any(word in label for word in words):
            return canonical
    stock = {v: k for k, v in DEFAULT_PRIORITY.items()}
    return stock.get(value, "medium")


def person(row: dict | None) -> dict | None:
    """{name, email} of a contact or resource row."""
    if row is None:
        return None
    name = " ".join(p for p in (row.get("firstName"), row.get("lastName")) if p)
    email = row.get("emailAddress") or row.get("email")
    return {"name": name, "email": email.lower() if email else None}


def note_record(note: dict, contacts: dict, resources: dict) -> Record:
    fields = {"body": note.get("description") or "",
              "is_internal": note.get("publish") != PUBLISH_ALL,
              "created_at": vendor_time(note.get("createDateTime"))}
    # Autotask names a note's author by contact or resource id; a note with neither says
    # nothing about its author, so none is given.
    if (contact := contacts.get(note.get("createdByContactID"))) is not None:
        fields["author"] = {"kind": "contact", **person(contact)}
    elif (resource := resources.get(note.get("creatorResourceID"))) is not None:
        fields["author"] = {"kind": "user", **person(resource)}
    return Record(str(note["id"]), fields)


def company_record(company: dict, now: datetime | None = None) -> Record:
    kind = company.get("companyType")
    active = company.get("isActive") not in (False, 0, None)
    status = COMPANY_STATUS.get(kind, "active") if active else "churned"
    address = {"street": company.get("address1"), "city": company.get("city"),
               "state": company.get("state"), "postal_code": company.get("postalCode")}
    return Record(str(company["id"]), {"name": company.get("companyName"), "status": status,
                                       "address": address},
                  deleted=not active and kind != CANCELLATION)


def contact_record(contact: dict, now: datetime | None = None) -> Record:
    who = person(contact) or {}
    return Record(str(contact["id"]), {
        **who, "phone": contact.get("phone") or contact.get("mobilePhone"),
        "title": contact.get("title"), "is_primary": bool(contact.get("primaryContact"))},
        links={"customer": str(contact["companyID"])} if contact.get("companyID") else {},
        deleted=contact.get("isActive") in (False, 0))


def contract_record(contract: dict, now: datetime | None = None) -> Record:
    now = now or datetime.now(UTC)
    start, end = vendor_time(contract.get("startDate")), vendor_time(contract.get("endDate"))
    # Autotask keeps only active (1) or inactive (0); the dates say which kind of inactive.
    if contract.get("status") == 1:
        status = "active"
    elif start is not None and start > now:
        status = "pending"
    elif end is not None and end <= now:
        status = "expired"
    else:
        status = "cancelled"
    return Record(str(contract["id"]), {
        "name": contract.get("contractName"),
        "kind": CONTRACT_KIND.get(contract.get("contractType"), "managed_services"),
        "status": status, "start_date": start, "end_date": end},
        links={"customer": str(contract["companyID"])} if contract.get("companyID") else {})


def invoice_record(invoice: dict, now: datetime | None = None) -> Record:
    total, due = float(invoice.get("invoiceTotal") or 0), vendor_time(invoice.get("dueDate"))
    # Payments live in the accounting system: an invoice is paid in full or not at all here.
    if invoice.get("isVoided"):
        status, balance = "void", 0.0
    elif invoice.get("paidDate"):
        status, balance = "paid", 0.0
    else:
        overdue = due is not None and due < (now or datetime.now(UTC))
        status, balance = ("overdue" if overdue else "open"), total
    return Record(str(invoice["id"]), {
        "number": invoice.get("invoiceNumber"), "status": status,
        "issued_at": vendor_time(invoice.get("invoiceDateTime")), "due_at": due,
        "total": total, "balance": balance},
        links={"customer": str(invoice["companyID"])} if invoice.get("companyID") else {})
