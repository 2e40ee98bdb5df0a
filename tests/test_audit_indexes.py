"""The audit log's target indexes are partial (a read tool's row, with no target, writes no entry
there), still serve get_audit_log_for_ticket's queries, and replace the older full indexes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ASCENDING, DESCENDING, IndexModel

from vectis.audit import audit_row

ACTOR = {"kind": "pat", "credential_id": "pat_x", "user_id": "usr_x", "email": "a@b.example",
         "client_id": None}


def index_names(plan) -> set[str]:
    """Every index an explain output names, at any depth (MongoDB and SecantusDB nest differently)."""
    if isinstance(plan, dict):
        found = {plan["indexName"]} if isinstance(plan.get("indexName"), str) else set()
        return found.union(*(index_names(v) for v in plan.values()))
    if isinstance(plan, list):
        return set().union(*(index_names(v) for v in plan))
    return set()


async def test_ticket_queries_use_the_partial_indexes_and_reads_stay_out(storage):
    await storage.tenants.ensure("acme", "Acme")
    now = datetime.now(UTC)
    rows = []
    for i in range(30):
        target = None
        if i % 3 == 0:
            target = {"kind": "ticket", "id": f"tkt_{i % 2}", "uuid": f"{i % 2:02d}aa-bb"}
        elif i % 3 == 1:
            target = {"kind": "oauth_grant", "id": f"gra_{i}", "uuid": None}
        row = audit_row(actor=ACTOR, action="x", status="success",
                        kind="read" if target is None else "write", target=target)
        row["at"] = now - timedelta(seconds=i)
        rows.append(row)
    await storage.audit.insert("acme", rows)
    log = storage.db.tenant("acme")["audit_log"]
    by_id = {"target.kind": "ticket", "target.id": "tkt_0"}
    by_uuid = {"target.kind": "ticket", "target.uuid": {"$gte": "00", "$lt": "01"}}
    order = [("at", -1), ("_id", -1)]
    assert "targeted" in index_names(await log.find(by_id).sort(order).limit(5).explain())
    assert "targeted_uuid" in index_names(await log.find(by_uuid).sort(order).limit(5).explain())
    # The answers are those of a scan (the index holds every row the queries can match).
    expected = [r["_id"] for r in sorted(rows, key=lambda r: r["at"], reverse=True)
                if r["target"] and r["target"]["kind"] == "ticket" and r["target"]["id"] == "tkt_0"]
    found = await storage.audit.for_ticket("acme", "tkt_0", None, limit=50)
    assert [r["_id"] for r in found] == expected and len(expected) == 5
    assert [r["_id"] for r in await storage.audit.for_ticket("acme", None, "00A", limit=50)] == expected
    # Shapes that do not imply the filter are still answered right (here by a scan).
    assert len(await log.find({"target.id": "tkt_0"}).to_list()) == 5
    assert len(await log.find({"target.kind": "ticket", "target.id": "tkt_0",
                               "target.customer_id": {"$in": ["cus_a"]}}).to_list()) == 0
    # A write completed later (its target set by finalize) enters the index.
    late = audit_row(actor=ACTOR, action="reply_to_ticket", status="pending", kind="write")
    await storage.audit.insert("acme", [late])
    await storage.audit.finalize("acme", late["_id"], {"status": "success", "target": {
        "kind": "ticket", "id": "tkt_0", "uuid": "00aa-bb"}})
    found = await storage.audit.for_ticket("acme", "tkt_0", "00aa", limit=50)
    assert found[0]["_id"] == late["_id"] and len(found) == 6


async def test_the_full_target_indexes_of_an_older_version_are_replaced(storage):
    log = storage.db.tenant("acme")["audit_log"]
    await log.create_indexes([
        IndexModel([("target.kind", ASCENDING), ("target.id", ASCENDING), ("at", DESCENDING)], name="target"),
        IndexModel([("target.kind", ASCENDING), ("target.uuid", ASCENDING)], name="target_uuid")])
    await storage.tenants.ensure("acme", "Acme")
    indexes = {i["name"]: i for i in await (await log.list_indexes()).to_list()}
    assert "target" not in indexes and "target_uuid" not in indexes
    assert indexes["targeted"]["partialFilterExpression"] == {"target.kind": {"$gt": ""}}
    assert indexes["targeted_uuid"]["partialFilterExpression"] == {"target.kind": {"$gt": ""}}
