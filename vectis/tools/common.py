"""What the read tools share: pages whose cursors are bound to the tool and its filters, ISO 8601
time arguments, and the source a record comes from."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .registry import ToolContext, ToolError
from .schema import DEFAULT_LIMIT

Fetch = Callable[..., Awaitable[tuple[list[dict], list | None]]]


def given(args: dict, *names: str) -> dict:
    """The named arguments the caller actually passed."""
    return {name: args[name] for name in names if name in args}


async def paginate(ctx: ToolContext, args: dict, filters: dict, fetch: Fetch,
                   view: Callable[[dict], dict]) -> dict:
    """One page of `fetch(limit=, after=)` as {items, next_cursor, count}.

    `filters` must hold everything that shapes the result set: a cursor is accepted only by the
    same tenant, tool and filters it was issued for, and the same customer scope.
    """
    customers = ctx.principal.customers
    scope = ctx.cursors.scope(ctx.tool, filters if customers is None
                              else {**filters, "\x00customers": sorted(customers)})
    after = ctx.cursors.decode(ctx.tenant.slug, scope, args["cursor"]) if "cursor" in args else None
    docs, last = await fetch(limit=args.get("limit", DEFAULT_LIMIT), after=after)
    items = [view(doc) for doc in docs]
    next_cursor = ctx.cursors.encode(ctx.tenant.slug, scope, last) if last else None
    return {"items": items, "next_cursor": next_cursor, "count": len(items)}


def parse_time(value: str, argument: str) -> datetime:
    """An ISO 8601 date or date-time as an aware UTC datetime (UTC when it has no offset)."""
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        # Not echoed: the value may be long or crafted; the expected form is what helps.
        raise ToolError(f"{argument} must be an ISO 8601 date or date-time, e.g. 2026-03-01 or "
                        "2026-03-01T09:30:00Z.") from None


async def linked_source(ctx: ToolContext, doc: dict) -> dict | None:
    """The source (PSA, RMM, backup tool) doc was synced from, with its last sync; None if none."""
    if not doc.get("source_id"):
        return None
    sources = await ctx.storage.customers.sources(ctx.tenant.slug, [doc["source_id"]])
    return source_view(sources[0]) if sources else None


def source_view(doc: dict) -> dict:
    return {"id": doc["_id"], "vendor": doc["vendor"], "kind": doc["kind"], "name": doc.get("name", ""),
            "status": doc.get("status", ""), "last_sync_at": doc.get("last_sync_at"),
            "last_sync_error": doc.get("last_sync_error")}
