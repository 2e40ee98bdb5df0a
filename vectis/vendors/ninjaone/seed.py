"""Seeding the NinjaOne simulator from one source's canonical documents.

NinjaOne lists triggered conditions only and its alerts have no status: an alert acknowledged in
Vectis was reset at NinjaOne (both alert verbs reset the condition), so like a resolved one it is
not listed (counted as `skipped_reset_alerts`). Absent values are left out, never sent as null.
"""
from __future__ import annotations

from ..reading import present
from ..simseed import Batch, epoch, is_server, live_alerts, os_name, stable_uuid, with_id

NINJA_SEVERITY = {"critical": "CRITICAL", "major": "MAJOR", "moderate": "MODERATE", "minor": "MINOR",
                  "info": "NONE"}
NINJA_PRIORITY = {"critical": "HIGH", "major": "HIGH", "moderate": "MEDIUM", "minor": "LOW",
                  "info": "NONE"}
NINJA_NETWORK = {"FW": "NMS_FIREWALL", "AP": "NMS_WAP"}   # host-name prefix; other devices: switch
# Words of the alert title -> Alert.sourceType (the spec's enum); anything else: a script result.
NINJA_SOURCE = (("offline", "AGENT_OFFLINE"), ("disk", "CONDITION_AGENT_DISK_FREE_SPACE"),
                ("cpu", "CONDITION_AGENT_CPU"), ("memory", "CONDITION_AGENT_MEMORY"),
                ("ram", "CONDITION_AGENT_MEMORY"), ("patch", "CONDITION_AGENT_PATCH_LAST_INSTALLED"),
                ("reboot", "CONDITION_PENDING_REBOOT"), ("service", "CONDITION_WINDOWS_SERVICE_STATE_CHANGED"),
                ("ping", "CONDITION_PING"), ("smart", "CONDITION_SMART_STATUS_DEGRATED"),
                ("raid", "CONDITION_RAID_HEALTH_STATUS"), ("uptime", "CONDITION_SYSTEM_UPTIME"))


def ninja_source_type(title: str) -> str:
    words = title.lower()
    return next((kind for word, kind in NINJA_SOURCE if word in words), "CONDITION_SCRIPT_RESULT")


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


def seed(sim, batch: Batch) -> None:
    organizations = [{"id": vendor_id, "name": doc["name"], "nodeApprovalMode": "AUTOMATIC"}
                     for doc, vendor_id, _address in batch.companies("organizations")]
    org = batch.ids["companies"]
    devices = [with_id("id", vendor_id, present({
        "uid": stable_uuid(doc["_id"]), "organizationId": org.get(doc["customer_id"]),
        "nodeClass": ninja_node_class(doc), "displayName": doc["name"], "systemName": doc["name"],
        "offline": doc.get("status") != "online", "lastContact": epoch(doc.get("last_seen_at")),
        "approvalStatus": "APPROVED", "ipAddresses": [doc["ip_address"]] if doc.get("ip_address") else [],
        "os": present({"name": os_name(doc), "releaseId": (doc.get("os") or {}).get("version"),
                       "buildNumber": (doc.get("os") or {}).get("build")}) or None,
        "system": present({key: (doc.get("hardware") or {}).get(field) for key, field in (
            ("manufacturer", "manufacturer"), ("model", "model"),
            ("serialNumber", "serial_number"))}) or None}))
        for doc, vendor_id in batch.vendor_ids("devices", batch.get("assets"))]
    live = live_alerts(batch)
    triggered = [doc for doc in live if doc["status"] != "acknowledged"]
    batch.counts["skipped_reset_alerts"] += len(live) - len(triggered)
    alerts = [with_id("uid", uid, present({
        "deviceId": batch.vendor_id("devices", doc.get("asset_id")), "subject": doc["title"],
        "message": doc.get("message"), "severity": NINJA_SEVERITY.get(doc["severity"], "NONE"),
        "priority": NINJA_PRIORITY.get(doc["severity"], "NONE"),
        "sourceType": ninja_source_type(doc["title"]), "sourceName": doc["title"],
        "createTime": epoch(doc["created_at"]),
        "updateTime": epoch(doc.get("updated_at") or doc["created_at"])}))
        for doc, uid in batch.vendor_ids("alerts", triggered, numeric=False)]
    sim.seed(organizations=batch.seeded("organizations", organizations),
             devices=batch.seeded("devices", devices), alerts=batch.seeded("alerts", alerts))
