"""Alert tools: list_alerts, get_alert."""
from __future__ import annotations

from functools import partial

from ..storage.alerts import MAX_INCIDENT_ALERTS, SEVERITIES_MOST_SEVERE_FIRST
from .assets import ASSET_SUMMARY, asset_summary
from .common import given, linked_source, paginate
from .customers import CUSTOMER_SUMMARY, SOURCE, customer_summary, require_customer
from .registry import ToolContext, ToolSpec, not_found
from .schema import (
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

ALERT_STATUSES = ("open", "acknowledged", "resolved")
SEVERITIES = SEVERITIES_MOST_SEVERE_FIRST

ALERT_SUMMARY = out_obj({
    "id": STR, "customer_id": STR, "asset_id": nullable(STR), "severity": STR, "status": STR,
    "title": STR, "vendor": STR, "incident_id": nullable(STR), "created_at": TIME,
    "updated_at": nullable(TIME), "resolved_at": nullable(TIME),
}, ("id", "customer_id", "severity", "status", "title", "created_at"))
EVENT = out_obj({"at": TIME, "action": STR, "actor": nullable(STR)}, ("at", "action"))


def alert_summary(doc: dict) -> dict:
    return {
        "id": doc["_id"], "customer_id": doc["customer_id"], "asset_id": doc.get("asset_id"),
        "severity": doc["severity"], "status": doc["status"], "title": doc.get("title", ""),
        "vendor": doc.get("vendor", ""), "incident_id": doc.get("incident_id"),
        "created_at": doc.get("created_at"), "updated_at": doc.get("updated_at"),
        "resolved_at": doc.get("resolved_at"),
    }


def _event(entry: dict) -> dict:
    return {"at": entry.get("at"), "action": entry.get("action", ""), "actor": entry.get("actor")}


def _last(history: list[dict], action: str) -> dict | None:
    matching = [entry for entry in history if entry.get("action") == action]
    return _event(matching[-1]) if matching else None


async def list_alerts(ctx: ToolContext, args: dict) -> dict:
    filters = given(args, "customer_id", "severity", "status")
    if "customer_id" in filters:
        await require_customer(ctx, filters["customer_id"])
    fetch = partial(ctx.storage.alerts.page, ctx.tenant.slug, **filters)
    return await paginate(ctx, args, filters, fetch, alert_summary)


async def get_alert(ctx: ToolContext, args: dict) -> dict:
    slug = ctx.tenant.slug
    alert = await ctx.storage.alerts.get(slug, args["alert_id"])
    if alert is None:
        raise not_found("alert", "id", args["alert_id"], "list_alerts")
    customer = await ctx.storage.customers.get(slug, alert["customer_id"])
    device = await ctx.storage.assets.get(slug, alert["asset_id"]) if alert.get("asset_id") else None
    incident = (await ctx.storage.alerts.same_incident(slug, alert["incident_id"], except_id=alert["_id"])
                if alert.get("incident_id") else [])
    history = alert.get("history") or []
    return {
        **alert_summary(alert),
        "uuid": alert.get("uuid"), "message": alert.get("message") or "",
        "customer": customer_summary(customer) if customer else None,
        "device": asset_summary(device) if device else None,
        "source": await linked_source(ctx, alert),
        "history": [_event(entry) for entry in history],
        "acknowledged": _last(history, "acknowledged"), "resolved": _last(history, "resolved"),
        "incident_alerts": [alert_summary(other) for other in incident],
    }


TOOLS = [
    ToolSpec(
        name="list_alerts", title="List alerts",
        description="List RMM alerts, optionally filtered by customer / severity / status. Defaults to "
                    "all open alerts when no filter is given, where open means status open or "
                    "acknowledged (not yet resolved); pass status=resolved for resolved ones. Severities, "
                    "most severe first: critical, major, moderate, minor, info. Sorted newest first "
                    "(created_at); pages of `limit` (default 50, at most 200) with next_cursor.",
        scopes=("read:alerts",),
        input_schema=obj({
            "customer_id": object_id("customer"),
            "severity": string("Only alerts of this severity.", enum=SEVERITIES),
            "status": string("Only alerts in this status (default: open and acknowledged).",
                             enum=ALERT_STATUSES),
            "limit": limit(), "cursor": cursor(),
        }),
        output_schema=page_of(ALERT_SUMMARY),
        handler=list_alerts,
    ),
    ToolSpec(
        name="get_alert", title="Get alert",
        description="Get a single alert with linked device, acknowledgment / resolution history, and "
                    "correlated incident id. history lists every action oldest first (created, "
                    "acknowledged, resolved, reopened) with its actor; acknowledged and resolved repeat "
                    "the latest such action (null if none); incident_alerts lists the other alerts of "
                    f"the same incident, oldest first (at most {MAX_INCIDENT_ALERTS}).",
        scopes=("read:alerts",),
        input_schema=obj({"alert_id": object_id("alert")}, ("alert_id",)),
        output_schema=out_obj({
            **ALERT_SUMMARY["properties"],
            "uuid": nullable(STR), "message": STR, "customer": nullable(CUSTOMER_SUMMARY),
            "device": nullable(ASSET_SUMMARY), "source": nullable(SOURCE),
            "history": {"type": "array", "items": EVENT},
            "acknowledged": nullable(EVENT), "resolved": nullable(EVENT),
            "incident_alerts": {"type": "array", "items": ALERT_SUMMARY},
        }, (*ALERT_SUMMARY["required"], "device", "history", "incident_alerts")),
        handler=get_alert,
    ),
]
