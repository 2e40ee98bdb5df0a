"""Seeding a simulator with the canonical documents of ONE source of a tenant, so the simulator
holds the same objects as the tenant's database: write tools on demo tickets and alerts reach the
vendor under the right ids, and a later sync reads the same objects back.

A document's vendor id is the `external_id` of its ref to the source (an int for numeric vendors;
other ids are left out and counted as `skipped_<kind>`). Customers an RMM or backup source knows
only through their devices have no ref to it (demo customers have PSA refs only): their
organization ids are assigned here. Atera (an RMM with a PSA) and the RMMs are in `seeding_rmm`.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

SOURCE_COLLECTIONS = ("customers", "contacts", "tickets", "assets", "alerts", "contracts",
                      "backup_jobs", "invoices")
NO_SEARCH_TERMS = {"search_tg": 0}
OPEN_TICKET = ("new", "open", "in_progress", "waiting")


# --- reading the tenant's documents ------------------------------------------------------------
async def load_source_docs(storage, slug: str, source_id: str) -> dict[str, list[dict]]:
    """collection -> the canonical docs of `source_id`: the docs whose refs name it, every
    message of those tickets (messages carry their own refs or none), the customers the source's
    docs belong to (RMM and backup sources have no customer refs), and the source itself."""
    db = storage.db.tenant(slug)
    docs: dict[str, list[dict]] = {}
    for name in SOURCE_COLLECTIONS:
        docs[name] = await db[name].find({"refs.source_id": source_id},
                                         NO_SEARCH_TERMS).sort("_id", 1).to_list()
    # Every message, kept in Python: SecantusDB answers a `$in` of thousands of ticket ids by
    # comparing each message with each id (hours at 50,000 tickets). `Batch.thread` orders them.
    ticket_ids = {ticket["_id"] for ticket in docs["tickets"]}
    docs["ticket_messages"] = [m async for m in db.ticket_messages.find({}, NO_SEARCH_TERMS)
                               if m["ticket_id"] in ticket_ids]
    known = {customer["_id"] for customer in docs["customers"]}
    owners = sorted({doc["customer_id"] for name in SOURCE_COLLECTIONS for doc in docs[name]
                     if doc.get("customer_id") and doc["customer_id"] not in known})
    docs["customers"] += await db.customers.find({"_id": {"$in": owners}},
                                                 NO_SEARCH_TERMS).sort("_id", 1).to_list()
    source = await storage.sources.get(slug, source_id)
    docs["sources"] = [source] if source else []
    return docs


# --- the entry point -------------------------------------------------------------------------
def seed_from_tenant(simulator, vendor: str, docs: dict[str, list[dict]]) -> dict[str, int]:
    """Convert one source's canonical docs to `vendor`'s shapes and seed `simulator` with them.
    Returns how many objects of each vendor kind were seeded, plus `skipped_*` counts."""
    if getattr(simulator, "vendor", vendor) != vendor:
        raise ValueError(f"a {simulator.vendor} simulator cannot be seeded as {vendor}")
    from . import seeding_rmm  # imported here: seeding_rmm builds on the helpers below
    seeders: dict[str, Callable] = {"connectwise": seed_connectwise, "autotask": seed_autotask,
                                    "halopsa": seed_halopsa, **seeding_rmm.SEEDERS}
    if vendor not in seeders:
        raise KeyError(f"no seeding for vendor {vendor!r}")
    batch = Batch(docs)
    seeders[vendor](simulator, batch)
    return dict(batch.counts)


# --- shared helpers ----------------------------------------------------------------------------
class Batch:
    """One source's docs and what every mapping needs: the source id, vendor ids of what was
    already mapped (by kind and Vectis id), look-ups by id and e-mail, and the counts."""

    def __init__(self, docs: dict[str, list[dict]]):
        self.docs = docs
        self.source_id = _source_id(docs)
        self.counts: Counter = Counter()
        self.ids: dict[str, dict[str, Any]] = {}          # kind -> Vectis id -> vendor id
        self.customers = {c["_id"]: c for c in self.get("customers")}
        self._by_email = {str(c["email"]).lower(): c for c in self.get("contacts") if c.get("email")}

    def get(self, collection: str) -> list[dict]:
        return self.docs.get(collection) or []

    def ref(self, doc: dict) -> str | None:
        return next((r.get("external_id") for r in doc.get("refs") or ()
                     if r.get("source_id") == self.source_id and r.get("external_id")), None)

    def vendor_ids(self, kind: str, docs: Iterable[dict],
                   numeric: bool = True) -> Iterator[tuple[dict, Any]]:
        """(doc, vendor id: an int for numeric vendors, else the text; None when the doc has no
        ref, so the simulator assigns one). Numeric vendors skip (and count) other ids."""
        for doc in docs:
            vendor_id = self.ref(doc)
            if numeric and vendor_id is not None:
                if not str(vendor_id).isdecimal():
                    self.counts[f"skipped_{kind}"] += 1
                    continue
                vendor_id = int(vendor_id)
            self.ids.setdefault(kind, {})[doc["_id"]] = vendor_id
            yield doc, vendor_id

    def companies(self, kind: str, first: int = 1) -> list[tuple[dict, int, dict]]:
        """(customer, numeric vendor id, address): the id of its ref when it has one, else the
        next free number from `first` (customers an RMM knows only through their devices).
        The ids are kept under `kind` and under "companies", which other objects name."""
        pairs = list(self.vendor_ids(kind, self.get("customers")))
        next_free = max([first - 1, *(vendor_id for _, vendor_id in pairs if vendor_id)]) + 1
        ids, out = self.ids.setdefault(kind, {}), []
        self.ids["companies"] = ids
        for doc, vendor_id in pairs:
            if vendor_id is None:
                vendor_id, next_free = next_free, next_free + 1
            ids[doc["_id"]] = vendor_id
            out.append((doc, vendor_id, doc.get("address") or {}))
        return out

    def vendor_id(self, kind: str, vectis_id: str | None) -> Any:
        return self.ids.get(kind, {}).get(vectis_id) if vectis_id else None

    def contact_id(self, kind: str, email: str | None) -> Any:
        """The vendor id (as seeded under `kind`) of the contact with that e-mail, if any."""
        contact = self._by_email.get(str(email or "").lower())
        return self.vendor_id(kind, contact["_id"]) if contact else None

    def thread(self, kind: str, numeric: bool = True) -> Iterator[tuple[dict, int, Any]]:
        """(message, vendor ticket id, vendor message id or None) for the messages of seeded
        tickets, oldest first; messages of a ticket that was left out are skipped too."""
        tickets = self.ids.get("tickets", {})
        messages = sorted(self.get("ticket_messages"), key=lambda m: (m["ticket_id"], m["created_at"]))
        for message in messages:
            if tickets.get(message["ticket_id"]) is None:
                self.counts[f"skipped_{kind}"] += 1
                continue
            for doc, vendor_id in self.vendor_ids(kind, [message], numeric):
                yield doc, tickets[message["ticket_id"]], vendor_id

    def seeded(self, kind: str, items: list) -> list:
        self.counts[kind] += len(items)
        return items


def _source_id(docs: dict[str, list[dict]]) -> str | None:
    """The source the docs belong to: the `sources` entry when given, else the source named by
    the most refs (customers may also carry refs to other sources)."""
    named = Counter(r.get("source_id") for items in docs.values() for doc in items
                    for r in doc.get("refs") or ())
    return docs["sources"][0]["_id"] if docs.get("sources") else next(iter(named.most_common(1)),
                                                                      (None,))[0]


def as_utc(moment: datetime | None) -> datetime | None:
    if moment is not None:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment


def utc_text(moment: datetime | None, timespec: str = "seconds", suffix: str = "Z") -> str | None:
    """An ISO-8601 UTC time the way a vendor writes it: precision and suffix ("Z", "+00:00" or
    none) differ between vendors."""
    moment = as_utc(moment)
    return None if moment is None else moment.replace(tzinfo=None).isoformat(timespec=timespec) + suffix


def split_name(name: str | None) -> tuple[str, str]:
    first, _, last = str(name or "").strip().partition(" ")
    return first, last


def with_id(key: str, vendor_id: Any, fields: dict) -> dict:
    """`fields` with the vendor id under `key`, or without it (the simulator assigns one)."""
    return ({key: vendor_id} if vendor_id is not None else {}) | fields


def named(items: Iterable[dict], name: str, key: str = "name") -> dict:
    """The item called `name` in one of the simulator's own lists (statuses, priorities, ...):
    mapping by name keeps the ids whatever the simulator's stock lists say."""
    found = next((item for item in items if str(item.get(key)).lower() == name.lower()), None)
    if found is None:
        raise KeyError(f"the simulator has no {name!r}")
    return found


def login(email: str | None) -> str | None:
    """A PSA member identifier from an operator's e-mail (`ada.admin@x` -> `ada.admin`)."""
    return str(email).partition("@")[0] if email else None


# --- ConnectWise Manage ------------------------------------------------------------------------
# Canonical ticket status -> stock board status. The stock board has no "Open" and closes on
# "Closed" only, so open files under In Progress and resolved tickets are closed on the board.
CW_STATUS = {"new": "New", "open": "In Progress", "in_progress": "In Progress",
             "waiting": "Waiting Customer", "resolved": "Closed", "closed": "Closed"}
CW_PRIORITY = {"critical": "Priority 1", "high": "Priority 2", "medium": "Priority 3", "low": "Priority 4"}
CW_AGREEMENT_STATUS = {"active": "Active", "pending": "Inactive", "expired": "Expired", "cancelled": "Cancelled"}
CW_AGREEMENT_TYPE = {"managed_services": "Managed Services", "block_hours": "Block Time", "project": "Project"}
CW_INVOICE_STATUS = {"draft": "New", "open": "Sent", "overdue": "Sent", "paid": "Paid", "void": "Void"}


def seed_connectwise(sim, batch: Batch) -> None:
    board = min(sim.boards)
    statuses = [s for s in sim.statuses[board] if not s.get("inactive")]
    priorities = {p["name"].split(" - ")[0]: p for p in sim.priorities.values()}
    companies = {}
    for doc, vendor_id, address in batch.companies("companies"):
        status = doc.get("status")
        companies[doc["_id"]] = {
            "id": vendor_id, "identifier": re.sub(r"[^A-Za-z0-9]", "", doc["name"])[:25],
            "name": doc["name"], "deletedFlag": False,
            "status": {"name": "Inactive" if status == "churned" else "Active"},
            "types": [{"name": "Prospect" if status == "prospect" else "Client"}],
            "addressLine1": address.get("street"), "city": address.get("city"),
            "state": address.get("state"), "zip": address.get("postal_code"),
            "country": {"name": address.get("country")},
            "dateAcquired": utc_text(doc.get("created_at"))}

    def company(customer_id: str) -> dict | None:
        found = companies.get(customer_id)
        return {k: found[k] for k in ("id", "identifier", "name")} if found else None

    contacts = [with_id("id", vendor_id, {
        "firstName": split_name(doc["name"])[0], "lastName": split_name(doc["name"])[1],
        "company": company(doc["customer_id"]), "title": doc.get("title"),
        "defaultFlag": bool(doc.get("is_primary")), "communicationItems": [
            {"type": {"name": kind}, "communicationType": medium, "value": doc.get(field),
             "defaultFlag": True}
            for kind, medium, field in (("Email", "Email", "email"), ("Direct", "Phone", "phone"))]})
        for doc, vendor_id in batch.vendor_ids("contacts", batch.get("contacts"))]
    tickets = []
    for doc, vendor_id in batch.vendor_ids("tickets", batch.get("tickets")):
        requester, closed = doc.get("requester") or {}, doc["status"] not in OPEN_TICKET
        priority = priorities[CW_PRIORITY[doc["priority"]]]
        ticket = with_id("id", vendor_id, {
            "summary": doc["subject"][:100], "company": company(doc["customer_id"]),
            "board": {"id": board}, "status": {"id": named(statuses, CW_STATUS[doc["status"]])["id"]},
            "priority": {"id": priority["id"], "name": priority["name"], "sort": priority.get("sortOrder")},
            "contactName": requester.get("name"), "contactEmailAddress": requester.get("email"),
            "closedFlag": closed, "closedDate": utc_text(doc.get("closed_at")) if closed else None,
            "_info": {"dateEntered": utc_text(doc["created_at"]), "enteredBy": "Vectis",
                      "lastUpdated": utc_text(doc["updated_at"]), "updatedBy": "Vectis"}})
        if (contact_id := batch.contact_id("contacts", requester.get("email"))) is not None:
            ticket["contact"] = {"id": contact_id, "name": requester.get("name")}
        if doc.get("assignee"):
            ticket["owner"] = {"identifier": login(doc["assignee"].get("email")),
                               "name": doc["assignee"].get("name")}
        tickets.append(ticket)
    notes = []
    for message, ticket_id, vendor_id in batch.thread("notes"):
        internal, author = bool(message.get("is_internal")), message.get("author") or {}
        note = with_id("id", vendor_id, {
            "ticketId": ticket_id, "text": message["body"], "detailDescriptionFlag": not internal,
            "internalAnalysisFlag": internal, "resolutionFlag": False, "internalFlag": internal,
            "externalFlag": not internal, "dateCreated": utc_text(message["created_at"]),
            "createdBy": author.get("name")})
        if author.get("kind") == "contact":
            note["contact"] = {"name": author.get("name")}
        else:
            note["member"] = {"identifier": login(author.get("email")), "name": author.get("name")}
        notes.append(note)
    agreements = [with_id("id", vendor_id, {
        "name": doc["name"], "type": {"name": CW_AGREEMENT_TYPE.get(doc["kind"], doc["kind"])},
        "company": company(doc["customer_id"]),
        "agreementStatus": CW_AGREEMENT_STATUS.get(doc["status"], "Active"),
        "cancelledFlag": doc["status"] == "cancelled", "startDate": utc_text(doc.get("start_date")),
        "endDate": utc_text(doc.get("end_date")), "noEndingDateFlag": doc.get("end_date") is None,
        "billAmount": doc.get("monthly_value"), "billingCycle": {"name": "Monthly"}})
        for doc, vendor_id in batch.vendor_ids("agreements", batch.get("contracts"))]
    invoices = [with_id("id", vendor_id, {
        "invoiceNumber": doc["number"], "type": "Agreement", "company": company(doc["customer_id"]),
        "status": {"name": CW_INVOICE_STATUS.get(doc["status"], "Sent")},
        "date": utc_text(doc["issued_at"]), "dueDate": utc_text(doc.get("due_at")),
        "total": doc["total"], "balance": doc["balance"],
        "currency": {"currencyCode": doc.get("currency") or "USD"}})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    sim.seed(companies=batch.seeded("companies", list(companies.values())), contacts=batch.seeded(
        "contacts", contacts), tickets=batch.seeded("tickets", tickets), notes=batch.seeded("notes", notes),
        agreements=batch.seeded("agreements", agreements), invoices=batch.seeded("invoices", invoices))


# --- Autotask ----------------------------------------------------------------------------------
# Canonical -> picklist labels of the stock tenant (read from the simulator's picklists, so the
# values are Autotask's system ones). Autotask has no "Open" or "Resolved" stock status.
AT_STATUS = {"new": "New", "open": "In Progress", "in_progress": "In Progress",
             "waiting": "Waiting Customer", "resolved": "Complete", "closed": "Complete"}
AT_COMPANY_TYPE = {"active": 1, "onboarding": 1, "prospect": 3, "churned": 6}  # Customer, Prospect, Cancellation
AT_CONTRACT_TYPE = {"managed_services": 7, "block_hours": 4, "project": 3}  # Recurring Service, Block Hours, Fixed Price


def seed_autotask(sim, batch: Batch) -> None:
    def picklist(entity: str, field: str) -> list[dict]:
        return next(f for f in sim.fields[entity] if f["name"] == field)["picklistValues"]

    def value(entity: str, field: str, label: str) -> int:
        return int(named(picklist(entity, field), label, "label")["value"])

    def at(moment: datetime | None) -> str | None:
        return utc_text(moment, "milliseconds")

    companies = [{
        "id": vendor_id, "companyName": doc["name"], "companyType": AT_COMPANY_TYPE.get(doc.get("status"), 1),
        "isActive": doc.get("status") != "churned", "address1": address.get("street"),
        "city": address.get("city"), "state": address.get("state"),
        "postalCode": address.get("postal_code"), "createDate": at(doc.get("created_at"))}
        for doc, vendor_id, address in batch.companies("companies")]
    company = batch.ids["companies"]
    contacts = [with_id("id", vendor_id, {
        "companyID": company.get(doc["customer_id"]), "firstName": split_name(doc["name"])[0],
        "lastName": split_name(doc["name"])[1], "emailAddress": doc.get("email"),
        "phone": doc.get("phone"), "title": doc.get("title"), "isActive": 1,
        "primaryContact": bool(doc.get("is_primary"))})
        for doc, vendor_id in batch.vendor_ids("contacts", batch.get("contacts"))]
    queue = int(picklist("Tickets", "queueID")[0]["value"])
    tickets = [with_id("id", vendor_id, {
        "ticketNumber": doc["number"], "companyID": company.get(doc["customer_id"]),
        "contactID": batch.contact_id("contacts", (doc.get("requester") or {}).get("email")),
        "title": doc["subject"][:255], "description": (doc.get("description") or "")[:8000],
        "status": value("Tickets", "status", AT_STATUS[doc["status"]]),
        "priority": value("Tickets", "priority", doc["priority"]), "queueID": queue,
        "createDate": at(doc["created_at"]), "lastActivityDate": at(doc["updated_at"]),
        "completedDate": at(doc.get("closed_at"))})
        for doc, vendor_id in batch.vendor_ids("tickets", batch.get("tickets"))]
    publish = {internal: value("TicketNotes", "publish", label) for internal, label in
               ((False, "All Autotask Users"), (True, "Internal Project Team"))}
    note_type = int(next(v for v in picklist("TicketNotes", "noteType") if v["isDefaultValue"])["value"])
    notes = [with_id("id", vendor_id, {
        "ticketID": ticket_id, "title": (message["body"].strip().splitlines() or ["Note"])[0][:250],
        "description": message["body"][:32000], "noteType": note_type,
        "publish": publish[bool(message.get("is_internal"))],
        "createDateTime": at(message["created_at"]), "lastActivityDate": at(message["created_at"]),
        "createdByContactID": batch.contact_id("contacts", message["author"].get("email"))
        if message["author"].get("kind") == "contact" else None})
        for message, ticket_id, vendor_id in batch.thread("notes")]
    contracts = [with_id("id", vendor_id, {
        "companyID": company.get(doc["customer_id"]), "contractName": doc["name"],
        "contractType": AT_CONTRACT_TYPE.get(doc["kind"], 7), "status": int(doc["status"] == "active"),
        "startDate": at(doc.get("start_date")), "endDate": at(doc.get("end_date")),
        "isDefaultContract": False})
        for doc, vendor_id in batch.vendor_ids("contracts", batch.get("contracts"))]
    invoices = [with_id("id", vendor_id, {
        "companyID": company.get(doc["customer_id"]), "invoiceNumber": doc["number"],
        "invoiceDateTime": at(doc["issued_at"]), "dueDate": at(doc.get("due_at")),
        "invoiceTotal": doc["total"], "isVoided": doc["status"] == "void",
        "paidDate": at(doc.get("updated_at")) if doc["status"] == "paid" else None})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    sim.seed(companies=batch.seeded("companies", companies), contacts=batch.seeded("contacts", contacts),
             tickets=batch.seeded("tickets", tickets), notes=batch.seeded("notes", notes),
             contracts=batch.seeded("contracts", contracts), invoices=batch.seeded("invoices", invoices))


# --- HaloPSA -----------------------------------------------------------------------------------
HALO_STATUS = {"new": "New", "open": "Action Required", "in_progress": "In Progress",
               "waiting": "Waiting on User", "resolved": "Resolved", "closed": "Closed"}
HALO_PRIORITY = {"critical": 1, "high": 2, "medium": 3, "low": 4}   # Halo's default P1..P4 ids


def halo_time(moment: datetime | None) -> str | None:
    return utc_text(moment, "milliseconds", "")     # Halo writes UTC without an offset


def seed_halopsa(sim, batch: Batch) -> None:
    clients = [{"id": vendor_id, "name": doc["name"], "inactive": doc.get("status") == "churned"}
               for doc, vendor_id, _address in batch.companies("clients")]
    client, names = batch.ids["companies"], {c["id"]: c["name"] for c in clients}
    users = [with_id("id", vendor_id, {
        "name": doc["name"], "emailaddress": doc.get("email"), "phonenumber": doc.get("phone"),
        "client_id": client.get(doc["customer_id"]),
        "client_name": names.get(client.get(doc["customer_id"]))})
        for doc, vendor_id in batch.vendor_ids("users", batch.get("contacts"))]
    tickets = []
    for doc, vendor_id in batch.vendor_ids("tickets", batch.get("tickets")):
        requester = doc.get("requester") or {}
        tickets.append(with_id("id", vendor_id, {
            "summary": doc["subject"], "details": doc.get("description") or "",
            "client_id": client.get(doc["customer_id"]),
            "user_id": batch.contact_id("users", requester.get("email")),
            "user_name": requester.get("name"), "user_email": requester.get("email"),
            "status_id": named(sim.statuses, HALO_STATUS[doc["status"]])["id"],
            "priority_id": HALO_PRIORITY[doc["priority"]], "tickettype_id": 1,
            "dateoccurred": halo_time(doc["created_at"]), "lastactiondate": halo_time(doc["updated_at"]),
            "dateclosed": halo_time(doc.get("closed_at"))}))
    actions = []
    for message, ticket_id, ref in batch.thread("actions", numeric=False):
        # Our id of an action is "ticket:action" (vendors/halopsa_read.action_ref).
        vendor_id = int(str(ref).rpartition(":")[2]) if ref is not None else None
        internal, author = bool(message.get("is_internal")), message.get("author") or {}
        outcome = "Private Note" if internal else "End-user Update" if author.get("kind") == "contact" else "Note"
        actions.append(with_id("id", vendor_id, {
            "ticket_id": ticket_id, "note": message["body"], "outcome": outcome,
            "hiddenfromuser": internal, "datetime": halo_time(message["created_at"]),
            "who": author.get("name")}))
    contracts = [with_id("id", vendor_id, {
        "client_id": client.get(doc["customer_id"]), "ref": doc["name"],
        "start_date": halo_time(doc.get("start_date")), "end_date": halo_time(doc.get("end_date")),
        "active": doc["status"] == "active", "periodchargeamount": doc.get("monthly_value")})
        for doc, vendor_id in batch.vendor_ids("contracts", batch.get("contracts"))]
    invoices = [with_id("id", vendor_id, {
        "client_id": client.get(doc["customer_id"]), "invoicenumber": doc["number"],
        "invoice_date": halo_time(doc["issued_at"]), "duedate": halo_time(doc.get("due_at")),
        "total": doc["total"], "amountdue": doc["balance"], "posted": doc["status"] != "draft",
        "paymentstatus": 2 if doc["balance"] == 0 else int(doc["balance"] < doc["total"]),  # 0 unpaid, 1 part, 2 paid
        "lines": [{"item_shortdescription": line["description"], "qty_order": line["quantity"],
                   "unit_price": line["unit_price"], "net_amount": line["amount"]}
                  for line in doc.get("lines") or ()]})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    sim.seed(clients=batch.seeded("clients", clients), users=batch.seeded("users", users),
             tickets=batch.seeded("tickets", tickets), actions=batch.seeded("actions", actions),
             contracts=batch.seeded("contracts", contracts), invoices=batch.seeded("invoices", invoices))
