"""get_customer_status_snapshot: everything about one account in a single call."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from .alerts import ALERT_SUMMARY, alert_summary
from .assets import ADDRESS, BACKUP_JOB, BACKUP_WINDOW, backup_job_view
from .common import source_view
from .customers import CUSTOMER_SUMMARY, SOURCE, customer_summary, require_customer
from .finance import CONTRACT, contract_view
from .registry import ToolContext, ToolSpec
from .schema import INT, NUM, TIME, obj, object_id, out_obj
from .tickets import TICKET_SUMMARY, ticket_summary

TOP = 5
CONTRACT_HORIZON = timedelta(days=60)
MAX_LISTED = 20  # failing backups and expiring contracts listed (count says how many in all)


def _section(item: dict, listed: int, extra: dict | None = None) -> dict:
    props = {"count": INT, "items": {"type": "array", "items": item, "maxItems": listed}, **(extra or {})}
    return out_obj(props, ("count", "items", *(extra or {})))


async def _listed_and_counted(page, count) -> tuple[list[dict], int]:
    """A list's first items and how many there are in all: a page shorter than the most listed
    is the whole list, so only a full one costs a count (most customers' lists are short)."""
    items, _ = await page
    return items, len(items) if len(items) < MAX_LISTED else await count()


async def get_customer_status_snapshot(ctx: ToolContext, args: dict) -> dict:
    customer = await require_customer(ctx, args["customer_id"])
    slug, customer_id, now = ctx.tenant.slug, customer["_id"], ctx.now
    backups_since, contracts_until = now - BACKUP_WINDOW, now + CONTRACT_HORIZON
    storage = ctx.storage
    ((ticket_count, top_tickets), (alert_count, top_alerts), (backups, backup_count),
     (contracts, contract_count), alert_sources, device_sources) = await asyncio.gather(
        storage.tickets.open_summary(slug, customer_id, TOP),
        storage.alerts.open_summary(slug, customer_id, TOP),
        _listed_and_counted(
            storage.assets.failing_backups_page(slug, since=backups_since, customer_id=customer_id,
                                                limit=MAX_LISTED, after=None),
            lambda: storage.assets.failing_backup_count(slug, since=backups_since, customer_id=customer_id)),
        _listed_and_counted(
            storage.finance.contracts_page(slug, status="active", customer_id=customer_id, ends_from=now,
                                           ends_until=contracts_until, limit=MAX_LISTED, after=None),
            lambda: storage.finance.contract_count(slug, status="active", customer_id=customer_id,
                                                   ends_from=now, ends_until=contracts_until)),
        storage.alerts.source_ids(slug, customer_id),
        storage.assets.source_ids(slug, customer_id),
    )
    source_ids = {*await storage.customers.source_ids_for(slug, customer), *alert_sources, *device_sources}
    sources = await storage.customers.sources(slug, sorted(source_ids))
    return {
        **customer_summary(customer),
        "arr": customer.get("arr", 0.0), "address": customer.get("address") or {},
        "open_tickets": {"count": ticket_count, "items": [ticket_summary(t) for t in top_tickets]},
        "open_alerts": {"count": alert_count, "items": [alert_summary(a) for a in top_alerts]},
        "failing_backups": {"count": backup_count, "since": backups_since,
                            "items": [backup_job_view(b) for b in backups]},
        "expiring_contracts": {"count": contract_count, "until": contracts_until,
                               "items": [contract_view(c) for c in contracts]},
        "sources": [source_view(s) for s in sources],
        "generated_at": now,
    }


TOOLS = [
    ToolSpec(
        name="get_customer_status_snapshot", title="Customer status snapshot",
        description="High-density 'everything for this account' snapshot. Returns identifying fields, "
                    "MRR, open ticket counts + top 5, open alert counts + top 5, failing backups in last "
                    "7d, contracts expiring within 60 days, and per-source last sync times. Designed as "
                    "the AI's grounding call. Top tickets: open ones (new/open/in_progress/waiting) by "
                    "priority (critical first), then most recently updated. Top alerts: open or "
                    "acknowledged ones by severity (critical first), then newest. Failing backups: jobs "
                    "whose last run in the last 7 days failed or warned, most recent first. Expiring "
                    "contracts: active ones ending within 60 days, soonest first. Both lists hold at most "
                    f"{MAX_LISTED} items; each count is the full number. sources lists every source "
                    "this customer's data comes from, with its last sync time and error.",
        scopes=("read:customers", "read:tickets", "read:alerts"),
        input_schema=obj({"customer_id": object_id("customer")}, ("customer_id",)),
        output_schema=out_obj({
            **CUSTOMER_SUMMARY["properties"],
            "arr": NUM, "address": ADDRESS,
            "open_tickets": _section(TICKET_SUMMARY, TOP),
            "open_alerts": _section(ALERT_SUMMARY, TOP),
            "failing_backups": _section(BACKUP_JOB, MAX_LISTED, {"since": TIME}),
            "expiring_contracts": _section(CONTRACT, MAX_LISTED, {"until": TIME}),
            "sources": {"type": "array", "items": SOURCE},
            "generated_at": TIME,
        }, (*CUSTOMER_SUMMARY["required"], "open_tickets", "open_alerts", "failing_backups",
            "expiring_contracts", "sources", "generated_at")),
        handler=get_customer_status_snapshot,
    ),
]
