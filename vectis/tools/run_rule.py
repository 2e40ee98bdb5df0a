"""run_rule: fire a rule by hand. It queues executions that the rules worker runs through the same
path as event-driven firings (and the same write dispatcher as the MCP write tools). A dry run,
the default, records the exact vendor requests each action would send and sends nothing."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..rules.matching import event_context, new_execution
from ..rules.model import evaluate
from .registry import ToolContext, ToolError, ToolSpec, not_found
from .schema import BOOL, INT, STR, obj, object_id, out_obj, string

WINDOW = timedelta(hours=24)
MAX_FAN_OUT = 20
PINNABLE = {"alr": ("alert", "alerts"), "tkt": ("ticket", "tickets")}


async def run_rule(ctx: ToolContext, args: dict) -> dict:
    slug, storage = ctx.tenant.slug, ctx.storage
    rule = await storage.rules.get(slug, args["rule_id"])
    if rule is None:
        raise not_found("rule", "id", args["rule_id"], "list_rules")
    dry_run = args.get("dry_run", True)
    trigger = rule["trigger"]["event"]
    if args.get("simulated_event_id"):
        events = [await _pinned_event(ctx, trigger, args["simulated_event_id"])]
    else:
        events = await storage.db.tenant(slug)["events"].find(
            {"type": trigger, "at": {"$gte": ctx.now - WINDOW}}).sort("at", -1).limit(MAX_FAN_OUT).to_list()
    queued, skipped = [], []
    for event in events:
        context = await event_context(storage, slug, event)
        if not evaluate(rule["trigger"].get("conditions") or [], context):
            skipped.append(event["_id"])
            continue
        execution = new_execution(rule, key=f"manual|{event['_id']}|{ctx.request_id}", event=event,
                                  trigger="manual", dry_run=dry_run, now=datetime.now(UTC))
        if await storage.rules.insert_execution(slug, execution):
            queued.append(execution["_id"])
    return {"rule_id": rule["_id"], "dry_run": dry_run, "events_checked": len(events),
            "execution_ids": queued, "not_matching_event_ids": skipped,
            "note": "Executions run in the background; follow them with list_rule_executions."}


async def _pinned_event(ctx: ToolContext, trigger: str, object_id_: str) -> dict:
    kind = PINNABLE.get(object_id_.split("_", 1)[0])
    if kind is None:
        raise ToolError("simulated_event_id must be an alert id (alr_…) or a ticket id (tkt_…).")
    doc = await ctx.storage.db.tenant(ctx.tenant.slug)[kind[1]].find_one({"_id": object_id_}, {"_id": 1,
                                                                          "customer_id": 1, "source_id": 1})
    if doc is None:
        raise not_found(kind[0], "id", object_id_, "list_alerts or list_open_tickets")
    return {"_id": f"sim_{object_id_}", "type": trigger, "at": ctx.now,
            "object": {"kind": kind[0], "id": object_id_}, "customer_id": doc.get("customer_id"),
            "source_id": doc.get("source_id"), "data": {"simulated": True}}


TOOLS = [
    ToolSpec(
        name="run_rule", title="Run rule",
        description="Manually fire a rules-engine rule. Enqueues rule_executions rows that the worker "
                    "picks up via the same path as event-driven firings. Defaults to dry-run for "
                    "safety (the executions record the planned vendor requests; nothing is sent). "
                    "Optional simulated_event_id pins the trigger to a specific alert or ticket; omit "
                    "it to fan out over the rule's matching events of the last 24 hours (at most 20). "
                    "Requires run:rules and an MFA-elevated credential.",
        scopes=("run:rules",),
        input_schema=obj({
            "rule_id": object_id("rule"),
            "simulated_event_id": string("An alert (alr_…) or ticket (tkt_…) id to run the rule for.",
                                         max_length=20, pattern=r"^(alr|tkt)_[a-z2-7]{16}$"),
            "dry_run": {"type": "boolean", "default": True,
                        "description": "Plan only (default true). false dispatches to the vendors."},
        }, ("rule_id",)),
        output_schema=out_obj({"rule_id": STR, "dry_run": BOOL, "events_checked": INT,
                               "execution_ids": {"type": "array", "items": STR},
                               "not_matching_event_ids": {"type": "array", "items": STR},
                               "note": STR}, ("rule_id", "dry_run", "execution_ids")),
        tenant_wide=True,
        handler=run_rule, read_only=False, destructive=False, idempotent=False, open_world=True,
        requires_mfa=True,
    ),
]
