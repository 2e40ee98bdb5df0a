"""Search tools: search_tickets, search_global (trigram similarity, served by vectis.search)."""
from __future__ import annotations

import asyncio

from ..storage.customers import OPEN_TICKET_STATUSES
from .alerts import ALERT_SUMMARY, alert_summary
from .assets import ASSET_SUMMARY, asset_summary
from .customers import CUSTOMER_SUMMARY, customer_summary
from .notes import NOTE, note_view
from .registry import ToolContext, ToolError, ToolSpec
from .schema import INT, NUM, STR, integer, obj, out_obj, string
from .tickets import TICKET_STATUSES, TICKET_SUMMARY, ticket_summary

TICKET_SEARCH_LIMIT = 20
MAX_TICKET_SEARCH_LIMIT = 50
PER_CATEGORY = 5
MAX_PER_CATEGORY = 20
# search_global's categories: (category, collection searched, view, item schema)
CATEGORIES = (
    ("customers", "customers", customer_summary, CUSTOMER_SUMMARY),
    ("tickets", "tickets", ticket_summary, TICKET_SUMMARY),
    ("devices", "assets", asset_summary, ASSET_SUMMARY),
    ("alerts", "alerts", alert_summary, ALERT_SUMMARY),
    ("notes", "notes", note_view, NOTE),
)


def _query_arg() -> dict:
    return string("Words, a ticket number, an e-mail address… (typos are tolerated).", max_length=200,
                  min_length=1)


def _check_query(query: str) -> str:
    if not any(ch.isalnum() for ch in query):
        raise ToolError("query must contain at least one letter or digit.")
    return query


def _hits(item: dict) -> dict:
    return {"type": "array", "items": out_obj({**item["properties"], "score": NUM},
                                              (*item.get("required", ()), "score"))}


def _scored(view, results: list[tuple[dict, float]]) -> list[dict]:
    return [{**view(doc), "score": score} for doc, score in results]


async def search_tickets(ctx: ToolContext, args: dict) -> dict:
    query = _check_query(args["query"])
    status, open_only = args.get("status"), args.get("open_only", False)
    if open_only and status and status not in OPEN_TICKET_STATUSES:
        raise ToolError(f"status {status} is not an open status; drop open_only or pick an open status.")
    filters = None
    if status:
        filters = {"status": status}
    elif open_only:
        filters = {"status": {"$in": list(OPEN_TICKET_STATUSES)}}
    limit = args.get("limit", TICKET_SEARCH_LIMIT)
    exact = await _exact_number_hits(ctx, query, status, open_only, limit)
    results = await ctx.storage.search.search(ctx.tenant.slug, "tickets", query, limit=limit, filters=filters)
    seen = {doc["_id"] for doc, _ in exact}
    results = exact + [(doc, score) for doc, score in results if doc["_id"] not in seen]
    items = _scored(ticket_summary, results[:limit])
    return {"query": query, "items": items, "count": len(items)}


async def _exact_number_hits(ctx: ToolContext, query: str, status: str | None, open_only: bool,
                             limit: int) -> list[tuple[dict, float]]:
    """A query that is exactly a ticket number ranks that ticket first, through the number index:
    trigram similarity alone ranks one number among thousands of look-alike numbers poorly."""
    candidate = query.strip()
    if not candidate or " " in candidate or len(candidate) > 40:
        return []
    docs = await ctx.storage.tickets.by_number(ctx.tenant.slug, candidate, limit)
    wanted = {status} if status else set(OPEN_TICKET_STATUSES) if open_only else None
    return [(doc, 1.0) for doc in docs if wanted is None or doc["status"] in wanted]


async def search_global(ctx: ToolContext, args: dict) -> dict:
    query = _check_query(args["query"])
    per_category = args.get("per_category", PER_CATEGORY)
    found = await asyncio.gather(*(
        ctx.storage.search.search(ctx.tenant.slug, collection, query, limit=per_category)
        for _, collection, _, _ in CATEGORIES))
    result: dict = {"query": query}
    for (category, _, view, _), results in zip(CATEGORIES, found, strict=True):
        result[category] = _scored(view, results)
    result["count"] = sum(len(result[category]) for category, *_ in CATEGORIES)
    return result


TOOLS = [
    ToolSpec(
        name="search_tickets", title="Search tickets",
        description="Full-text search across ticket subject + ticket number + requester email. Uses "
                    "trigram similarity from the Phase 153B index. Matches tickets in any status unless "
                    "status or open_only narrows it; each hit carries its similarity score (0–1, at "
                    f"least 0.3), best first. Returns at most `limit` hits (default {TICKET_SEARCH_LIMIT}, "
                    f"at most {MAX_TICKET_SEARCH_LIMIT}); there are no further pages, refine the query "
                    "instead.",
        scopes=("read:tickets", "read:search"),
        input_schema=obj({
            "query": _query_arg(),
            "status": string("Only tickets in this status.", enum=TICKET_STATUSES),
            "open_only": {"type": "boolean", "default": False,
                          "description": "Only open tickets (new, open, in_progress, waiting)."},
            "limit": integer("Most hits to return.", minimum=1, maximum=MAX_TICKET_SEARCH_LIMIT,
                             default=TICKET_SEARCH_LIMIT),
        }, ("query",)),
        output_schema=out_obj({"query": STR, "items": _hits(TICKET_SUMMARY), "count": INT},
                              ("query", "items", "count")),
        handler=search_tickets,
    ),
    ToolSpec(
        name="search_global", title="Search everything",
        description="Global search across customers, tickets, devices, alerts, and notes. Returns the "
                    "top hits per category, ranked by trigram similarity. Customers match on name, "
                    "tickets on subject, number and requester e-mail, devices on host name and serial "
                    "number, alerts on title, notes on body. Each category holds at most per_category "
                    f"hits (default {PER_CATEGORY}, at most {MAX_PER_CATEGORY}), best first, each with "
                    "its similarity score (0–1, at least 0.3); count is the total over all categories.",
        scopes=("read:search",),
        input_schema=obj({
            "query": _query_arg(),
            "per_category": integer("Most hits per category.", minimum=1, maximum=MAX_PER_CATEGORY,
                                    default=PER_CATEGORY),
        }, ("query",)),
        output_schema=out_obj({
            "query": STR, **{category: _hits(item) for category, _, _, item in CATEGORIES}, "count": INT,
        }, ("query", *(category for category, *_ in CATEGORIES), "count")),
        handler=search_global,
    ),
]
