"""The rules engine end to end: a vendor-side change (simulator) → sync → event → rule match →
execution → vendor write-back through the same dispatcher as the MCP write tools; duplicate
events, a worker that died mid-execution, vendor failures until the dead-letter queue and a
replay, run_rule's dry-run fan-out, and every write verb working as a rule action."""
from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from vectis.ids import new_id
from vectis.rules.matching import new_execution
from vectis.rules.model import validate_rule
from vectis.rules.worker import RuleWorker, replay_dead_letter
from vectis.vendors.simkit import Fault

from ..support.rpc import structured
from . import vendor_view
from .conftest import customer_with_psa, open_alert, open_ticket

ESCALATE = {
    "name": "Escalate critical alerts",
    "trigger": {"event": "alert.created",
                "conditions": [{"field": "alert.severity", "op": "in", "value": ["critical", "major"]}]},
    "actions": [
        {"verb": "create_ticket", "params": {"customer_id": "{{alert.customer_id}}",
                                             "subject": "RMM: {{alert.title}}",
                                             "description": "{{alert.message}}", "priority": "high"}},
        {"verb": "acknowledge_alert", "params": {"alert_id": "{{alert.id}}"}},
    ],
}


@pytest.fixture
async def acmeco(make_vendor_tenant):
    return await make_vendor_tenant("rulesco", ("connectwise", "ninjaone", "datto_bcdr"))


async def add_rule(tenant, definition: dict) -> dict:
    admin = await tenant.db["users"].find_one({"role": "admin"})
    rule = {"_id": new_id("rul"), **validate_rule(definition), "owner_user_id": admin["_id"]}
    return await tenant.server.storage.rules.insert(tenant.slug, rule)


def worker(tenant, **kwargs) -> RuleWorker:
    return RuleWorker(tenant.server.storage, tenant.server.services.writes,
                      backoff_base=timedelta(0), **kwargs)


async def vendor_alert(tenant, severity: str = "CRITICAL") -> str:
    """A new alert raised in NinjaOne (on a device it already monitors)."""
    sim = tenant.sim("rmm")
    base = {k: v for k, v in next(iter(sim.alerts.values())).items() if k != "status"}
    uid = str(uuid.uuid4())
    sim.seed(alerts=[{**base, "uid": uid, "subject": "Disk 0 failing", "message": "SMART errors",
                      "severity": severity, "createTime": time.time(), "updateTime": time.time()}])
    return uid


async def test_vendor_change_to_write_back(acmeco, http):
    sync, slug, rmm = acmeco.server.services.sync, acmeco.slug, acmeco.sources["rmm"]["_id"]
    await sync.sync_source(slug, rmm)                                   # baseline: no events
    await add_rule(acmeco, ESCALATE)
    uid = await vendor_alert(acmeco)
    await vendor_alert(acmeco, severity="MINOR")                        # does not match
    await sync.sync_source(slug, rmm)
    assert await acmeco.db["events"].count_documents({"type": "alert.created"}) == 2
    await worker(acmeco).tick(slug)
    [execution] = await acmeco.db["rule_executions"].find({}).to_list()
    assert execution["status"] == "succeeded", (execution["last_error"], execution["results"])
    assert [r["verb"] for r in execution["results"]] == ["create_ticket", "acknowledge_alert"]
    assert vendor_view.creates(acmeco.sim("psa"), "connectwise") == 1
    # NinjaOne's acknowledge resets the condition: the alert is no longer listed there.
    assert uid not in acmeco.sim("rmm").alerts and uid in acmeco.sim("rmm").resets
    ticket = await acmeco.db["tickets"].find_one({"subject": "RMM: Disk 0 failing"})
    assert ticket is not None and ticket["priority"] == "high"
    rows = await acmeco.db["audit_log"].find({"actor.kind": "rule"}).to_list()
    assert {r["action"] for r in rows} == {"create_ticket", "acknowledge_alert"}
    assert all(r["status"] == "success" and r["actor"]["rule_id"] for r in rows)
    # The same events seen again (a redelivery, another process): still one execution.
    await acmeco.db["events"].update_many({}, {"$unset": {"rules_checked": ""}})
    await worker(acmeco).tick(slug)
    assert await acmeco.db["rule_executions"].count_documents({}) == 1
    assert vendor_view.creates(acmeco.sim("psa"), "connectwise") == 1


async def manual_execution(tenant, rule: dict, kind: str, object_id: str, **extra) -> dict:
    doc = await tenant.db[kind + "s"].find_one({"_id": object_id})
    event = {"_id": f"sim_{object_id}", "type": rule["trigger"]["event"], "at": datetime.now(UTC),
             "object": {"kind": kind, "id": object_id}, "customer_id": doc.get("customer_id")}
    execution = new_execution(rule, key=f"test|{object_id}|{uuid.uuid4()}", event=event,
                              trigger="manual", dry_run=False, now=datetime.now(UTC))
    execution.update(extra)
    assert await tenant.server.storage.rules.insert_execution(tenant.slug, execution)
    return execution


async def test_dead_letter_then_replay(acmeco, http):
    rule = await add_rule(acmeco, {**ESCALATE, "actions": ESCALATE["actions"][:1]})
    alert = await open_alert(acmeco)
    execution = await manual_execution(acmeco, rule, "alert", alert["_id"])
    acmeco.sim("psa").faults.add(Fault(kind="status", status=500, method="POST",
                                       path=r"/service/tickets$", count=None))
    run = worker(acmeco, max_attempts=2)
    await run.tick(acmeco.slug)
    await run.tick(acmeco.slug)
    stored = await acmeco.db["rule_executions"].find_one({"_id": execution["_id"]})
    assert stored["status"] == "dead_letter" and stored["attempts"] == 2
    assert "HTTP 500" in stored["last_error"] and stored["dead_lettered_at"]
    # The dead-letter queue as an MCP client sees it.
    listed = await structured(http, acmeco.url, acmeco.token, "list_rule_executions",
                              {"status": "dead_letter"})
    assert [e["id"] for e in listed["items"]] == [execution["_id"]]
    assert listed["items"][0]["status"] == "dead_letter" and "HTTP 500" in listed["items"][0]["last_error"]
    acmeco.sim("psa").faults.clear()
    assert await replay_dead_letter(acmeco.server.storage, acmeco.slug, execution["_id"])
    await run.tick(acmeco.slug)
    stored = await acmeco.db["rule_executions"].find_one({"_id": execution["_id"]})
    assert stored["status"] == "succeeded"
    assert vendor_view.creates(acmeco.sim("psa"), "connectwise") == 1


async def test_cooldown_holds_back_matches_until_it_has_passed(acmeco):
    sync, slug, rmm = acmeco.server.services.sync, acmeco.slug, acmeco.sources["rmm"]["_id"]
    await sync.sync_source(slug, rmm)
    rule = await add_rule(acmeco, {**ESCALATE, "actions": ESCALATE["actions"][1:], "cooldown_seconds": 600})
    await vendor_alert(acmeco)
    await vendor_alert(acmeco)
    await sync.sync_source(slug, rmm)
    await worker(acmeco).tick(slug)
    assert await acmeco.db["rule_executions"].count_documents({"rule_id": rule["_id"]}) == 1
    # Once the last execution is older than the cooldown, the next match runs again.
    await acmeco.db["rule_executions"].update_many(
        {}, {"$set": {"created_at": datetime.now(UTC) - timedelta(seconds=601)}})
    await vendor_alert(acmeco)
    await sync.sync_source(slug, rmm)
    await worker(acmeco).tick(slug)
    assert await acmeco.db["rule_executions"].count_documents({"rule_id": rule["_id"]}) == 2


async def test_a_worker_that_died_mid_execution_is_taken_over_without_repeats(acmeco):
    rule = await add_rule(acmeco, ESCALATE)
    alert = await open_alert(acmeco)
    # A worker claimed it, finished the first action, and died: its lease is in the past.
    execution = await manual_execution(acmeco, rule, "alert", alert["_id"])
    dead = worker(acmeco)
    claimed = await acmeco.server.storage.rules.claim_next(
        acmeco.slug, "dead-worker", datetime.now(UTC) + timedelta(minutes=5), datetime.now(UTC))
    assert claimed["_id"] == execution["_id"]
    await dead._run_actions(acmeco.slug, rule, claimed, "dead-worker")   # both actions ran …
    await acmeco.db["rule_executions"].update_one(                         # … then it crashed
        {"_id": execution["_id"]}, {"$set": {"lease_until": datetime.now(UTC) - timedelta(seconds=1),
                                             "actions_done": [0]}})
    await worker(acmeco).tick(acmeco.slug)
    stored = await acmeco.db["rule_executions"].find_one({"_id": execution["_id"]})
    assert stored["status"] == "succeeded" and stored["attempts"] == 2
    # Action 2 was sent again with the same idempotency key: replayed, not repeated.
    assert vendor_view.creates(acmeco.sim("psa"), "connectwise") == 1
    assert stored["results"][-1]["status"] == "replayed"


async def test_run_rule_dry_run_fans_out_and_sends_nothing(acmeco, http):
    sync, slug, rmm = acmeco.server.services.sync, acmeco.slug, acmeco.sources["rmm"]["_id"]
    await sync.sync_source(slug, rmm)
    rule = await add_rule(acmeco, {**ESCALATE, "enabled": False})          # only run by hand
    await vendor_alert(acmeco)
    await vendor_alert(acmeco, severity="MAJOR")
    await sync.sync_source(slug, rmm)
    await acmeco.elevate()
    out = await structured(http, acmeco.url, acmeco.token, "run_rule", {"rule_id": rule["_id"]})
    assert out["dry_run"] is True and len(out["execution_ids"]) == 2
    await worker(acmeco).tick(slug)
    executions = await acmeco.db["rule_executions"].find({"_id": {"$in": out["execution_ids"]}}).to_list()
    assert {e["status"] for e in executions} == {"dry_run"}
    planned = executions[0]["planned_actions"]
    assert [p["verb"] for p in planned] == ["create_ticket", "acknowledge_alert"]
    assert planned[0]["output"]["requests"][0]["method"] == "POST"
    assert vendor_view.creates(acmeco.sim("psa"), "connectwise") == 0
    pinned = await structured(http, acmeco.url, acmeco.token, "run_rule",
                              {"rule_id": rule["_id"], "simulated_event_id": (await open_alert(acmeco))["_id"]})
    assert pinned["events_checked"] == 1


PARITY = {
    "create_ticket": ("customer", {"customer_id": "{{customer.id}}", "subject": "From a rule",
                                   "description": "Rule action."}),
    "reply_to_ticket": ("ticket", {"ticket_id": "{{ticket.id}}", "body": "Reply from a rule"}),
    "add_internal_note": ("ticket", {"ticket_id": "{{ticket.id}}", "body": "Note from a rule"}),
    "close_ticket": ("ticket", {"ticket_id": "{{ticket.id}}", "resolution_summary": "Closed by a rule"}),
    "acknowledge_alert": ("alert", {"alert_id": "{{alert.id}}"}),
    "resolve_alert": ("alert", {"alert_id": "{{alert.id}}"}),
}


@pytest.mark.parametrize("verb", sorted(PARITY))
async def test_every_write_verb_works_as_a_rule_action(acmeco, verb):
    kind, params = PARITY[verb]
    event = {"customer": "ticket.created", "ticket": "ticket.created", "alert": "alert.created"}[kind]
    rule = await add_rule(acmeco, {"name": f"parity {verb}", "enabled": False,
                                   "trigger": {"event": event, "conditions": []},
                                   "actions": [{"verb": verb, "params": params}]})
    if kind == "alert":
        target = await open_alert(acmeco)
        execution = await manual_execution(acmeco, rule, "alert", target["_id"])
    else:
        ticket = await open_ticket(acmeco)
        execution = await manual_execution(acmeco, rule, "ticket", ticket["_id"])
        if kind == "customer":
            assert (await customer_with_psa(acmeco)) is not None
    await worker(acmeco).tick(acmeco.slug)
    stored = await acmeco.db["rule_executions"].find_one({"_id": execution["_id"]})
    assert stored["status"] == "succeeded", stored["last_error"]
    assert stored["results"][0]["verb"] == verb and stored["results"][0]["status"] == "success"
