"""Asset tools: list_assets, get_asset, list_backups_failing."""
from __future__ import annotations

from datetime import timedelta
from functools import partial

from ..storage.assets import FAILING_BACKUP_STATUSES
from .common import given, linked_source, paginate, parse_time
from .customers import CUSTOMER_SUMMARY, SOURCE, customer_summary, require_customer
from .registry import ToolContext, ToolSpec, not_found
from .schema import (
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
    since,
    string,
)

ASSET_KINDS = ("server", "workstation", "laptop", "network", "virtual_machine", "mobile", "printer")
ASSET_STATUSES = ("online", "offline", "stale", "retired")
BACKUP_WINDOW = timedelta(days=7)

OS = out_obj({"name": nullable(STR), "version": nullable(STR), "build": nullable(STR)})
ADDRESS = out_obj({"street": STR, "city": STR, "state": STR, "postal_code": STR, "country": STR})
ASSET_SUMMARY = out_obj({
    "id": STR, "customer_id": STR, "name": STR, "kind": STR, "status": STR, "site_name": nullable(STR),
    "os": OS, "ip_address": nullable(STR), "last_seen_at": nullable(TIME),
    "warranty_status": nullable(STR),
}, ("id", "customer_id", "name", "kind", "status"))
BACKUP_JOB = out_obj({
    "id": STR, "customer_id": STR, "asset_id": nullable(STR), "name": STR, "vendor": STR,
    "last_status": STR, "last_run_at": TIME, "last_success_at": nullable(TIME),
    "last_error": nullable(STR), "size_gb": nullable(NUM),
}, ("id", "customer_id", "name", "last_status", "last_run_at"))


def asset_summary(doc: dict) -> dict:
    """The compact view of a device used by lists, alerts and search."""
    os_info = doc.get("os") or {}
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"], "name": doc.get("name", ""),
        "kind": doc["kind"], "status": doc["status"], "site_name": (doc.get("site") or {}).get("name"),
        "os": {"name": os_info.get("name"), "version": os_info.get("version"), "build": os_info.get("build")},
        "ip_address": doc.get("ip_address"), "last_seen_at": doc.get("last_seen_at"),
        "warranty_status": (doc.get("warranty") or {}).get("status"),
    }


def backup_job_view(doc: dict) -> dict:
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"], "asset_id": doc.get("asset_id"),
        "name": doc.get("name", ""), "vendor": doc.get("vendor", ""), "last_status": doc["last_status"],
        "last_run_at": doc["last_run_at"], "last_success_at": doc.get("last_success_at"),
        "last_error": doc.get("last_error"), "size_gb": doc.get("size_gb"),
    }


async def list_assets(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "kind", "status")
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.assets.page, ctx.tenant.slug, **filters)
    return await paginate(ctx, args, filters, fetch, asset_summary)


async def get_asset(ctx: ToolContext, args: dict) -> dict:
    slug = ctx.tenant.slug
    asset = await ctx.storage.assets.get(slug, args["asset_id"])
    if asset is None:
        raise not_found("asset", "id", args["asset_id"], "list_assets")
    customer = await ctx.storage.customers.get(slug, asset["customer_id"])
    site = asset.get("site") or {}
    return {
        **asset_summary(asset),
        "customer": customer_summary(customer) if customer else None,
        "site": {"name": site.get("name"), "address": site.get("address")},
        "hardware": asset.get("hardware") or {}, "warranty": asset.get("warranty") or {},
        "lifecycle": asset.get("lifecycle") or {}, "source": await linked_source(ctx, asset),
        "created_at": asset.get("created_at"), "updated_at": asset.get("updated_at"),
    }


async def list_backups_failing(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "status", "since")
    window_start = parse_time(args["since"], "since") if "since" in args else ctx.now - BACKUP_WINDOW
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.assets.failing_backups_page, ctx.tenant.slug, since=window_start,
                    customer_id=filters.get("customer_id"), status=filters.get("status"))
    page = await paginate(ctx, args, filters, fetch, backup_job_view)
    return {**page, "since": window_start}


TOOLS = [
    ToolSpec(
        name="list_assets", title="List assets",
        description="List assets (devices) for a customer or across the tenant. Optional filters: "
                    "customer_id, kind (server/workstation/…), status. With no filter, every device of "
                    "every customer, in any status (retired included). Sorted by host name; pages of "
                    "`limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:assets",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "kind": string("Only devices of this kind.", enum=ASSET_KINDS),
            "status": string("Only devices in this status.", enum=ASSET_STATUSES),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(ASSET_SUMMARY),
        handler=list_assets,
    ),
    ToolSpec(
        name="get_asset", title="Get asset",
        description="Get a single asset (device) with full hardware / OS / warranty / lifecycle "
                    "metadata, plus linked customer + site.",
        scopes=("read:assets",),
        input_schema=obj({"asset_id": object_id("asset")}, ("asset_id",)),
        output_schema=out_obj({
            **ASSET_SUMMARY["properties"],
            "customer": nullable(CUSTOMER_SUMMARY),
            "site": out_obj({"name": nullable(STR), "address": nullable(ADDRESS)}),
            "hardware": out_obj({"manufacturer": STR, "model": STR, "serial_number": STR, "cpu": STR,
                                 "ram_gb": NUM, "disk_gb": NUM}),
            "warranty": out_obj({"start": TIME, "end": TIME, "status": STR}),
            "lifecycle": out_obj({"purchased_at": TIME, "deployed_at": TIME, "eol_at": TIME, "stage": STR}),
            "source": nullable(SOURCE), "created_at": nullable(TIME), "updated_at": nullable(TIME),
        }, (*ASSET_SUMMARY["required"], "customer", "site", "hardware", "warranty", "lifecycle")),
        handler=get_asset,
    ),
    ToolSpec(
        name="list_backups_failing", title="List failing backups",
        description="List failed (or warning-state) backup jobs across all backup vendors. Defaults to "
                    "the last 7 days; widen with the `since` filter. A job is listed when its latest run "
                    "failed or ended with a warning and started at or after `since` (an ISO date or "
                    "date-time, UTC if no offset; default 7 days ago); the result repeats the window start "
                    "as `since`. Optional filters: customer_id, status (failed or warning). Sorted by last "
                    "run, most recent first; pages of `limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:assets",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "status": string("Only jobs whose last run ended in this state.", enum=FAILING_BACKUP_STATUSES),
            "since": since(),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(BACKUP_JOB, {"since": TIME}),
        handler=list_backups_failing,
    ),
]
