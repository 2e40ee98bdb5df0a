"""Rules-engine read tools: list_rules, list_rule_executions."""
from __future__ import annotations

from functools import partial

from .common import given, paginate, parse_time
from .registry import ToolContext, ToolSpec, not_found
from .schema import (
    BOOL,
    INT,
    STR,
    TIME,
    cursor,
    limit,
    nullable,
    obj,
    object_id,
    out_obj,
    page_of,
    since,
    string,
)

EXECUTION_STATUSES = ("queued", "running", "succeeded", "failed", "dead_letter", "dry_run")
ARRAY = {"type": "array"}

RULE = out_obj({
    "id": STR, "name": STR, "description": nullable(STR), "enabled": BOOL,
    "trigger": out_obj({"event": nullable(STR), "conditions": ARRAY}),
    "actions": {"type": "array", "items": out_obj({"verb": STR, "params": {"type": "object"}})},
    "cooldown_seconds": INT, "owner_user_id": nullable(STR),
    "created_at": nullable(TIME), "updated_at": nullable(TIME),
}, ("id", "name", "enabled", "trigger", "actions"))
EXECUTION = out_obj({
    "id": STR, "rule_id": STR, "event_id": nullable(STR), "trigger": STR, "status": STR, "dry_run": BOOL,
    "attempts": INT, "last_error": nullable(STR), "planned_actions": ARRAY,
    "created_at": TIME, "updated_at": nullable(TIME), "finished_at": nullable(TIME),
}, ("id", "rule_id", "trigger", "status", "dry_run", "attempts", "created_at"))


def rule_view(doc: dict) -> dict:
    trigger = doc.get("trigger") or {}
    return {
        "id": doc["_id"], "name": doc.get("name", ""), "description": doc.get("description"),
        "enabled": bool(doc.get("enabled")),
        "trigger": {"event": trigger.get("event"), "conditions": trigger.get("conditions") or []},
        "actions": [{"verb": action.get("verb", ""), "params": action.get("params") or {}}
                    for action in doc.get("actions") or []],
        "cooldown_seconds": doc.get("cooldown_seconds", 0), "owner_user_id": doc.get("owner_user_id"),
        "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
    }


def execution_view(doc: dict) -> dict:
    return {
        "id": doc["_id"], "rule_id": doc["rule_id"], "event_id": doc.get("event_id"),
        "trigger": doc.get("trigger", "event"), "status": doc["status"], "dry_run": bool(doc.get("dry_run")),
        "attempts": doc.get("attempts", 0), "last_error": doc.get("last_error"),
        "planned_actions": doc.get("planned_actions") or [], "created_at": doc["created_at"],
        "updated_at": doc.get("updated_at"), "finished_at": doc.get("finished_at"),
    }


async def list_rules(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "enabled")
    fetch = partial(ctx.storage.rules.page, ctx.tenant.slug, **filters)
    return await paginate(ctx, args, filters, fetch, rule_view)


async def list_rule_executions(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "rule_id", "status", "since")
    created_since = parse_time(args["since"], "since") if "since" in args else None
    if "rule_id" in filters and await ctx.storage.rules.get(ctx.tenant.slug, filters["rule_id"]) is None:
        raise not_found("rule", "id", filters["rule_id"], "list_rules")
    fetch = partial(ctx.storage.rules.executions_page, ctx.tenant.slug, rule_id=filters.get("rule_id"),
                    status=filters.get("status"), since=created_since)
    return await paginate(ctx, args, filters, fetch, execution_view)


TOOLS = [
    ToolSpec(
        name="list_rules", title="List rules",
        description="List rules-engine rule definitions. Read-only — does not run a rule. Filter by "
                    "enabled state (omit it for all rules). Each rule shows its trigger (event and "
                    "conditions), actions and cooldown. Sorted by name; pages of `limit` (default 50, "
                    "at most 200) with next_cursor.",
        scopes=("read:search",),
        input_schema=obj({"enabled": {"type": "boolean", "description": "Only enabled (true) or disabled "
                                      "(false) rules."},
                          "limit": limit(), "cursor": cursor()}),
        output_schema=page_of(RULE),
        tenant_wide=True,
        handler=list_rules,
    ),
    ToolSpec(
        name="list_rule_executions", title="List rule executions",
        description="List rules-engine execution history including the dead-letter queue. Filter by "
                    "rule_id, status, or since-timestamp. With no filter, every execution of every rule; "
                    "status=dead_letter lists the executions that exhausted their retries. since keeps "
                    "executions created at or after that ISO date or date-time. Newest first; pages of "
                    "`limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:search",),
        input_schema=obj({
            "rule_id": object_id("rule"),
            "status": string("Only executions in this status.", enum=EXECUTION_STATUSES),
            "since": since(),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(EXECUTION),
        tenant_wide=True,
        handler=list_rule_executions,
    ),
]
