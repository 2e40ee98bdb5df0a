"""Seeding the HaloPSA simulator from one source's canonical documents."""
from __future__ import annotations

from datetime import datetime

from ..simseed import Batch, as_utc, named, with_id
from .wire import NO_DATE

HALO_STATUS = {"new": "New", "open": "Action Required", "in_progress": "In Progress",
               "waiting": "Waiting on User", "resolved": "Resolved", "closed": "Closed"}
HALO_PRIORITY = {"critical": 1, "high": 2, "medium": 3, "low": 4}   # Halo's default P1..P4 ids


def halo_time(moment: datetime | None, unset: str | None = None) -> str | None:
    """Halo's form: UTC, 7 fraction digits, `Z` (2022-09-30T08:23:56.4214387Z); `unset` when
    there is no date (Halo writes `1900-01-01T00:00:00` for an unset date field)."""
    moment = as_utc(moment)
    return unset if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def seed(sim, batch: Batch) -> None:
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
            "dateclosed": halo_time(doc.get("closed_at"), NO_DATE)}))
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
        "start_date": halo_time(doc.get("start_date"), NO_DATE),
        "end_date": halo_time(doc.get("end_date"), NO_DATE),
        "active": doc["status"] == "active", "periodchargeamount": doc.get("monthly_value")})
        for doc, vendor_id in batch.vendor_ids("contracts", batch.get("contracts"))]
    invoices = [with_id("id", vendor_id, {
        "client_id": client.get(doc["customer_id"]), "invoicenumber": doc["number"],
        "invoice_date": halo_time(doc["issued_at"]), "duedate": halo_time(doc.get("due_at"), NO_DATE),
        "total": doc["total"], "amountdue": doc["balance"], "posted": doc["status"] != "draft",
        "paymentstatus": 2 if doc["balance"] == 0 else int(doc["balance"] < doc["total"]),  # 0 unpaid, 1 part, 2 paid
        "lines": [{"item_shortdescription": line["description"], "qty_order": line["quantity"],
                   "unit_price": line["unit_price"], "net_amount": line["amount"]}
                  for line in doc.get("lines") or ()]})
        for doc, vendor_id in batch.vendor_ids("invoices", batch.get("invoices"))]
    sim.seed(clients=batch.seeded("clients", clients), users=batch.seeded("users", users),
             tickets=batch.seeded("tickets", tickets), actions=batch.seeded("actions", actions),
             contracts=batch.seeded("contracts", contracts), invoices=batch.seeded("invoices", invoices))
