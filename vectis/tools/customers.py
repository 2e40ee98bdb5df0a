"""Customer tools: list_customers, get_customer."""
from __future__ import annotations

import asyncio

from .common import given, paginate, source_view
from .registry import ToolContext, ToolSpec, not_found
from .schema import (
    INT,
    NUM,
    STR,
    TIME,
    cursor,
    limit,
    nullable,
    obj,
    object_id,
    out_obj,
    page_of,
    string,
)

CUSTOMER_STATUSES = ("active", "onboarding", "churned", "prospect")

HEALTH = out_obj({"score": INT, "grade": STR, "factors": {"type": "array", "items": STR},
                  "updated_at": TIME}, ("score", "grade"))
CUSTOMER_SUMMARY = out_obj({
    "id": STR, "name": STR, "city": nullable(STR), "state": nullable(STR), "status": STR,
    "mrr": NUM, "health": HEALTH,
}, ("id", "name", "status", "mrr", "health"))
SOURCE = out_obj({"id": STR, "vendor": STR, "kind": STR, "name": STR, "status": STR,
                  "last_sync_at": nullable(TIME), "last_sync_error": nullable(STR)},
                 ("id", "vendor", "kind", "last_sync_at"))
CONTACT = out_obj({"id": STR, "name": STR, "email": nullable(STR), "phone": nullable(STR),
                   "title": nullable(STR)}, ("id", "name"))


def customer_summary(doc: dict) -> dict:
    address = doc.get("address") or {}
    return {"id": doc["_id"], "name": doc["name"], "city": address.get("city"),
            "state": address.get("state"), "status": doc["status"], "mrr": doc.get("mrr", 0.0),
            "health": _health(doc.get("health") or {})}


def _health(health: dict) -> dict:
    return {"score": health.get("score", 0), "grade": health.get("grade", "?"),
            "factors": health.get("factors", []), "updated_at": health.get("updated_at")}


def contact_view(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    return {"id": doc["_id"], "name": doc["name"], "email": doc.get("email"),
            "phone": doc.get("phone"), "title": doc.get("title")}


async def require_customer(ctx: ToolContext, customer_id: str) -> dict:
    """The customer, or the same not-found error whether the id is another tenant's or nobody's."""
    customer = await ctx.storage.customers.get(ctx.tenant.slug, customer_id)
    if customer is None:
        raise not_found("customer", "id", customer_id, "list_customers")
    return customer


async def list_customers(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "name", "status")

    async def fetch(limit, after):
        return await ctx.storage.customers.page(ctx.tenant.slug, name=args.get("name"),
                                                status=args.get("status"), limit=limit, after=after)
    return await paginate(ctx, args, filters, fetch, customer_summary)


async def get_customer(ctx: ToolContext, args: dict) -> dict:
    customer = await require_customer(ctx, args["customer_id"])
    slug = ctx.tenant.slug
    contact, counts, sources = await asyncio.gather(
        ctx.storage.customers.contact(slug, customer.get("primary_contact_id")),
        ctx.storage.customers.open_counts(slug, customer["_id"]),
        ctx.storage.customers.sources(slug, await ctx.storage.customers.source_ids_for(slug, customer)))
    return {
        **customer_summary(customer),
        "address": customer.get("address") or {},
        "primary_contact": contact_view(contact),
        "arr": customer.get("arr", 0.0),
        "rollups": {**counts, "connected_sources": [source_view(s) for s in sources]},
        "created_at": customer.get("created_at"),
        "updated_at": customer.get("updated_at"),
    }


TOOLS = [
    ToolSpec(
        name="list_customers", title="List customers",
        description="List customers in this tenant, optionally filtered by name (substring) or status. "
                    "Returns id, name, city/state, status, MRR, and health snapshot.",
        scopes=("read:customers",),
        input_schema=obj({
            "name": string("Case-insensitive substring of the customer name.", max_length=100, min_length=1),
            "status": string("Customer status.", enum=CUSTOMER_STATUSES),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(CUSTOMER_SUMMARY),
        handler=list_customers,
    ),
    ToolSpec(
        name="get_customer", title="Get customer",
        description="Get full context for a single customer: address, primary contact, MRR/ARR, health "
                    "score, plus rollups (open ticket count, open alert count, connected sources).",
        scopes=("read:customers",),
        input_schema=obj({"customer_id": object_id("customer")}, ("customer_id",)),
        output_schema=out_obj({
            **CUSTOMER_SUMMARY["properties"],
            "address": out_obj({"street": STR, "city": STR, "state": STR, "postal_code": STR, "country": STR}),
            "primary_contact": nullable(CONTACT), "arr": NUM,
            "rollups": out_obj({"open_tickets": INT, "open_alerts": INT,
                                "connected_sources": {"type": "array", "items": SOURCE}},
                               ("open_tickets", "open_alerts", "connected_sources")),
            "created_at": nullable(TIME), "updated_at": nullable(TIME),
        }, ("id", "name", "status", "mrr", "arr", "health", "rollups")),
        handler=get_customer,
    ),
]
