"""Seeding the Kaseya VSA X simulator from one source's canonical documents."""
from __future__ import annotations

from ..simseed import Batch, live_alerts, utc_text

VSAX_PRIORITY = {"critical": "Critical", "major": "Elevated", "moderate": "Normal", "minor": "Low",
                 "info": "Low"}


def seed(sim, batch: Batch) -> None:
    organizations = [{"Id": vendor_id, "Name": doc["name"]}
                     for doc, vendor_id, _address in batch.companies("organizations")]
    org, names = batch.ids["companies"], {o["Id"]: o["Name"] for o in organizations}
    devices, assets = [], []
    for doc, identifier in batch.vendor_ids("devices", batch.get("assets"), numeric=False):
        org_id, hardware, system = org.get(doc["customer_id"]), doc.get("hardware") or {}, doc.get("os") or {}
        site = (doc.get("site") or {}).get("name") or "Main"
        # Description is free text that VSA X users read as the OS description.
        common = {"Identifier": identifier, "Name": doc["name"],
                  "GroupName": f"{names.get(org_id)} - {site}", "Description": system.get("name")}
        devices.append({**common, "SiteName": site, "OrganizationId": org_id,
                        "OrganizationName": names.get(org_id),
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
