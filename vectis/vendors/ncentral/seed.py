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
        customer_id = org.get(doc["customer_id"])
        acknowledged = doc["status"] == "acknowledged"
        issues.append(with_id("taskId", vendor_id, {
            "orgUnitId": customer_id, "deviceId": device_id,
            "notificationState": NC_STATE.get(doc["severity"], 4),
            "serviceName": doc["title"], "serviceType": "Monitoring",
            "_extra": {"transitionTime": utc_text(doc["created_at"]),
                       "deviceName": device_names.get(device_id),
                       "numberOfActiveNotification": 1,
                       "numberOfAcknowledgedNotification": 1 if acknowledged else 0,
                       "acknowledgedBy": _acknowledger(doc) if acknowledged else None,
                       "customerTree": [sim.so_name, names.get(customer_id) or ""]}}))
    sim.seed(customers=batch.seeded("customers", customers), devices=batch.seeded("devices", devices),
             issues=batch.seeded("issues", issues))


def _acknowledger(alert: dict) -> str:
    """Who acknowledged it: the last acknowledging actor in the alert's history."""
    actors = [h.get("actor") for h in alert.get("history") or () if h.get("action") == "acknowledged"]
    return str(actors[-1]) if actors and actors[-1] else "technician"
