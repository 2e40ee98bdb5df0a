"""Seeding the Datto BCDR simulator from one source's canonical documents."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from ..simseed import Batch, as_utc, epoch, live_alerts, utc_text
from .reader import alert_id
from .simulator import backup_entry

# One appliance per customer protects that customer's jobs; a job is an agent (a device image)
# or, without a device (the Microsoft 365 job), a share. Only "success" is a published
# `backup.status`; the failure and running words are unverified stand-ins.
DATTO_RESULT = {"success": "success", "warning": "success", "failed": "failure", "running": "inProgress"}
# Datto alerts carry a type, not a title. "Device Not Seen Alert" is published; the backup
# failure type name is an unverified stand-in of the same form.
BACKUP_ALERT_TYPE = "Backup Failure Alert"


def appliance_serial(customer_id: str) -> str:
    return hashlib.sha256(customer_id.encode()).hexdigest()[:12].upper()   # 12 hex like a MAC


def alert_ref(customer_id: str, triggered, taken: set[str]) -> str:
    """The id a sync reads back for a backup alert of this customer's appliance raised at
    `triggered` (Datto alerts have none of their own), a second later while `taken` has it."""
    triggered = as_utc(triggered)
    while (ref := alert_id(appliance_serial(customer_id),
                           {"type": BACKUP_ALERT_TYPE,
                            "dateTriggered": utc_text(triggered, suffix="+00:00")})) in taken:
        triggered += timedelta(seconds=1)
    taken.add(ref)
    return ref


def datto_asset(job: dict, volume: str) -> dict:
    status, error = job["last_status"], job.get("last_error")
    backups = []
    if job.get("last_run_at"):
        backups.append(backup_entry(DATTO_RESULT[status], as_utc(job["last_run_at"]),
                                    error if status == "failed" else None,
                                    [error] if status == "warning" and error else ()))
    if job.get("last_success_at") and job["last_success_at"] != job.get("last_run_at"):
        backups.append(backup_entry("success", as_utc(job["last_success_at"])))
    last_snapshot = epoch(job.get("last_success_at"))
    return {"name": job["name"].split(" - ")[0], "volume": volume,
            "type": "agent" if job.get("asset_id") else "share", "isPaused": False,
            "isArchived": False,
            "lastSnapshot": None if last_snapshot is None else int(last_snapshot),
            "backups": backups}   # newest first, as Datto lists them


def seed(sim, batch: Batch) -> None:
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
    for doc in live_alerts(batch):
        if doc["customer_id"] not in assets:       # no appliance of that customer to raise it
            batch.counts["skipped_alerts"] += 1
            continue
        serial = appliance_serial(doc["customer_id"])
        items = alerts.setdefault(serial, [])
        # The type and trigger time name an alert. A document that already holds such an id
        # (demo data does) is seeded under it, so a sync finds the same alert again.
        ref = batch.ref(doc) or ""
        if not ref.startswith(f"{serial}:"):
            ref = alert_ref(doc["customer_id"], doc["created_at"],
                            {alert_id(serial, a) for a in items})
        _, kind, when = ref.split(":", 2)
        items.append({"type": kind, "threshold": None, "unit": None,
                      "dateTriggered": when, "dateSent": when})
    batch.seeded("assets", [asset for items in assets.values() for asset in items])
    batch.seeded("alerts", [alert for items in alerts.values() for alert in items])
    sim.seed(devices=batch.seeded("devices", devices), alerts=alerts,
             assets={appliance_serial(customer_id): items for customer_id, items in assets.items()})
