"""The demo's rules: seeded with the demo, once, listed by list_rules, and really triggered by the
demo's simulated vendor activity through the real sync, matching and worker paths."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from vectis.demo.generator import demo_operators
from vectis.demo.rules import DEMO_RULES, demo_rule_id, seed_demo_rules
from vectis.demo.seed import DEMO_TENANTS, seed_demo, seed_tenant
from vectis.rules.conditions import evaluate
from vectis.rules.matching import enqueue_for_new_events
from vectis.rules.model import validate_rule
from vectis.rules.worker import RuleWorker
from vectis.runtime import start_demo_vendors
from vectis.scopes import ALL_SCOPES
from vectis.simulators.activity import DemoActivity

from .conftest import issue_token, running_server
from .support.rpc import structured

NETWORK = demo_rule_id("acme", "network-note")


def admin_email(slug: str) -> str:
    return next(o.email for o in demo_operators(slug) if o.role == "admin")


async def stored_rules(storage, slug: str) -> list[dict]:
    return await storage.rules.all(slug)


async def test_demo_rules_are_listed_and_the_demo_activity_triggers_the_enabled_one(
        tmp_path, mongo_uri, db_prefix, storage, http):
    async with running_server(tmp_path, mongo_uri, db_prefix, storage) as server:
        await seed_demo(storage, server.config)

        # list_rules shows them, in both demo tenants: one enabled, each valid as written.
        for slug in DEMO_TENANTS:
            token = await issue_token(storage, server.config, slug, admin_email(slug), ALL_SCOPES)
            listed = (await structured(http, server.url(slug, "/api/mcp"), token, "list_rules"))["items"]
            assert sorted(r["name"] for r in listed) == sorted(d["name"] for _, d in DEMO_RULES)
            assert {r["id"] for r in listed} == {demo_rule_id(slug, key) for key, _ in DEMO_RULES}
            assert [r["id"] for r in listed if r["enabled"]] == [demo_rule_id(slug, "network-note")]
            for _, definition in DEMO_RULES:
                validate_rule(definition)

        # A restart seeds nothing again, and leaves an operator's change alone.
        await storage.rules.set_enabled("acme", demo_rule_id("acme", "high-priority-reply"), True)
        before = await stored_rules(storage, "acme")
        await seed_demo(storage, server.config)
        assert await stored_rules(storage, "acme") == before

        # The demo's vendor tools and their activity, as the server starts them.
        fleet = await start_demo_vendors(storage, server.services, ["acme"])
        try:
            await storage.rules.set_enabled("acme", demo_rule_id("acme", "high-priority-reply"), False)
            psa = next(s for s in await storage.sources.list("acme") if s["kind"] == "psa")
            await server.services.sync.sync_source("acme", psa["_id"])          # baseline
            activity = DemoActivity(storage, server.services.connections, fleet, seed=3)
            executions = storage.db.tenant("acme")["rule_executions"]
            for _ in range(12):               # one new PSA ticket per round; most are network-ish
                assert any("ticket" in line for line in await activity.step())
                await server.services.sync.sync_source("acme", psa["_id"])
                await enqueue_for_new_events(storage, "acme")
                if await executions.count_documents({"rule_id": NETWORK}):
                    break
            queued = await executions.find({}).to_list()
            assert queued and {e["rule_id"] for e in queued} == {NETWORK}     # disabled rules: none
            events = await storage.db.tenant("acme")["events"].find({"type": "ticket.created"}).to_list()
            tickets = {t["_id"]: t for t in await storage.db.tenant("acme")["tickets"].find(
                {"_id": {"$in": [e["object"]["id"] for e in events]}}).to_list()}
            conditions = dict(DEMO_RULES)["network-note"]["trigger"]["conditions"]
            matching = {e["_id"] for e in events
                        if evaluate(conditions, {"ticket": tickets[e["object"]["id"]]})}
            assert {e["event_id"] for e in queued} == matching != set()
            assert all(re.search("VPN|Wi-Fi|offline", tickets[e["event"]["object"]["id"]]["subject"])
                       for e in queued)

            # The worker runs it: an internal note on the ticket, in the demo's ConnectWise.
            ran = await RuleWorker(storage, server.services.writes).run_next("acme")
            assert ran["status"] == "succeeded", ran.get("last_error")
            assert ran["results"] and ran["actions_done"] == [0]
        finally:
            await fleet.stop()


async def test_seeding_the_demo_rules_is_idempotent_and_respects_operators(storage):
    await seed_tenant(storage, "acme", "Acme", passwords={}, customers=2, tickets_per_customer=1,
                      now=datetime.now(UTC))
    # An operator already has a rule of one demo rule's name: that one is left out.
    taken = dict(DEMO_RULES)["self-cleared-alert"]
    await storage.rules.insert("acme", {"_id": "rul_" + "b" * 16, **validate_rule(taken),
                                        "owner_user_id": None})
    assert await seed_demo_rules(storage, "acme") == 2
    assert await seed_demo_rules(storage, "acme") == 0
    rules = await stored_rules(storage, "acme")
    assert len(rules) == 3
    tech = await storage.users.by_email("acme", "sam.rivera@acme.example")
    assert all(r["owner_user_id"] == tech["_id"] for r in rules if r["_id"].startswith("rul_") and
               r["_id"] != "rul_" + "b" * 16)
    # Renamed by an operator: still the same rule (by id), not seeded again.
    await storage.rules.replace("acme", NETWORK, {**validate_rule(dict(DEMO_RULES)["network-note"]),
                                                  "name": "Our network triage"})
    assert await seed_demo_rules(storage, "acme") == 0
    assert len(await stored_rules(storage, "acme")) == 3
    # A tenant without the demo technician gets none (a rule needs an owner).
    await storage.tenants.ensure("bare", "Bare")
    assert await seed_demo_rules(storage, "bare") == 0
