"""Note tools: list_recent_changes."""
from __future__ import annotations

from functools import partial

from .common import given, paginate, parse_time
from .customers import require_customer
from .registry import ToolContext, ToolSpec
from .schema import STR, TIME, cursor, limit, nullable, obj, object_id, out_obj, page_of, since

NOTE = out_obj({
    "id": STR, "customer_id": STR,
    "author": out_obj({"user_id": nullable(STR), "name": STR, "email": nullable(STR)}, ("name",)),
    "body": STR, "related": nullable(out_obj({"kind": STR, "id": STR}, ("kind", "id"))),
    "created_at": TIME,
}, ("id", "customer_id", "author", "body", "related", "created_at"))


def note_view(doc: dict) -> dict:
    author = doc.get("author") or {}
    related = doc.get("related")
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"],
        "author": {"user_id": author.get("user_id"), "name": author.get("name", ""),
                   "email": author.get("email")},
        "body": doc.get("body", ""),
        "related": {"kind": related["kind"], "id": related["id"]} if related else None,
        "created_at": doc["created_at"],
    }


async def list_recent_changes(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "since")
    created_since = parse_time(args["since"], "since") if "since" in args else None
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.notes.recent_page, ctx.tenant.slug, customer_id=filters.get("customer_id"),
                    since=created_since)
    return await paginate(ctx, args, filters, fetch, note_view)


TOOLS = [
    ToolSpec(
        name="list_recent_changes", title="List recent changes",
        description="Recent operator-authored notes for a customer (or across all customers). Provides "
                    "the unified-timeline starting point. Without customer_id, notes of every customer. "
                    "Each note says what it is about in `related` (a ticket, alert or asset id, or null). "
                    "Optional since: only notes written at or after this ISO date or date-time. Newest "
                    "first; pages of `limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:notes",),
        input_schema=obj({"customer_id": object_id("customer"), "since": since(),
                          "limit": limit(), "cursor": cursor()}),
        output_schema=page_of(NOTE),
        handler=list_recent_changes,
    ),
]
