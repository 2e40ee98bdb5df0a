"""Seeding the Autotask PSA simulator from one source's canonical documents."""
from __future__ import annotations

from datetime import datetime

from ..simseed import Batch, named, split_name, utc_text, with_id

# Canonical -> picklist labels of the stock tenant (read from the simulator's picklists, so the
# values are Autotask's system ones). Autotask has no "Open" or "Resolved" stock status.
AT_STATUS = {"new": "New", "open": "In Progress", "in_progress": "In Progress",
             "waiting": "Waiting Customer", "resolved": "Complete", "closed": "Complete"}
AT_COMPANY_TYPE = {"active": 1, "onboarding": 1, "prospect": 3, "churned": 6}  # Customer, Prospect, Cancellation
AT_CONTRACT_TYPE = {"managed_services": 7, "block_hours": 4, "project": 3}  # Recurring Service, Block Hours, Fixed Price


def seed(sim, batch: Batch) -> None:
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
    queue = int(next(v for v in picklist("Tickets", "queueID") if v["isDefaultValue"])["value"])
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
    note_type = value("TicketNotes", "noteType", "Task Detail")
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
