"""The read side of ConnectWise Manage for the sync engine (contract: vectis/sync/records.py).

Every entity is incremental: each CW record carries `_info.lastUpdated`, which the conditions
language filters as `lastUpdated>=[...]`. CW keeps whole seconds, so `since` is floored and the
boundary second is included: reading a record twice is harmless, missing one is not. Deleted
companies stay listed with `deletedFlag`, inactive contacts with `inactiveFlag`; both come back
as `deleted=True`. Other deletions in CW are physical and invisible to an incremental read.

Pages are keyed by id (`id>{last}` with `orderBy=id asc`, one `pageSize` at a time) rather than
numbered: when a record on an earlier page is deleted mid-read, every later page shifts and a
numbered read skips one record for good (it has not changed, so no later run asks for it).

Ticket notes come from `/service/tickets/{id}/notes` (CW has no list of notes across tickets). A
new note stamps its ticket's `lastUpdated`, so a changed thread arrives with its ticket.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from ...sync.records import Record
from ..base import VendorCall, floor_second, vendor_time
from ..errors import VendorError
from .formats import PRIORITY_WORDS, canonical_status, cw_time

PATHS = {"customers": "/company/companies", "contacts": "/company/contacts",
         "tickets": "/service/tickets", "contracts": "/finance/agreements",
         "invoices": "/finance/invoices"}
# Agreement types and statuses are tenant-editable names; matched by the words they contain.
AGREEMENT_KINDS = ((("block",), "block_hours"), (("project",), "project"))
AGREEMENT_STATUS = {"active": "active", "inactive": "pending", "expired": "expired",
                    "cancelled": "cancelled", "canceled": "cancelled"}
# Billing cycle -> months one bill covers (billAmount is per cycle; ours is monthly).
CYCLE_MONTHS = ((("week",), 12 / 52), (("quarter",), 3.0), (("semi", "half", "bi-annual"), 6.0),
                (("annual", "year"), 12.0))
PRIORITY_BY_SORT = {1: "critical", 2: "high", 3: "medium", 4: "low"}


class ConnectWiseReader:
    """Mixin for ConnectWiseConnector: `read(entity, since)` as the sync engine expects."""

    sync_page_size: ClassVar[int] = 1000       # CW's maximum pageSize
    note_concurrency: ClassVar[int] = 4        # ticket threads fetched side by side

    async def read(self, entity: str, since: datetime | None) -> AsyncIterator[list[Record]]:
        if entity not in PATHS:
            raise ValueError(f"ConnectWise has no {entity} to sync")
        changed = None if since is None else f"lastUpdated>={cw_time(floor_second(since))}"
        now = datetime.now(UTC)
        async for page in self._keyset(PATHS[entity], changed):
            if entity == "tickets":
                yield await self._tickets(page)
            else:
                yield [READERS[entity](item, now) for item in page]

    async def _keyset(self, path: str, conditions: str | None) -> AsyncIterator[list[dict]]:
        last = 0
        while True:
            where = f"id>{last}" if conditions is None else f"{conditions} and id>{last}"
            params = {"conditions": where, "orderBy": "id asc", "page": 1,
                      "pageSize": self.sync_page_size}
            items = (await self.send(VendorCall("GET", path, params=params), idempotent=True)).body
            if not isinstance(items, list):
                raise VendorError("connectwise", f"unexpected answer to GET {path}", retry_safe=True)
            if items:
                yield items
            if len(items) < self.sync_page_size:
                return
            last = max(int(item["id"]) for item in items)

    async def _tickets(self, tickets: list[dict]) -> list[Record]:
        gate = asyncio.Semaphore(self.note_concurrency)

        async def thread(ticket: dict) -> list[dict]:
            async with gate:
                notes: list[dict] = []
                async for page in self._keyset(f"/service/tickets/{int(ticket['id'])}/notes", None):
                    notes += page
                return notes

        threads = await asyncio.gather(*(thread(ticket) for ticket in tickets))
        return [ticket_record(ticket, notes) for ticket, notes in zip(tickets, threads, strict=True)]


# --- mapping: CW record -> Record ------------------------------------------------------------
def _id(ref: Any) -> str | None:
    return str(ref["id"]) if isinstance(ref, dict) and ref.get("id") is not None else None


def _links(item: dict, **refs: str) -> dict[str, str]:
    found = {name: _id(item.get(key)) for name, key in refs.items()}
    return {name: value for name, value in found.items() if value}


def _name(ref: Any) -> str:
    return str((ref or {}).get("name") or "") if isinstance(ref, dict) else ""


def company_record(company: dict, now: datetime | None = None) -> Record:
    status, types = _name(company.get("status")).lower(), {
        _name(t).lower() for t in company.get("types") or ()}
    address = {"street": company.get("addressLine1"), "city": company.get("city"),
               "state": company.get("state"), "postal_code": company.get("zip"),
               "country": _name(company.get("country")) or None}
    return Record(str(company["id"]), {
        "name": company.get("name"),
        "status": "churned" if "inactive" in status else "prospect" if "prospect" in types
        else "active",
        "address": address}, deleted=bool(company.get("deletedFlag")))


def contact_record(contact: dict, now: datetime | None = None) -> Record:
    items = contact.get("communicationItems") or []

    def first(medium: str) -> str | None:
        matching = [i for i in items if str(i.get("communicationType", "")).lower() == medium
                    and i.get("value")]
        chosen = next((i for i in matching if i.get("defaultFlag")), matching[0] if matching else None)
        return chosen["value"] if chosen else None

    email = first("email")
    name = " ".join(p for p in (contact.get("firstName"), contact.get("lastName")) if p)
    return Record(str(contact["id"]), {
        "name": name, "email": email.lower() if email else None, "phone": first("phone"),
        "title": contact.get("title"), "is_primary": bool(contact.get("defaultFlag"))},
        links=_links(contact, customer="company"), deleted=bool(contact.get("inactiveFlag")))


def priority(ref: dict | None) -> str:
    name = _name(ref).lower()
    for canonical, words in PRIORITY_WORDS.items():
        if any(word in name for word in words):
            return canonical
    return PRIORITY_BY_SORT.get((ref or {}).get("sort"), "medium")


def ticket_record(ticket: dict, notes: list[dict]) -> Record:
    info = ticket.get("_info") or {}
    notes = sorted(notes, key=lambda n: (vendor_time(n.get("dateCreated")) or datetime.min.replace(
        tzinfo=UTC), n["id"]))
    # CW files the initial description as the ticket's first Discussion note.
    first = next((n for n in notes if n.get("detailDescriptionFlag")), None)
    owner = ticket.get("owner")
    requester = {"name": ticket.get("contactName") or _name(ticket.get("contact")) or None,
                 "email": (ticket.get("contactEmailAddress") or "").lower() or None}
    status = canonical_status(ticket)
    fields = {
        "number": str(ticket["id"]), "subject": ticket.get("summary"), "status": status,
        "priority": priority(ticket.get("priority")), "requester": requester,
        # CW names the owner by member identifier; its e-mail needs /system/members.
        "assignee": {"name": owner.get("name") or owner.get("identifier"), "email": None}
        if isinstance(owner, dict) and (owner.get("name") or owner.get("identifier")) else None,
        "created_at": vendor_time(info.get("dateEntered")),
        "updated_at": vendor_time(info.get("lastUpdated")),
        "closed_at": vendor_time(ticket.get("closedDate")) if status in ("resolved", "closed")
        else None}
    if first is not None:
        fields["description"] = first.get("text") or ""
    return Record(str(ticket["id"]), fields, links=_links(ticket, customer="company",
                                                          contact="contact"),
                  children=[note_record(note, requester, ticket) for note in notes])


def note_record(note: dict, requester: dict, ticket: dict) -> Record:
    contact, member = note.get("contact"), note.get("member")
    if isinstance(contact, dict) and (contact.get("name") or contact.get("id")):
        # A note's contact reference has no e-mail; the requester's is the one the ticket holds.
        requester_id = (ticket.get("contact") or {}).get("id")
        same = (contact.get("id") is not None and contact.get("id") == requester_id) \
            or (contact.get("name") or "").lower() == (requester["name"] or "").lower()
        author = {"kind": "contact", "name": contact.get("name") or requester["name"],
                  "email": requester["email"] if same else None}
    elif isinstance(member, dict) and member.get("identifier"):
        author = {"kind": "user", "name": member.get("name") or member["identifier"], "email": None}
    else:
        name = _name(member) or note.get("createdBy") or "ConnectWise"
        author = {"kind": "system", "name": name, "email": None}
    return Record(str(note["id"]), {"body": note.get("text") or "",
                                    "is_internal": bool(note.get("internalAnalysisFlag")),
                                    "author": author,
                                    "created_at": vendor_time(note.get("dateCreated"))})


def agreement_record(agreement: dict, now: datetime | None = None) -> Record:
    kind_name = _name(agreement.get("type")).lower()
    kind = next((kind for words, kind in AGREEMENT_KINDS if any(w in kind_name for w in words)),
                "managed_services")
    status = AGREEMENT_STATUS.get(str(agreement.get("agreementStatus") or "").lower(), "active")
    if agreement.get("cancelledFlag"):
        status = "cancelled"
    fields: dict = {"name": agreement.get("name"), "kind": kind, "status": status,
                    "start_date": vendor_time(agreement.get("startDate")),
                    "end_date": None if agreement.get("noEndingDateFlag")
                    else vendor_time(agreement.get("endDate"))}
    if agreement.get("billAmount") is not None:
        cycle = _name(agreement.get("billingCycle")).lower()
        months = next((m for words, m in CYCLE_MONTHS if any(w in cycle for w in words)), 1.0)
        fields["monthly_value"] = round(float(agreement["billAmount"]) / months, 2)
    return Record(str(agreement["id"]), fields, links=_links(agreement, customer="company"))


def invoice_record(invoice: dict, now: datetime | None = None) -> Record:
    name = _name(invoice.get("status")).lower()
    total = float(invoice.get("total") or 0)
    balance = float(invoice["balance"]) if invoice.get("balance") is not None else total
    due = vendor_time(invoice.get("dueDate"))
    if "void" in name:
        status, balance = "void", 0.0
    elif "paid" in name and not any(word in name for word in ("unpaid", "partial")):
        status, balance = "paid", 0.0
    elif name in ("new", "draft"):
        status = "draft"
    else:
        status = "overdue" if balance > 0 and due is not None and due < (now or datetime.now(UTC)) \
            else "open"
    fields = {"number": invoice.get("invoiceNumber"), "status": status,
              "issued_at": vendor_time(invoice.get("date")), "due_at": due, "total": total,
              "balance": balance}
    if (invoice.get("currency") or {}).get("currencyCode"):
        fields["currency"] = invoice["currency"]["currencyCode"]
    return Record(str(invoice["id"]), fields, links=_links(invoice, customer="company"))


READERS = {"customers": company_record, "contacts": contact_record,
           "contracts": agreement_record, "invoices": invoice_record}
