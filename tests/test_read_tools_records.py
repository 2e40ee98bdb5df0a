"""Record read tools: list_contracts, list_invoices, list_recent_changes, list_rules,
list_rule_executions, search_global."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vectis.ids import new_id

from .support.rpc import structured
from .test_read_tools import (
    error_text,
    execution_documents,
    ids_in_db,
    is_sorted,
    rule_documents,
    tenant_db,
    walk,
)


async def test_contracts_invoices_and_notes(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC)
    active = await walk(http, acme, "list_contracts", limit=3)
    assert {c["id"] for c in active} == await ids_in_db(acme, "contracts", {"status": "active"})
    assert is_sorted(active, "end_date", "id", descending=False)
    assert await db["contracts"].count_documents({"status": {"$ne": "active"}})  # the others exist
    customer_id = active[0]["customer_id"]
    for args, query in (
            ({"expiring_within_days": 200},
             {"status": "active", "end_date": {"$gte": now, "$lte": now + timedelta(days=200)}}),
            ({"status": "expired"}, {"status": "expired"}),
            ({"customer_id": customer_id}, {"status": "active", "customer_id": customer_id}),
            ({"customer_id": customer_id, "expiring_within_days": 3650},
             {"status": "active", "customer_id": customer_id, "end_date": {"$gte": now}})):
        found = await walk(http, acme, "list_contracts", args, limit=3)
        assert {c["id"] for c in found} == await ids_in_db(acme, "contracts", query), args

    invoices = await walk(http, acme, "list_invoices", limit=15)
    assert {i["id"] for i in invoices} == await ids_in_db(acme, "invoices", {})
    assert is_sorted(invoices, "issued_at", "id", descending=True)
    assert all(i["lines"] and i["currency"] == "USD" for i in invoices)
    middle = invoices[len(invoices) // 2]["issued_at"]
    for args, query in (
            ({"status": "paid"}, {"status": "paid"}),
            ({"since": middle[:10]}, {"issued_at": {"$gte": datetime.fromisoformat(middle[:10]).replace(tzinfo=UTC)}}),
            ({"customer_id": customer_id, "status": "open"}, {"customer_id": customer_id, "status": "open"})):
        found = await walk(http, acme, "list_invoices", args, limit=15)
        assert {i["id"] for i in found} == await ids_in_db(acme, "invoices", query), args
    since_middle = await walk(http, acme, "list_invoices", {"since": middle})
    assert since_middle and all(i["issued_at"] >= middle for i in since_middle)

    notes = await walk(http, acme, "list_recent_changes", limit=5)
    assert {n["id"] for n in notes} == await ids_in_db(acme, "notes", {})
    assert is_sorted(notes, "created_at", "id", descending=True)
    assert all(n["author"]["email"].endswith("@acme.example") for n in notes)
    assert any(n["related"] and n["related"]["kind"] == "ticket" for n in notes)
    noted = notes[0]["customer_id"]
    found = await walk(http, acme, "list_recent_changes", {"customer_id": noted})
    assert {n["id"] for n in found} == await ids_in_db(acme, "notes", {"customer_id": noted})
    cutoff = notes[len(notes) // 2]["created_at"]
    found = await walk(http, acme, "list_recent_changes", {"since": cutoff})
    assert [n["id"] for n in found] == [n["id"] for n in notes if n["created_at"] >= cutoff]


async def test_rules_executions_and_global_search(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC)
    empty = {"items": [], "next_cursor": None, "count": 0}
    assert await structured(http, acme.url, acme.token, "list_rules") == empty
    assert await structured(http, acme.url, acme.token, "list_rule_executions") == empty

    rules = rule_documents(7, now=now)
    executions = execution_documents(rules, 20, now=now)
    await db["rules"].insert_many(rules)
    await db["rule_executions"].insert_many(executions)
    listed = await walk(http, acme, "list_rules", limit=3)
    assert [r["id"] for r in listed] == [r["_id"] for r in sorted(rules, key=lambda r: r["name"])]
    assert listed[0]["trigger"]["event"] == "alert.created" and listed[0]["actions"][0]["verb"] == "create_ticket"
    for enabled in (True, False):
        found = await walk(http, acme, "list_rules", {"enabled": enabled}, limit=2)
        assert {r["id"] for r in found} == {r["_id"] for r in rules if r["enabled"] is enabled}

    history = await walk(http, acme, "list_rule_executions", limit=6)
    assert [e["id"] for e in history] == [e["_id"] for e in executions]  # created newest first
    dead = await walk(http, acme, "list_rule_executions", {"status": "dead_letter"})
    assert {e["id"] for e in dead} == await ids_in_db(acme, "rule_executions", {"status": "dead_letter"}) != set()
    rule_id = rules[1]["_id"]
    of_rule = await walk(http, acme, "list_rule_executions", {"rule_id": rule_id}, limit=2)
    assert {e["id"] for e in of_rule} == {e["_id"] for e in executions if e["rule_id"] == rule_id}
    recent = await walk(http, acme, "list_rule_executions", {"since": (now - timedelta(hours=4, minutes=30)).isoformat()})
    assert [e["id"] for e in recent] == [e["_id"] for e in executions[:5]]
    assert "No rule with id" in await error_text(http, acme, "list_rule_executions", {"rule_id": new_id("rul")})

    # search_global: a category per kind of record, each capped, hits best first.
    customer = await db["customers"].find_one({})
    asset = await db["assets"].find_one({"kind": "server"})
    note = await db["notes"].find_one({})
    found = await structured(http, acme.url, acme.token, "search_global", {"query": customer["name"]})
    assert set(found) == {"query", "customers", "tickets", "devices", "alerts", "notes", "count"}
    assert found["customers"][0]["id"] == customer["_id"] and found["customers"][0]["score"] == 1.0
    assert all(len(found[c]) <= 5 for c in ("customers", "tickets", "devices", "alerts", "notes"))
    assert found["count"] == sum(len(found[c]) for c in ("customers", "tickets", "devices", "alerts", "notes"))
    by_serial = await structured(http, acme.url, acme.token, "search_global",
                                 {"query": asset["hardware"]["serial_number"], "per_category": 2})
    assert by_serial["devices"][0]["id"] == asset["_id"]
    assert all(len(by_serial[c]) <= 2 for c in ("customers", "tickets", "devices", "alerts", "notes"))
    by_body = await structured(http, acme.url, acme.token, "search_global", {"query": note["body"][:60],
                                                                             "per_category": 20})
    assert note["_id"] in {n["id"] for n in by_body["notes"]}
    assert is_sorted(by_body["notes"], "score", descending=True)
