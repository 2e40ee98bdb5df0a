"""From events to executions: each new event is checked against the tenant's enabled rules, and
every match becomes one execution whose id digests (rule, event), so an event delivered twice,
or seen by two processes, still makes one execution per rule."""
from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from .model import evaluate

CONTEXT_COLLECTIONS = {"ticket": "tickets", "alert": "alerts", "backup_job": "backup_jobs",
                       "asset": "assets", "customer": "customers"}
BATCH = 200


def execution_id(rule_id: str, key: str) -> str:
    return "rex_" + hashlib.sha256(f"{rule_id}|{key}".encode()).hexdigest()[:24]


async def event_context(storage, slug: str, event: dict) -> dict:
    """What conditions and templates can refer to: the event and the objects it names."""
    db = storage.db.tenant(slug)
    context: dict = {"event": event}
    kind, object_id = (event.get("object") or {}).get("kind"), (event.get("object") or {}).get("id")
    if kind in CONTEXT_COLLECTIONS and object_id:
        doc = await db[CONTEXT_COLLECTIONS[kind]].find_one({"_id": object_id}, {"search_tg": 0})
        if doc is not None:
            context[kind] = {**doc, "id": doc["_id"]}
    customer_id = event.get("customer_id") or (context.get(kind) or {}).get("customer_id")
    if customer_id and "customer" not in context:
        doc = await db["customers"].find_one({"_id": customer_id}, {"search_tg": 0})
        if doc is not None:
            context["customer"] = {**doc, "id": doc["_id"]}
    return context


def new_execution(rule: dict, *, key: str, event: dict | None, trigger: str, dry_run: bool,
                  now: datetime) -> dict:
    return {"_id": execution_id(rule["_id"], key), "rule_id": rule["_id"],
            "event_id": event["_id"] if event else None, "event": event, "trigger": trigger,
            "status": "queued", "dry_run": dry_run, "attempts": 0, "last_error": None,
            "planned_actions": [], "actions_done": [], "results": [], "owner": None,
            "lease_until": None, "run_after": now, "created_at": now, "updated_at": now,
            "finished_at": None, "dead_lettered_at": None}


async def enqueue_for_new_events(storage, slug: str, now: datetime | None = None) -> int:
    """Match the events no process has checked yet; returns how many executions were queued."""
    now = now or datetime.now(UTC)
    db = storage.db.tenant(slug)
    events = await db["events"].find({"rules_checked": {"$ne": True}}).sort(
        [("at", 1), ("_id", 1)]).limit(BATCH).to_list()
    if not events:
        return 0
    rules = [r for r in await storage.rules.all(slug) if r.get("enabled")]
    queued = 0
    for event in events:
        for rule in rules:
            if rule["trigger"]["event"] != event["type"]:
                continue
            context = await event_context(storage, slug, event)
            if not evaluate(rule["trigger"].get("conditions") or [], context):
                continue
            if await _cooling_down(storage, slug, rule, now):
                continue
            if await storage.rules.insert_execution(slug, new_execution(
                    rule, key=event["_id"], event=event, trigger="event", dry_run=False, now=now)):
                queued += 1
        await db["events"].update_one({"_id": event["_id"]}, {"$set": {"rules_checked": True}})
    return queued


async def _cooling_down(storage, slug: str, rule: dict, now: datetime) -> bool:
    seconds = rule.get("cooldown_seconds") or 0
    if not seconds:
        return False
    recent = await storage.db.tenant(slug)["rule_executions"].find_one(
        {"rule_id": rule["_id"], "trigger": "event", "created_at": {"$gte": now - timedelta(seconds=seconds)}},
        {"_id": 1})
    return recent is not None
