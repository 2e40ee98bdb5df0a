"""Seeding the N-able N-central simulator from one source's canonical documents."""
from __future__ import annotations

from ..simseed import Batch, live_alerts, os_name, utc_text, with_id

NC_DEVICE_CLASS = {"server": "Servers", "virtual_machine": "Servers", "workstation": "Workstations",
                   "laptop": "Laptop"}    # + " - Windows" / " - Linux" / ...; others below
NC_OTHER_CLASS = {"network": "Switch/Router", "printer": "Printer", "mobile": "Mobile Devices"}
NC_STATE = {"critical": 5, "major": 5, "moderate": 4, "minor": 4, "info": 4}   # 5 Failed, 4 Warning


def seed(sim, batch: Batch) -> None:
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
