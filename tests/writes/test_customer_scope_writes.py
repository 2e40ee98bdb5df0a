"""Writes of a customer-scoped credential over a real vendor simulator: a target of another
customer is not found before anything is planned or sent (dry runs too), a target of its own
customer is written as usual, and the audit rows carry the scope and the target's customer."""
from __future__ import annotations

from vectis.credentials.issue import issue_pat
from vectis.scopes import ALL_SCOPES

from ..support.rpc import call_tool, structured
from .conftest import customer_with_psa

OPEN = ["new", "open", "in_progress", "waiting"]


def vendor_writes(sim) -> int:
    return sum(n for route, n in sim.calls.items() if not route.startswith("GET"))


async def restricted_token(tenant, customers: frozenset[str]) -> str:
    storage = tenant.server.storage
    user = await storage.users.by_email(tenant.slug, tenant.admin_email)
    await storage.users.set_customers(tenant.slug, user["_id"], customers)
    token, _ = await issue_pat(storage, tenant.server.config.token_pepper, tenant.slug,
                               await storage.users.by_id(tenant.slug, user["_id"]), label="scoped",
                               scopes=ALL_SCOPES, expires_days=None, max_expires_days=30)
    return token


async def test_writes_outside_the_scope_never_reach_the_vendor(make_vendor_tenant, http):
    tenant = await make_vendor_tenant("scoped-writes", ("connectwise", "ninjaone", "datto_bcdr"))
    mine = await customer_with_psa(tenant)
    token = await restricted_token(tenant, frozenset([mine["_id"]]))
    psa = tenant.sources["psa"]["_id"]
    other_ticket = await tenant.db["tickets"].find_one(
        {"source_id": psa, "customer_id": {"$ne": mine["_id"]}, "status": {"$in": OPEN}})
    other_customer = await tenant.db["customers"].find_one({"_id": {"$ne": mine["_id"]}})
    other_alert = await tenant.db["alerts"].find_one({"customer_id": {"$ne": mine["_id"]}, "status": "open",
                                                      "source_id": tenant.sources["rmm"]["_id"]})
    sims = [tenant.sim(kind) for kind in ("psa", "rmm")]
    before = [vendor_writes(sim) for sim in sims]
    attempts = [
        ("create_ticket", {"customer_id": other_customer["_id"], "subject": "s", "description": "d"}, "No customer"),
        ("reply_to_ticket", {"ticket_id": other_ticket["_id"], "body": "hello"}, "No ticket"),
        ("add_internal_note", {"ticket_id": other_ticket["_id"], "body": "hello"}, "No ticket"),
        ("resolve_alert", {"alert_id": other_alert["_id"]}, "No alert"),
    ]
    for tool, args, expected in attempts:
        for dry_run in (True, False):
            result = await call_tool(http, tenant.url, token, tool, {**args, "dry_run": dry_run})
            assert result["isError"] is True and result["content"][0]["text"].startswith(expected), result
    assert [vendor_writes(sim) for sim in sims] == before
    refused = await tenant.db["audit_log"].find({"status": "error"}).to_list()
    assert len(refused) == 2 * len(attempts)
    assert all(row["actor"]["customers"] == [mine["_id"]] and row["target"] is None for row in refused)

    created = await structured(http, tenant.url, token, "create_ticket",
                               {"customer_id": mine["_id"], "subject": "Scoped", "description": "Within scope."})
    assert created["ticket"]["customer_id"] == mine["_id"]
    assert vendor_writes(sims[0]) == before[0] + 1
    row = await tenant.db["audit_log"].find_one({"action": "create_ticket", "status": "success"})
    assert row["target"]["customer_id"] == mine["_id"] and row["actor"]["customers"] == [mine["_id"]]
    # The new ticket's audit rows are the scoped credential's to read.
    rows = await structured(http, tenant.url, token, "get_audit_log_for_ticket",
                            {"ticket_id": created["ticket"]["id"]})
    assert rows["count"] >= 1
