"""Operations read tools: list_alerts, get_alert, list_assets, get_asset, list_backups_failing,
get_customer_status_snapshot."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from vectis.ids import new_id

from .support.rpc import structured
from .test_read_tools import OPEN_TICKET_STATUSES, ids_in_db, is_sorted, tenant_db, walk

OPEN_ALERTS = {"status": {"$in": ["open", "acknowledged"]}}
PRIORITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
SEVERITY_RANK = {"critical": 0, "major": 1, "moderate": 2, "minor": 3, "info": 4}


async def test_alerts_and_assets(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    open_alerts = await walk(http, acme, "list_alerts", limit=20)
    assert {a["id"] for a in open_alerts} == await ids_in_db(acme, "alerts", OPEN_ALERTS)
    assert {a["status"] for a in open_alerts} == {"open", "acknowledged"}
    assert is_sorted(open_alerts, "created_at", "id", descending=True)
    customer_id = open_alerts[0]["customer_id"]
    for args, query in (({"status": "resolved"}, {"status": "resolved"}),
                        ({"severity": "major"}, {**OPEN_ALERTS, "severity": "major"}),
                        ({"customer_id": customer_id}, {**OPEN_ALERTS, "customer_id": customer_id}),
                        ({"customer_id": customer_id, "status": "acknowledged", "severity": "critical"},
                         {"customer_id": customer_id, "status": "acknowledged", "severity": "critical"})):
        found = await walk(http, acme, "list_alerts", args, limit=25)
        assert {a["id"] for a in found} == await ids_in_db(acme, "alerts", query), args

    # get_alert: device, history, and the other alerts of its incident.
    alert = await db["alerts"].find_one({"asset_id": {"$ne": None}, "status": "resolved"})
    incident_id = new_id("inc")
    siblings = await db["alerts"].find({"customer_id": alert["customer_id"], "_id": {"$ne": alert["_id"]}}).limit(
        2).to_list()
    await db["alerts"].update_many({"_id": {"$in": [alert["_id"]] + [s["_id"] for s in siblings]}},
                                   {"$set": {"incident_id": incident_id}})
    got = await structured(http, acme.url, acme.token, "get_alert", {"alert_id": alert["_id"]})
    assert got["incident_id"] == incident_id and got["uuid"] == alert["uuid"]
    assert sorted(a["id"] for a in got["incident_alerts"]) == sorted(s["_id"] for s in siblings)
    assert got["device"]["id"] == alert["asset_id"] and got["customer"]["id"] == alert["customer_id"]
    assert [h["action"] for h in got["history"]] == [h["action"] for h in alert["history"]]
    assert got["history"][0]["action"] == "created" and got["resolved"]["at"] == got["resolved_at"]
    assert got["message"] == alert["message"] and got["source"]["vendor"] == alert["vendor"]
    acknowledged = [h for h in alert["history"] if h["action"] == "acknowledged"]
    assert (got["acknowledged"] or {}).get("actor") == (acknowledged[-1]["actor"] if acknowledged else None)
    lone = await db["alerts"].find_one({"incident_id": None, "asset_id": None})  # a Microsoft 365 backup alert
    lone_view = await structured(http, acme.url, acme.token, "get_alert", {"alert_id": lone["_id"]})
    assert lone_view["device"] is None and lone_view["incident_alerts"] == []

    # list_assets: every device by default, sorted by name; each filter.
    assets = await walk(http, acme, "list_assets", limit=200)
    assert {a["id"] for a in assets} == await ids_in_db(acme, "assets", {})
    assert is_sorted(assets, "name", "id", descending=False)
    assert {"retired", "online"} <= {a["status"] for a in assets}
    for args in ({"kind": "server"}, {"status": "offline"}, {"customer_id": customer_id},
                 {"customer_id": customer_id, "kind": "laptop", "status": "online"}):
        found = await walk(http, acme, "list_assets", args, limit=40)
        assert {a["id"] for a in found} == await ids_in_db(acme, "assets", args), args
        assert is_sorted(found, "name", "id", descending=False)

    asset = await db["assets"].find_one({"kind": "server"})
    full = await structured(http, acme.url, acme.token, "get_asset", {"asset_id": asset["_id"]})
    assert full["hardware"]["serial_number"] == asset["hardware"]["serial_number"]
    assert full["os"] == asset["os"] and full["warranty"]["status"] == asset["warranty"]["status"]
    assert full["lifecycle"]["stage"] == asset["lifecycle"]["stage"]
    assert full["site"]["name"] == asset["site"]["name"] and full["site"]["address"] == asset["site"]["address"]
    assert full["customer"]["id"] == asset["customer_id"] and full["source"]["vendor"] == "ninjaone"


async def test_failing_backups_and_customer_snapshot(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC)
    customer = await db["customers"].find_one({"status": "active"}, sort=[("_id", 1)])
    cid = customer["_id"]
    jobs = {name: _backup_job(cid, name, status, now - age) for name, status, age in (
        ("recent failure", "failed", timedelta(days=2)), ("recent warning", "warning", timedelta(hours=5)),
        ("old failure", "failed", timedelta(days=20)), ("fine", "success", timedelta(hours=1)))}
    await db["backup_jobs"].insert_many(list(jobs.values()))

    week = await walk(http, acme, "list_backups_failing", limit=4)
    failing = {"last_status": {"$in": ["failed", "warning"]}}
    assert {j["id"] for j in week} == await ids_in_db(
        acme, "backup_jobs", {**failing, "last_run_at": {"$gte": now - timedelta(days=7)}})
    assert jobs["recent failure"]["_id"] in {j["id"] for j in week}
    assert jobs["old failure"]["_id"] not in {j["id"] for j in week}
    assert is_sorted(week, "last_run_at", "id", descending=True)
    page = await structured(http, acme.url, acme.token, "list_backups_failing")
    assert abs(datetime.fromisoformat(page["since"]) - (now - timedelta(days=7))) < timedelta(minutes=1)
    wider = await walk(http, acme, "list_backups_failing", {"since": (now - timedelta(days=30)).date().isoformat()})
    assert {j["id"] for j in wider} == await ids_in_db(
        acme, "backup_jobs", {**failing, "last_run_at": {"$gte": now - timedelta(days=30)}})
    assert {j["id"] for j in week} < {j["id"] for j in wider}
    warnings = await walk(http, acme, "list_backups_failing", {"status": "warning", "customer_id": cid})
    assert [j["id"] for j in warnings] == [jobs["recent warning"]["_id"]]

    # Enough open tickets and alerts that the snapshot has to choose its top 5.
    await db["tickets"].insert_many([_ticket(cid, priority, now - timedelta(hours=n))
                                     for n, priority in enumerate(("low", "critical", "medium", "high", "critical",
                                                                   "low", "high"))])
    await db["alerts"].insert_many([_alert(cid, severity, now - timedelta(minutes=n))
                                    for n, severity in enumerate(("info", "major", "critical", "minor", "major",
                                                                  "critical"))])
    soon, later, expired = (_contract(cid, "active", now + timedelta(days=30)),
                            _contract(cid, "active", now + timedelta(days=90)),
                            _contract(cid, "expired", now + timedelta(days=10)))
    await db["contracts"].insert_many([soon, later, expired])

    snap = await structured(http, acme.url, acme.token, "get_customer_status_snapshot", {"customer_id": cid})
    assert snap["id"] == cid and snap["name"] == customer["name"] and snap["mrr"] == customer["mrr"]
    assert snap["arr"] == customer["arr"] and snap["health"]["grade"] == customer["health"]["grade"]

    open_tickets = await db["tickets"].find({"customer_id": cid, "status": {"$in": OPEN_TICKET_STATUSES}}).to_list()
    expected = sorted(open_tickets, key=lambda t: (PRIORITY_RANK[t["priority"]], -t["updated_at"].timestamp(),
                                                   _reverse(t["_id"])))[:5]
    assert snap["open_tickets"]["count"] == len(open_tickets) >= 7
    assert [t["id"] for t in snap["open_tickets"]["items"]] == [t["_id"] for t in expected]

    open_alerts = await db["alerts"].find({"customer_id": cid, **OPEN_ALERTS}).to_list()
    expected = sorted(open_alerts, key=lambda a: (SEVERITY_RANK[a["severity"]], -a["created_at"].timestamp(),
                                                  _reverse(a["_id"])))[:5]
    assert snap["open_alerts"]["count"] == len(open_alerts) >= 6
    assert [a["id"] for a in snap["open_alerts"]["items"]] == [a["_id"] for a in expected]

    backups = snap["failing_backups"]
    assert {j["id"] for j in backups["items"]} == {j["id"] for j in week if j["customer_id"] == cid}
    assert backups["count"] == len(backups["items"]) and jobs["old failure"]["_id"] not in str(backups)
    contracts = snap["expiring_contracts"]
    expected_ids = await ids_in_db(acme, "contracts", {
        "customer_id": cid, "status": "active", "end_date": {"$gte": now, "$lte": now + timedelta(days=60)}})
    assert {c["id"] for c in contracts["items"]} == expected_ids and contracts["count"] == len(expected_ids)
    assert soon["_id"] in expected_ids and not {later["_id"], expired["_id"]} & expected_ids
    assert is_sorted(contracts["items"], "end_date", "id", descending=False)
    vendors = {s["vendor"]: s for s in snap["sources"]}
    assert set(vendors) == {"connectwise", "ninjaone", "datto_bcdr"}
    assert all(s["last_sync_at"] for s in vendors.values())


def _reverse(text: str) -> tuple:
    return tuple(-ord(ch) for ch in text)


def _backup_job(customer_id: str, name: str, status: str, last_run_at: datetime) -> dict:
    return {"_id": new_id("bkp"), "customer_id": customer_id, "asset_id": None, "source_id": None,
            "vendor": "datto_bcdr", "name": name, "last_status": status, "last_run_at": last_run_at,
            "last_success_at": None, "last_error": None if status == "success" else "Snapshot failed",
            "size_gb": 12.5, "refs": [], "created_at": last_run_at, "updated_at": last_run_at}


def _ticket(customer_id: str, priority: str, updated_at: datetime) -> dict:
    return {"_id": new_id("tkt"), "uuid": str(uuid.uuid4()), "number": f"X-{new_id('n')[2:8]}",
            "customer_id": customer_id, "source_id": None, "origin": "portal", "subject": f"{priority} issue",
            "description": "", "status": "open", "priority": priority,
            "requester": {"name": "Pat Doe", "email": "pat@example.com"}, "assignee": None,
            "created_at": updated_at, "updated_at": updated_at, "closed_at": None, "message_count": 0, "refs": []}


def _alert(customer_id: str, severity: str, created_at: datetime) -> dict:
    return {"_id": new_id("alr"), "uuid": str(uuid.uuid4()), "customer_id": customer_id, "asset_id": None,
            "source_id": None, "vendor": "ninjaone", "severity": severity, "status": "open",
            "title": f"{severity} alert", "message": "", "incident_id": None,
            "history": [{"at": created_at, "action": "created", "actor": "ninjaone"}],
            "created_at": created_at, "updated_at": created_at, "resolved_at": None, "refs": []}


def _contract(customer_id: str, status: str, end_date: datetime) -> dict:
    return {"_id": new_id("ctr"), "customer_id": customer_id, "name": "Test agreement", "kind": "managed_services",
            "status": status, "start_date": end_date - timedelta(days=365), "end_date": end_date,
            "monthly_value": 123.0, "auto_renew": False, "source_id": None, "refs": [],
            "created_at": end_date, "updated_at": end_date}


async def test_snapshot_counts_past_the_listed_items(seeded, http):
    """A short list is counted by its length; a full one (MAX_LISTED) by a count of them all."""
    from vectis.tools.snapshot import MAX_LISTED
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC)
    cid = (await db["customers"].find_one({}, sort=[("_id", 1)]))["_id"]
    await db["contracts"].delete_many({"customer_id": cid})
    await db["contracts"].insert_many([_contract(cid, "active", now + timedelta(days=1 + n))
                                       for n in range(MAX_LISTED - 1)])
    snap = await structured(http, acme.url, acme.token, "get_customer_status_snapshot", {"customer_id": cid})
    assert snap["expiring_contracts"]["count"] == len(snap["expiring_contracts"]["items"]) == MAX_LISTED - 1
    await db["contracts"].insert_many([_contract(cid, "active", now + timedelta(days=30, hours=n))
                                       for n in range(3)])
    snap = await structured(http, acme.url, acme.token, "get_customer_status_snapshot", {"customer_id": cid})
    assert len(snap["expiring_contracts"]["items"]) == MAX_LISTED
    assert snap["expiring_contracts"]["count"] == MAX_LISTED + 2
