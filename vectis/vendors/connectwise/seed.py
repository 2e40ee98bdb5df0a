"""Seeding the ConnectWise Manage simulator from one source's canonical documents."""
from __future__ import annotations

import re

from ..simseed import OPEN_TICKET, Batch, login, named, split_name, utc_text, with_id

# Canonical ticket status -> stock board status. The stock board has no "Open" and closes on
# "Closed" only, so open files under In Progress and resolved tickets are closed on the board.
CW_STATUS = {"new": "New", "open": "In Progress", "in_progress": "In Progress",
             "waiting": "Waiting Customer", "resolved": "Closed", "closed": "Closed"}
CW_PRIORITY = {"critical": "Priority 1", "high": "Priority 2", "medium": "Priority 3", "low": "Priority 4"}
CW_AGREEMENT_STATUS = {"active": "Active", "pending": "Inactive", "expired": "Expired", "cancelled": "Cancelled"}
CW_AGREEMENT_TYPE = {"managed_services": "Managed Services", "block_hours": "Block Time", "project": "Project"}
CW_INVOICE_STATUS = {"draft": "New", "open": "Sent", "overdue": "Sent", "paid": "Paid", "void": "Void"}
# CW embeds every linked setup record as a reference with its id: these are the stock ids the
# simulated tenant uses for company statuses and types and communication types.
CW_COMPANY_STATUS_ID = {"Active": 1, "Inactive": 2}
CW_COMPANY_TYPE_ID = {"Client": 1, "Prospect": 2}
CW_COMMUNICATION_TYPE_ID = {"Email": 1, "Direct": 2}
CW_INVOICE_STATUS_ID = {"New": 1, "Sent": 2, "Paid": 3, "Void": 4}


def seed(sim, batch: Batch) -> None:
    board = sim.service_board()
    statuses = [s for s in sim.statuses[board] if not s.get("inactive")]
    priorities = {p["name"].split(" - ")[0]: p for p in sim.priorities.values()}
    countries: dict[str, int] = {}
    members: dict[str, int] = {}

    def member(person: dict) -> dict | None:
        identifier = login(person.get("email"))
        if not identifier:
            return None
        member_id = members.setdefault(identifier, 200 + len(members))
        return {"id": member_id, "identifier": identifier, "name": person.get("name")}

    def country(name: str | None) -> dict | None:
        return {"id": countries.setdefault(name, 1 + len(countries)), "name": name} if name else None

    currencies: dict[str, int] = {}

    def currency(code: str) -> dict:
        return {"id": currencies.setdefault(code, 1 + len(currencies)), "currencyCode": code}

    def agreement_type(kind: str) -> dict:
        name = CW_AGREEMENT_TYPE.get(kind, kind)
        names = list(CW_AGREEMENT_TYPE.values())
        return {"id": 1 + (names.index(name) if name in names else len(names)), "name": name}

    companies = {}
    for doc, vendor_id, address in batch.companies("companies"):
        status = doc.get("status")
        status_name = "Inactive" if status == "churned" else "Active"
        type_name = "Prospect" if status == "prospect" else "Client"
        companies[doc["_id"]] = {
            "id": vendor_id, "identifier": re.sub(r"[^A-Za-z0-9]", "", doc["name"])[:25],
            "name": doc["name"], "deletedFlag": False,
            "status": {"id": CW_COMPANY_STATUS_ID[status_name], "name": status_name},
            "types": [{"id": CW_COMPANY_TYPE_ID[type_name], "name": type_name}],
            "addressLine1": address.get("street"), "city": address.get("city"),
            "state": address.get("state"), "zip": address.get("postal_code"),
            "country": country(address.get("country")),
            "dateAcquired": utc_text(doc.get("created_at"))}

    def company(customer_id: str) -> dict | None:
        found = companies.get(customer_id)
        return {k: found[k] for k in ("id", "identifier", "name")} if found else None

    contacts = [with_id("id", vendor_id, {
        "firstName": split_name(doc["name"])[0], "lastName": split_name(doc["name"])[1],
        "company": company(doc["customer_id"]), "title": doc.get("title"),
        "defaultFlag": bool(doc.get("is_primary")), "communicationItems": [
            {"type": {"id": CW_COMMUNICATION_TYPE_ID[kind], "name": kind},
             "communicationType": medium, "value": doc.get(field),
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
        if doc.get("assignee") and (owner := member(doc["assignee"])):
            ticket["owner"] = owner
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
            contact_id = batch.contact_id("contacts", author.get("email"))
            if contact_id is not None:
                note["contact"] = {"id": contact_id, "name": author.get("name")}
        elif (by := member(author)) is not None:
            note["member"] = by
        notes.append(note)
    agreements = [with_id("id", vendor_id, {
        "name": doc["name"], "type": agreement_type(doc["kind"]),
        "company": company(doc["customer_id"]),
        "agreementStatus": CW_AGREEMENT_STATUS.get(doc["status"], "Active"),
        "cancelledFlag": doc["status"] == "cancelled", "startDate": utc_text(doc.get("start_date")),
        "endDate": utc_text(doc.get("end_date")), "noEndingDateFlag": doc.get("end_date") is None,
        "billAmount": doc.get("monthly_value"), "billingCycle": {"id": 1, "name": "Monthly"}})
        for doc, vendor_id in batch.vendor_ids("agreements", batch.get("contracts"))]
    invoices = [with_id("id", vendor_id, {
        "invoiceNumber": doc["number"], "type": "Agreement", "company": company(doc["customer_id"]),
        "status": {"id": CW_INVOICE_STATUS_ID[CW_INVOICE_STATUS.get(doc["status"], "Sent")],
                   "name": CW_INVOICE_STATUS.get(doc["status"], "Sent")},
        "date": utc_text(doc["issued_at"]), "dueDate": utc_text(doc.get("due_at")),
        "total": doc["total"], "balance": doc["balance"],
        "currency": currency(doc.get("currency") or "USD")})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    sim.seed(companies=batch.seeded("companies", list(companies.values())), contacts=batch.seeded(
        "contacts", contacts), tickets=batch.seeded("tickets", tickets), notes=batch.seeded("notes", notes),
        agreements=batch.seeded("agreements", agreements), invoices=batch.seeded("invoices", invoices))
