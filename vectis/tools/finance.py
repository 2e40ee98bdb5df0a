"""Finance tools: list_contracts, list_invoices."""
from __future__ import annotations

from datetime import timedelta
from functools import partial

from .common import given, paginate, parse_time
from .customers import require_customer
from .registry import ToolContext, ToolSpec
from .schema import (
    BOOL,
    NUM,
    STR,
    TIME,
    cursor,
    integer,
    limit,
    nullable,
    obj,
    object_id,
    out_obj,
    page_of,
    since,
    string,
)

CONTRACT_KINDS = ("managed_services", "block_hours", "project")
CONTRACT_STATUSES = ("active", "pending", "expired", "cancelled")
INVOICE_STATUSES = ("draft", "open", "paid", "overdue", "void")

CONTRACT = out_obj({
    "id": STR, "customer_id": STR, "name": STR, "kind": STR, "status": STR, "start_date": TIME,
    "end_date": TIME, "monthly_value": NUM, "auto_renew": BOOL,
}, ("id", "customer_id", "name", "kind", "status", "end_date"))
INVOICE_LINE = out_obj({"description": STR, "quantity": NUM, "unit_price": NUM, "amount": NUM})
INVOICE = out_obj({
    "id": STR, "customer_id": STR, "number": STR, "status": STR, "issued_at": TIME,
    "due_at": nullable(TIME), "currency": STR, "total": NUM, "balance": NUM,
    "lines": {"type": "array", "items": INVOICE_LINE},
}, ("id", "customer_id", "number", "status", "issued_at", "total", "balance"))


def contract_view(doc: dict) -> dict:
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"], "name": doc.get("name", ""),
        "kind": doc["kind"], "status": doc["status"], "start_date": doc.get("start_date"),
        "end_date": doc["end_date"], "monthly_value": doc.get("monthly_value", 0.0),
        "auto_renew": bool(doc.get("auto_renew")),
    }


def invoice_view(doc: dict) -> dict:
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"], "number": doc.get("number", ""),
        "status": doc["status"], "issued_at": doc["issued_at"], "due_at": doc.get("due_at"),
        "currency": doc.get("currency", "USD"), "total": doc.get("total", 0.0),
        "balance": doc.get("balance", 0.0), "lines": doc.get("lines") or [],
    }


async def list_contracts(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "status", "expiring_within_days")
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    window = {}
    if "expiring_within_days" in args:
        window = {"ends_from": ctx.now, "ends_until": ctx.now + timedelta(days=args["expiring_within_days"])}
    fetch = partial(ctx.storage.finance.contracts_page, ctx.tenant.slug, status=args.get("status", "active"),
                    customer_id=filters.get("customer_id"), **window)
    return await paginate(ctx, args, filters, fetch, contract_view)


async def list_invoices(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "status", "since")
    issued_since = parse_time(args["since"], "since") if "since" in args else None
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.finance.invoices_page, ctx.tenant.slug,
                    customer_id=filters.get("customer_id"), status=filters.get("status"),
                    issued_since=issued_since)
    return await paginate(ctx, args, filters, fetch, invoice_view)


TOOLS = [
    ToolSpec(
        name="list_contracts", title="List contracts",
        description="List managed-services contracts. Optional filters: customer_id, "
                    "expiring_within_days (defaults to all active contracts when omitted). "
                    "expiring_within_days keeps contracts whose end date falls between now and that many "
                    "days from now; status (default active) selects pending, expired or cancelled "
                    "contracts instead. Sorted by end date, soonest first; pages of `limit` (default 50, "
                    "at most 200) with next_cursor.",
        scopes=("read:contracts",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "expiring_within_days": integer("Only contracts ending within this many days from now.",
                                            minimum=1, maximum=3650),
            "status": string("Contract status (default active).", enum=CONTRACT_STATUSES),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(CONTRACT),
        handler=list_contracts,
    ),
    ToolSpec(
        name="list_invoices", title="List invoices",
        description="List billing invoices, optionally filtered by customer_id, status "
                    "(open/paid/overdue/…), or since (only invoices issued at or after this ISO date). "
                    "With no filter, every invoice of every customer. Sorted by issue date, newest "
                    "first; pages of `limit` (default 50, at most 200) with next_cursor. Amounts are in "
                    "the invoice's currency; balance is what is still owed.",
        scopes=("read:billing",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "status": string("Only invoices in this status.", enum=INVOICE_STATUSES),
            "since": since(),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(INVOICE),
        handler=list_invoices,
    ),
]
