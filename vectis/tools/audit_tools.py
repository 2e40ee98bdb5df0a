"""get_audit_log_for_ticket: who did what to a ticket, through Vectis."""
from __future__ import annotations

from .registry import ToolContext, ToolError, ToolSpec
from .schema import INT, NUM, STR, TIME, limit, nullable, obj, object_id, out_obj, string

UUID_PREFIX_PATTERN = r"^[0-9a-fA-F]{4}[0-9a-fA-F-]*$"
DEFAULT_ROWS = 50

ACTOR = out_obj({"kind": STR, "credential_id": nullable(STR), "user_id": nullable(STR),
                 "email": nullable(STR), "client_id": nullable(STR)}, ("kind",))
AUDIT_ROW = out_obj({
    "id": STR, "at": TIME, "actor": ACTOR, "action": STR, "kind": STR, "status": STR,
    "mcpToolCallStatus": nullable(STR), "target": nullable(out_obj({"kind": STR, "id": nullable(STR), "uuid": nullable(STR)})),
    "detail": {"type": "object"}, "duration_ms": nullable(NUM), "request_id": nullable(STR),
}, ("id", "at", "actor", "action", "kind", "status", "target"))


def audit_row_view(doc: dict) -> dict:
    actor = doc.get("actor") or {}
    target = doc.get("target")
    return {
        "id": doc["_id"], "at": doc["at"],
        "actor": {"kind": actor.get("kind", ""), **{k: actor.get(k) for k in
                                                     ("credential_id", "user_id", "email", "client_id")}},
        "action": doc.get("action", ""), "kind": doc.get("kind", ""), "status": doc.get("status", ""),
        "mcpToolCallStatus": doc.get("mcpToolCallStatus"),
        "target": {"kind": target.get("kind", ""), "id": target.get("id"), "uuid": target.get("uuid")}
        if target else None,
        "detail": doc.get("detail") or {}, "duration_ms": doc.get("duration_ms"),
        "request_id": doc.get("request_id"),
    }


async def get_audit_log_for_ticket(ctx: ToolContext, args: dict) -> dict:
    ticket_id, uuid_prefix = args.get("ticket_id"), args.get("uuid_prefix")
    if not ticket_id and not uuid_prefix:
        raise ToolError("Give ticket_id, uuid_prefix (at least 4 hex characters of the ticket's UUID), "
                        "or both.")
    rows = await ctx.storage.audit.for_ticket(ctx.tenant.slug, ticket_id, uuid_prefix,
                                              args.get("limit", DEFAULT_ROWS))
    items = [audit_row_view(row) for row in rows]
    return {"items": items, "count": len(items)}


TOOLS = [
    ToolSpec(
        name="get_audit_log_for_ticket", title="Audit log for a ticket",
        description="Return audit-log rows whose target references the given ticket id (or its uuid "
                    "prefix). Operators can verify which actor / system performed a write-back. Give "
                    "ticket_id, uuid_prefix (at least 4 hex characters), or both (rows matching either). "
                    "Newest first, at most `limit` rows (default 50, at most 200); an unknown ticket "
                    "simply has no rows.",
        scopes=("read:tickets",),
        input_schema=obj({
            "ticket_id": object_id("ticket"),
            "uuid_prefix": string("The start of the ticket's UUID (hex digits and hyphens).", max_length=36,
                                  min_length=4, pattern=UUID_PREFIX_PATTERN),
            "limit": limit(),
        }),
        output_schema=out_obj({"items": {"type": "array", "items": AUDIT_ROW}, "count": INT},
                              ("items", "count")),
        handler=get_audit_log_for_ticket,
    ),
]
