"""Ticket tools: list_open_tickets, get_ticket, list_my_assignments."""
from __future__ import annotations

from functools import partial

from ..storage.customers import OPEN_TICKET_STATUSES
from .common import given, linked_source, paginate
from .customers import CUSTOMER_SUMMARY, SOURCE, customer_summary, require_customer
from .registry import ToolContext, ToolError, ToolSpec, not_found
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
    string,
)

TICKET_STATUSES = (*OPEN_TICKET_STATUSES, "resolved", "closed")
PRIORITIES = ("low", "medium", "high", "critical")
THREAD_LIMIT = 25
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

PERSON = out_obj({"name": STR, "email": nullable(STR)}, ("name",))
ASSIGNEE = out_obj({"user_id": nullable(STR), "name": STR, "email": nullable(STR)}, ("name",))
TICKET_SUMMARY = out_obj({
    "id": STR, "number": STR, "subject": STR, "status": STR, "priority": STR, "origin": STR,
    "customer_id": STR, "requester": PERSON, "assignee": nullable(ASSIGNEE), "message_count": INT,
    "created_at": TIME, "updated_at": TIME, "closed_at": nullable(TIME),
}, ("id", "number", "subject", "status", "priority", "customer_id", "assignee", "updated_at"))
MESSAGE = out_obj({
    "id": STR, "author": out_obj({"kind": STR, "name": STR, "email": nullable(STR)}, ("kind", "name")),
    "body": STR, "is_internal": BOOL, "created_at": TIME,
}, ("id", "author", "body", "is_internal", "created_at"))

OPEN_STATUS_ARG = string("Only tickets in this open status.", enum=OPEN_TICKET_STATUSES)
PRIORITY_ARG = string("Only tickets of this priority.", enum=PRIORITIES)


def ticket_summary(doc: dict) -> dict:
    """The compact view every ticket list uses (no description, no thread)."""
    requester = doc.get("requester") or {}
    assignee = doc.get("assignee")
    return {
        "id": doc["_id"], "number": doc.get("number", ""), "subject": doc.get("subject", ""),
        "status": doc["status"], "priority": doc.get("priority", "medium"),
        "origin": doc.get("origin", "psa"), "customer_id": doc["customer_id"],
        "requester": {"name": requester.get("name", ""), "email": requester.get("email")},
        "assignee": {"user_id": assignee.get("user_id"), "name": assignee.get("name", ""),
                     "email": assignee.get("email")} if assignee else None,
        "message_count": doc.get("message_count", 0), "created_at": doc.get("created_at"),
        "updated_at": doc.get("updated_at"), "closed_at": doc.get("closed_at"),
    }


def message_view(doc: dict) -> dict:
    author = doc.get("author") or {}
    return {"id": doc["_id"],
            "author": {"kind": author.get("kind", "system"), "name": author.get("name", ""),
                       "email": author.get("email")},
            "body": doc.get("body", ""), "is_internal": bool(doc.get("is_internal")),
            "created_at": doc.get("created_at")}


async def list_open_tickets(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "status", "priority", "assignee_email")
    if "assignee_email" in filters:
        filters["assignee_email"] = filters["assignee_email"].lower()
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.tickets.open_page, ctx.tenant.slug, **filters)
    return await paginate(ctx, args, filters, fetch, ticket_summary)


async def list_my_assignments(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "status", "priority")
    email = ctx.principal.email.lower()
    fetch = partial(ctx.storage.tickets.open_page, ctx.tenant.slug, assignee_email=email, **filters)
    # The owner is part of the cursor's scope: a cursor never continues someone else's list.
    return await paginate(ctx, args, {**filters, "assignee_email": email}, fetch, ticket_summary)


async def find_ticket(ctx: ToolContext, args: dict) -> dict:
    """The ticket named by exactly one of ticket_id, uuid or number, or a not-found error that is
    the same whether the ticket belongs to another tenant or to no one."""
    keys = [k for k in ("ticket_id", "uuid", "number") if k in args]
    if len(keys) != 1:
        raise ToolError("Give exactly one of ticket_id, uuid or number.")
    slug, key = ctx.tenant.slug, keys[0]
    if key == "ticket_id":
        ticket = await ctx.storage.tickets.get(slug, args["ticket_id"])
    elif key == "uuid":
        ticket = await ctx.storage.tickets.by_uuid(slug, args["uuid"])
    else:
        matches = await ctx.storage.tickets.by_number(slug, args["number"])
        if len(matches) > 1:
            ids = ", ".join(m["_id"] for m in matches)
            raise ToolError(f"Ticket number {args['number']} exists in several sources (ticket ids {ids}). "
                            "Call get_ticket again with the ticket_id you mean.")
        ticket = matches[0] if matches else None
    if ticket is None:
        raise not_found("ticket", key, args[key], "list_open_tickets or search_tickets")
    return ticket


async def get_ticket(ctx: ToolContext, args: dict) -> dict:
    ticket = await find_ticket(ctx, args)
    slug = ctx.tenant.slug
    messages, total = await ctx.storage.tickets.thread(slug, ticket["_id"], THREAD_LIMIT)
    customer = await ctx.storage.customers.get(slug, ticket["customer_id"])
    return {
        **ticket_summary(ticket),
        "uuid": ticket.get("uuid"), "description": ticket.get("description", ""),
        "customer": customer_summary(customer) if customer else None,
        "source": await linked_source(ctx, ticket),
        "messages": [message_view(m) for m in messages],
        "messages_total": total, "messages_truncated": total > len(messages),
    }


TOOLS = [
    ToolSpec(
        name="list_open_tickets", title="List open tickets",
        description="List open tickets across all sources (PSA + portal). Defaults to all open tickets "
                    "across all customers when no filter is given. Open means status new, open, "
                    "in_progress or waiting. Optional filters: customer_id, status (one of the open "
                    "statuses), priority, assignee_email. Sorted by last update, most recent first; "
                    "pages of `limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:tickets",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "status": OPEN_STATUS_ARG,
            "priority": PRIORITY_ARG,
            "assignee_email": string("Only tickets assigned to this operator e-mail (case-insensitive).",
                                     max_length=254, min_length=3, fmt="email"),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(TICKET_SUMMARY),
        handler=list_open_tickets,
    ),
    ToolSpec(
        name="get_ticket", title="Get ticket",
        description="Get a single ticket with its conversation thread (newest 25), priority/status, "
                    "requester, assignee, and linked customer. Name the ticket by exactly one of "
                    "ticket_id (tkt_…), uuid, or number (the vendor's ticket number, e.g. 104233 or "
                    "T20260301.0004; if two sources share a number you are asked for the ticket_id). "
                    f"messages holds at most {THREAD_LIMIT} messages, newest first, internal notes "
                    "included (is_internal); messages_total counts the whole thread and "
                    "messages_truncated says whether older messages were left out.",
        scopes=("read:tickets",),
        input_schema=obj({
            "ticket_id": object_id("ticket"),
            "uuid": string("The ticket's Vectis UUID.", max_length=36, pattern=UUID_PATTERN),
            "number": string("The ticket number shown in the PSA or portal.", max_length=40, min_length=1,
                             pattern=NUMBER_PATTERN),
        }),
        output_schema=out_obj({
            **TICKET_SUMMARY["properties"],
            "uuid": nullable(STR), "description": STR, "customer": nullable(CUSTOMER_SUMMARY),
            "source": nullable(SOURCE),
            "messages": {"type": "array", "items": MESSAGE, "maxItems": THREAD_LIMIT},
            "messages_total": INT, "messages_truncated": BOOL,
        }, (*TICKET_SUMMARY["required"], "customer", "messages", "messages_total", "messages_truncated")),
        handler=get_ticket,
    ),
    ToolSpec(
        name="list_my_assignments", title="List my assigned tickets",
        description="Tickets assigned to the user who issued this MCP token (matched by email). Includes "
                    "only open statuses (new, open, in_progress, waiting). Optional filters: status (one "
                    "of the open statuses), priority. Sorted by last update, most recent first; pages "
                    "of `limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:tickets",),
        input_schema=obj({"status": OPEN_STATUS_ARG, "priority": PRIORITY_ARG,
                          "limit": limit(), "cursor": cursor()}),
        output_schema=page_of(TICKET_SUMMARY),
        handler=list_my_assignments,
    ),
]
