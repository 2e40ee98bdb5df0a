"""Seeding the Atera simulator from one source's canonical documents."""
from __future__ import annotations

from datetime import datetime

from ..simseed import Batch, is_server, os_name, split_name, stable_uuid, utc_text, with_id

ATERA_STATUS = {"new": "Open", "open": "Open", "in_progress": "Open", "waiting": "Pending",
                "resolved": "Resolved", "closed": "Closed"}
ATERA_SEVERITY = {"critical": "Critical", "major": "Warning", "moderate": "Warning",
                  "minor": "Information", "info": "Information"}


def atera_time(moment: datetime | None) -> str | None:
    return utc_text(moment, "microseconds")


def seed(sim, batch: Batch) -> None:
    # Atera files a new end user under the customer whose Domain matches the e-mail.
    domains = {c["customer_id"]: c["email"].rpartition("@")[2] for c in reversed(batch.get("contacts"))
               if c.get("email")}
    customers = [{
        "CustomerID": vendor_id, "CustomerName": doc["name"], "Domain": domains.get(doc["_id"]),
        "Address": address.get("street"), "City": address.get("city"), "State": address.get("state"),
        "ZipCodeStr": address.get("postal_code"), "Country": address.get("country"),
        "CreatedOn": atera_time(doc.get("created_at"))}
        for doc, vendor_id, address in batch.companies("customers")]
    company, names = batch.ids["companies"], {c["CustomerID"]: c["CustomerName"] for c in customers}

    def owner(doc: dict) -> dict:
        customer_id = company.get(doc.get("customer_id"))
        return {"CustomerID": customer_id, "CustomerName": names.get(customer_id)}

    contacts = [with_id("EndUserID", vendor_id, {
        **owner(doc), "Firstname": split_name(doc["name"])[0], "Lastname": split_name(doc["name"])[1],
        "Email": doc.get("email"), "Phone": doc.get("phone"), "JobTitle": doc.get("title"),
        "IsContactPerson": bool(doc.get("is_primary")), "CreatedOn": atera_time(doc.get("created_at"))})
        for doc, vendor_id in batch.vendor_ids("contacts", batch.get("contacts"))]
    tickets = []
    for doc, vendor_id in batch.vendor_ids("tickets", batch.get("tickets")):
        requester = doc.get("requester") or {}
        first, last = split_name(requester.get("name"))
        tickets.append(with_id("TicketID", vendor_id, {
            **owner(doc), "TicketNumber": doc["number"], "TicketTitle": doc["subject"],
            "TicketStatus": ATERA_STATUS[doc["status"]], "TicketPriority": doc["priority"].capitalize(),
            "TicketType": "Incident", "TicketCreatedDate": atera_time(doc["created_at"]),
            "TicketResolvedDate": atera_time(doc.get("closed_at")), "FirstComment": doc.get("description"),
            "EndUserID": batch.contact_id("contacts", requester.get("email")),
            "EndUserEmail": requester.get("email"), "EndUserFirstName": first, "EndUserLastName": last,
            "TechnicianEmail": (doc.get("assignee") or {}).get("email")}))
    comments = []   # Atera comments have no id of their own: they are listed per ticket
    for message, ticket_id, _vendor_id in batch.thread("comments"):
        author = message.get("author") or {}
        first, last = split_name(author.get("name"))
        by_contact = author.get("kind") == "contact"
        comments.append({
            "TicketID": ticket_id, "Date": atera_time(message["created_at"]), "Comment": message["body"],
            "EndUserID": batch.contact_id("contacts", author.get("email")) if by_contact else None,
            "TechnicianContactID": None, "Email": author.get("email"), "FirstName": first,
            "LastName": last, "IsInternal": bool(message.get("is_internal"))})
    contracts = [with_id("ContractID", vendor_id, {
        **owner(doc), "ContractName": doc["name"], "Active": doc["status"] == "active",
        "ContractType": {"block_hours": "BlockHours", "project": "ProjectOneTimeFee"}.get(doc["kind"],
                                                                                   "RetainerFlatFee"),
        "StartDate": atera_time(doc.get("start_date")), "EndDate": atera_time(doc.get("end_date"))})
        for doc, vendor_id in batch.vendor_ids("contracts", batch.get("contracts"))]
    # The Invoice DTO names the billed customer only as `To.CompanyName` (no customer id).
    invoices = [with_id("InvoiceNumber", vendor_id, {
        "InvoiceId": stable_uuid(doc["_id"]), "InvoiceNumberAsString": None if vendor_id is None else str(vendor_id),
        "To": {"CompanyName": owner(doc)["CustomerName"]},
        "InvoiceDate": atera_time(doc["issued_at"]), "Total": doc["total"],
        "Currency": doc.get("currency") or "USD"})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    agents = [with_id("AgentID", vendor_id, {
        **owner(doc), "DeviceGuid": stable_uuid(doc["_id"]), "MachineName": doc["name"],
        "AgentName": doc["name"], "Online": doc.get("status") == "online",
        "LastSeen": atera_time(doc.get("last_seen_at")), "OS": os_name(doc),
        "OSType": "Server" if is_server(doc) else "Work Station",
        "IpAddresses": [doc["ip_address"]] if doc.get("ip_address") else [],
        "Vendor": (doc.get("hardware") or {}).get("manufacturer"),
        "VendorBrandModel": (doc.get("hardware") or {}).get("model"),
        "VendorSerialNumber": (doc.get("hardware") or {}).get("serial_number")})
        for doc, vendor_id in batch.vendor_ids("agents", batch.get("assets"))]
    alerts = [with_id("AlertID", vendor_id, {
        **owner(doc), "Title": doc["title"], "AlertMessage": doc.get("message"),
        "Severity": ATERA_SEVERITY.get(doc["severity"], "Warning"), "Created": atera_time(doc["created_at"]),
        "DeviceName": None, "Archived": doc["status"] == "resolved",
        "ArchivedDate": atera_time(doc.get("resolved_at"))})
        for doc, vendor_id in batch.vendor_ids("alerts", batch.get("alerts"))]
    sim.seed(customers=batch.seeded("customers", customers), contacts=batch.seeded("contacts", contacts),
             tickets=batch.seeded("tickets", tickets), comments=batch.seeded("comments", comments),
             contracts=batch.seeded("contracts", contracts), invoices=batch.seeded("invoices", invoices),
             agents=batch.seeded("agents", agents), alerts=batch.seeded("alerts", alerts))
