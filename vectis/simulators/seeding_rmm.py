"""Seeding the RMM and backup simulators (and Atera, an RMM with a built-in PSA) from one source's
canonical documents; the shared helpers and the entry point are in `seeding`.

RMMs list current conditions only: a NinjaOne reset alert, a deleted VSA X notification or a
cleared N-central issue is gone, so only open and acknowledged alerts are seeded there (resolved
ones are counted as `skipped_resolved_alerts`). Atera keeps resolved alerts, archived.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import datetime

from .seeding import Batch, as_utc, split_name, utc_text, with_id


def epoch(moment: datetime | None) -> float | None:
    moment = as_utc(moment)
    return None if moment is None else moment.timestamp()


def live_alerts(batch: Batch) -> list[dict]:
    live = [alert for alert in batch.get("alerts") if alert.get("status") != "resolved"]
    batch.counts["skipped_resolved_alerts"] += len(batch.get("alerts")) - len(live)
    return live


def stable_uuid(vectis_id: str) -> str:
    """A vendor-side GUID the canonical data does not keep (device uids): the same every run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"vectis:{vectis_id}"))


def is_server(asset: dict) -> bool:
    return asset.get("kind") in ("server", "virtual_machine")


def os_name(asset: dict) -> str:
    return str((asset.get("os") or {}).get("name") or "")


# --- Atera -------------------------------------------------------------------------------------
ATERA_STATUS = {"new": "Open", "open": "Open", "in_progress": "Open", "waiting": "Pending",
                "resolved": "Resolved", "closed": "Closed"}
ATERA_SEVERITY = {"critical": "Critical", "major": "Warning", "moderate": "Warning",
                  "minor": "Information", "info": "Information"}


def atera_time(moment: datetime | None) -> str | None:
    return utc_text(moment, "microseconds")


def seed_atera(sim, batch: Batch) -> None:
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
        "ContractType": {"block_hours": "Block", "project": "ProjectOneTimeFee"}.get(doc["kind"],
                                                                                   "RetainerFlatFee"),
        "StartDate": atera_time(doc.get("start_date")), "EndDate": atera_time(doc.get("end_date"))})
        for doc, vendor_id in batch.vendor_ids("contracts", batch.get("contracts"))]
    invoices = [with_id("InvoiceNumber", vendor_id, {
        **owner(doc), "InvoiceDate": atera_time(doc["issued_at"]), "Total": doc["total"],
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


# --- NinjaOne ----------------------------------------------------------------------------------
NINJA_SEVERITY = {"critical": "CRITICAL", "major": "MAJOR", "moderate": "MODERATE", "minor": "MINOR",
                  "info": "NONE"}
NINJA_PRIORITY = {"critical": "HIGH", "major": "HIGH", "moderate": "MEDIUM", "minor": "LOW",
                  "info": "NONE"}
NINJA_NETWORK = {"FW": "NMS_FIREWALL", "AP": "NMS_WAP"}   # host-name prefix; other devices: switch


def ninja_node_class(asset: dict) -> str:
    name, kind = os_name(asset).lower(), asset.get("kind")
    if kind == "network":
        return NINJA_NETWORK.get(asset["name"][:2], "NMS_SWITCH")
    if kind in ("printer", "mobile"):
        return "NMS_PRINTER" if kind == "printer" else ("ANDROID" if "android" in name else "APPLE_IOS")
    if "mac" in name:
        return "MAC"
    if "windows" not in name:
        return "LINUX_SERVER" if is_server(asset) else "LINUX_WORKSTATION"
    return "WINDOWS_SERVER" if is_server(asset) else "WINDOWS_WORKSTATION"


def seed_ninjaone(sim, batch: Batch) -> None:
    organizations = [{"id": vendor_id, "name": doc["name"], "nodeApprovalMode": "AUTOMATIC"}
                     for doc, vendor_id, _address in batch.companies("organizations")]
    org = batch.ids["companies"]
    devices = [with_id("id", vendor_id, {
        "uid": stable_uuid(doc["_id"]), "organizationId": org.get(doc["customer_id"]),
        "nodeClass": ninja_node_class(doc), "displayName": doc["name"], "systemName": doc["name"],
        "offline": doc.get("status") != "online", "lastContact": epoch(doc.get("last_seen_at")),
        "approvalStatus": "APPROVED", "ipAddresses": [doc["ip_address"]] if doc.get("ip_address") else [],
        "os": {"name": os_name(doc), "releaseId": (doc.get("os") or {}).get("version"),
               "buildNumber": (doc.get("os") or {}).get("build")},
        "system": {key: (doc.get("hardware") or {}).get(field) for key, field in (
            ("manufacturer", "manufacturer"), ("model", "model"), ("serialNumber", "serial_number"))}})
        for doc, vendor_id in batch.vendor_ids("devices", batch.get("assets"))]
    alerts = [with_id("uid", uid, {
        "deviceId": batch.vendor_id("devices", doc.get("asset_id")), "subject": doc["title"],
        "message": doc.get("message"), "severity": NINJA_SEVERITY.get(doc["severity"], "NONE"),
        "priority": NINJA_PRIORITY.get(doc["severity"], "NONE"), "sourceType": "CONDITION",
        "sourceName": doc["title"], "createTime": epoch(doc["created_at"]),
        "updateTime": epoch(doc.get("updated_at") or doc["created_at"]),
        **({"status": "ACKNOWLEDGED"} if doc["status"] == "acknowledged" else {})})
        for doc, uid in batch.vendor_ids("alerts", live_alerts(batch), numeric=False)]
    sim.seed(organizations=batch.seeded("organizations", organizations),
             devices=batch.seeded("devices", devices), alerts=batch.seeded("alerts", alerts))


# --- Datto BCDR --------------------------------------------------------------------------------
# One appliance per customer protects that customer's jobs; a job is an agent (a device image)
# or, without a device (the Microsoft 365 job), a share.
DATTO_RESULT = {"success": "success", "warning": "success", "failed": "failure", "running": "inProgress"}


def appliance_serial(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()[:12].upper()   # 12 hex like a MAC


def datto_asset(job: dict, volume: str) -> dict:
    status, error = job["last_status"], job.get("last_error")
    backups = [{"status": DATTO_RESULT[status], "timestamp": epoch(job.get("last_run_at")),
                "errorMessage": error if status == "failed" else None,
                "localVerification": {"errors": [{"errorType": "verification", "errorMessage": error}]
                                      if status == "warning" and error else []}}]
    if job.get("last_success_at") and job["last_success_at"] != job.get("last_run_at"):
        backups.append({"status": "success", "timestamp": epoch(job["last_success_at"]),
                        "errorMessage": None, "localVerification": {"errors": []}})
    return {"name": job["name"].split(" - ")[0], "volume": volume,
            "type": "agent" if job.get("asset_id") else "share", "isPaused": False,
            "isArchived": False, "lastSnapshot": epoch(job.get("last_success_at")),
            "backups": backups}   # newest first, as Datto lists them


def seed_datto_bcdr(sim, batch: Batch) -> None:
    assets: dict[str, list[dict]] = {}
    jobs = batch.get("backup_jobs")
    for doc, volume in batch.vendor_ids("assets", jobs, numeric=False):
        assets.setdefault(doc["customer_id"], []).append(datto_asset(doc, volume))
    devices = []
    for customer_id in sorted(assets):
        name = batch.customers.get(customer_id, {}).get("name", customer_id)
        runs = [as_utc(j["last_run_at"]) for j in jobs if j["customer_id"] == customer_id and j.get("last_run_at")]
        devices.append({
            "serialNumber": appliance_serial(customer_id), "name": f"{name} SIRIS",
            "clientCompanyName": name, "hidden": False, "activeTickets": 0,
            "lastSeenDate": utc_text(max(runs), suffix="+00:00") if runs else None,
            "localStorageUsed": {"size": round(sum(j.get("size_gb") or 0 for j in jobs
                                                   if j["customer_id"] == customer_id), 1), "units": "GB"}})
    alerts: dict[str, list[dict]] = {}
    for doc, vendor_id in batch.vendor_ids("alerts", live_alerts(batch)):
        if doc["customer_id"] not in assets:       # no appliance of that customer to raise it
            batch.counts["skipped_alerts"] += 1
            continue
        alerts.setdefault(appliance_serial(doc["customer_id"]), []).append({
            "id": vendor_id, "type": "backup", "message": doc.get("message"), "title": doc["title"],
            "dateTriggered": utc_text(doc["created_at"], suffix="+00:00")})
    batch.seeded("assets", [asset for items in assets.values() for asset in items])
    batch.seeded("alerts", [alert for items in alerts.values() for alert in items])
    sim.seed(devices=batch.seeded("devices", devices), alerts=alerts,
             assets={appliance_serial(customer_id): items for customer_id, items in assets.items()})


# --- N-able N-central --------------------------------------------------------------------------
NC_DEVICE_CLASS = {"server": "Servers", "virtual_machine": "Servers", "workstation": "Workstations",
                   "laptop": "Laptop"}    # + " - Windows" / " - Linux" / ...; others below
NC_OTHER_CLASS = {"network": "Switch/Router", "printer": "Printer", "mobile": "Mobile Devices"}
NC_STATE = {"critical": 5, "major": 5, "moderate": 4, "minor": 4, "info": 4}   # 5 Failed, 4 Warning


def seed_ncentral(sim, batch: Batch) -> None:
    customers = [{
        "customerId": vendor_id, "customerName": doc["name"], "parentId": sim.so_id,
        "street1": address.get("street"), "city": address.get("city"), "stateProv": address.get("state"),
        "postalCode": address.get("postal_code"), "country": address.get("country")}
        for doc, vendor_id, address in batch.companies("customers", first=sim.so_id + 1)]
    org, names = batch.ids["companies"], {c["customerId"]: c["customerName"] for c in customers}
    devices = []
    for doc, vendor_id in batch.vendor_ids("devices", batch.get("assets")):
        family = "Windows" if "windows" in os_name(doc).lower() else "Linux"
        device_class = NC_OTHER_CLASS.get(doc["kind"]) or f"{NC_DEVICE_CLASS[doc['kind']]} - {family}"
        customer_id = org.get(doc["customer_id"])
        devices.append(with_id("deviceId", vendor_id, {
            "longName": doc["name"], "deviceClass": device_class, "supportedOs": os_name(doc),
            "customerId": customer_id, "customerName": names.get(customer_id), "orgUnitId": customer_id,
            "soId": sim.so_id, "lastApplianceCheckinTime": utc_text(doc.get("last_seen_at"))}))
    device_names = {d["deviceId"]: d["longName"] for d in devices if "deviceId" in d}
    issues = []
    for doc, vendor_id in batch.vendor_ids("issues", live_alerts(batch)):
        device_id = batch.vendor_id("devices", doc.get("asset_id"))
        issues.append(with_id("taskId", vendor_id, {
            "orgUnitId": org.get(doc["customer_id"]), "customerId": org.get(doc["customer_id"]),
            "deviceId": device_id, "deviceName": device_names.get(device_id),
            "serviceName": doc["title"], "notificationState": NC_STATE.get(doc["severity"], 4),
            "acknowledged": doc["status"] == "acknowledged",
            "transitionTime": utc_text(doc["created_at"])}))
    sim.seed(customers=batch.seeded("customers", customers), devices=batch.seeded("devices", devices),
             issues=batch.seeded("issues", issues))


# --- Kaseya VSA X ------------------------------------------------------------------------------
VSAX_PRIORITY = {"critical": "Critical", "major": "Elevated", "moderate": "Normal", "minor": "Low",
                 "info": "Low"}


def seed_kaseya_vsax(sim, batch: Batch) -> None:
    organizations = [{"Id": vendor_id, "Name": doc["name"]}
                     for doc, vendor_id, _address in batch.companies("organizations")]
    org, names = batch.ids["companies"], {o["Id"]: o["Name"] for o in organizations}
    devices, assets = [], []
    for doc, identifier in batch.vendor_ids("devices", batch.get("assets"), numeric=False):
        org_id, hardware, system = org.get(doc["customer_id"]), doc.get("hardware") or {}, doc.get("os") or {}
        group = f"{names.get(org_id)} - {(doc.get('site') or {}).get('name') or 'Main'}"
        common = {"Identifier": identifier, "Name": doc["name"], "GroupName": group,
                  "Description": doc.get("kind")}
        devices.append({**common, "OrganizationId": org_id, "OrganizationName": names.get(org_id),
                        "IsOnline": doc.get("status") == "online"})
        assets.append({**common, "IpAddresses": [doc["ip_address"]] if doc.get("ip_address") else [],
                       "LastSeenOnline": utc_text(doc.get("last_seen_at")),
                       "OperatingSystem": {"Name": system.get("name"), "Version": system.get("version"),
                                           "BuildNumber": system.get("build")},
                       "System": {"Manufacturer": hardware.get("manufacturer"),
                                  "Model": hardware.get("model"),
                                  "SerialNumber": hardware.get("serial_number")}})
    notifications = [{
        "Id": vendor_id, "Title": doc["title"], "Message": doc.get("message"),
        "Priority": VSAX_PRIORITY.get(doc["severity"], "Normal"),
        "DeviceIdentifier": batch.vendor_id("devices", doc.get("asset_id")),
        "OrganizationId": org.get(doc["customer_id"]), "CreatedAt": utc_text(doc["created_at"])}
        for doc, vendor_id in batch.vendor_ids("notifications", live_alerts(batch))]
    sim.seed(organizations=batch.seeded("organizations", organizations),
             devices=batch.seeded("devices", devices), assets=batch.seeded("assets", assets),
             notifications=batch.seeded("notifications", notifications))


SEEDERS: dict[str, Callable[..., None]] = {
    "atera": seed_atera, "ninjaone": seed_ninjaone, "datto_bcdr": seed_datto_bcdr,
    "ncentral": seed_ncentral, "kaseya_vsax": seed_kaseya_vsax}
