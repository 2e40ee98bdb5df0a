"""get_write_status: how a write waiting for a person's approval ended (approvals.queue)."""
from __future__ import annotations

from ..approvals.queue import status_view
from .registry import ToolContext, ToolSpec, not_found
from .schema import STR, TIME, nullable, obj, out_obj, string

APPROVAL_ID_PATTERN = r"^apr_[a-z2-7]{16}$"
STATUSES = ("pending", "dispatching", "succeeded", "failed", "rejected", "expired")


async def get_write_status(ctx: ToolContext, args: dict) -> dict:
    doc = await ctx.approvals.status_of(ctx.tenant.slug, args["approval_id"])
    # Only the requester's own writes, within the caller's scopes and customers; anything else
    # is as unknown as an id that does not exist.
    spec = ctx.approvals.tool_scopes(doc["action"]) if doc else None
    customers = ctx.principal.customers
    if (doc is None or doc["user_id"] != ctx.principal.user_id or not spec
            or not set(spec) <= ctx.principal.scopes
            or (customers is not None and doc.get("customer_id") not in customers)):
        raise not_found("pending write", "approval_id", args["approval_id"], "the write tool's answer")
    return status_view(ctx.tenant, doc, ctx.now)


TOOLS = [
    ToolSpec(
        name="get_write_status", title="Get write status",
        description="Follow a write that waits for a person's approval: give the approval_id a write "
                    "tool answered with status pending_approval. Returns pending, dispatching, "
                    "succeeded (with the write's result), failed (with why), rejected or expired. "
                    "Only your own writes.",
        # Any scope a write waiting for approval can have (run_rule never waits).
        scopes=("write:tickets", "write:alerts", "write:notes"), any_scope=True,
        input_schema=obj({"approval_id": string("The approval_id of a pending write.", max_length=20,
                                                pattern=APPROVAL_ID_PATTERN)}, ("approval_id",)),
        output_schema=out_obj({
            "approval_id": STR, "status": string("Where the write is.", enum=STATUSES), "action": STR,
            "requested_at": TIME, "expires_at": TIME, "approval_url": STR,
            "decided_by": nullable(STR), "decided_at": nullable(TIME),
            "result": {"type": "object"}, "message": STR, "reason": nullable(STR),
        }, ("approval_id", "status", "action", "requested_at", "expires_at")),
        handler=get_write_status,
    ),
]
