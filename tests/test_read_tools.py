"""The read tools as a whole: every result matches its outputSchema and leaks no internal field;
cursors and ids never cross tenants, tools or filters; bad arguments are refused without echo.

Also the helpers the other test_read_tools_* modules share.
"""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from jsonschema import Draft202012Validator, FormatChecker

from vectis.ids import new_id

from .support.rpc import call_tool, rpc, structured

DOCUMENTED_SCOPES = {
    "list_open_tickets": ("read:tickets",), "get_ticket": ("read:tickets",),
    "search_tickets": ("read:tickets", "read:search"), "list_alerts": ("read:alerts",),
    "get_alert": ("read:alerts",), "list_assets": ("read:assets",), "get_asset": ("read:assets",),
    "list_contracts": ("read:contracts",), "list_backups_failing": ("read:assets",),
    "list_invoices": ("read:billing",), "list_recent_changes": ("read:notes",),
    "search_global": ("read:search",), "list_rules": ("read:search",),
    "list_rule_executions": ("read:search",),
    "get_customer_status_snapshot": ("read:customers", "read:tickets", "read:alerts"),
    "list_my_assignments": ("read:tickets",), "get_audit_log_for_ticket": ("read:tickets",),
}
OPEN_TICKET_STATUSES = ["new", "open", "in_progress", "waiting"]
INTERNAL_FIELDS = {"_id", "search_tg", "refs", "credentials_encrypted", "password_hash", "token_hash"}


# --- helpers shared by the test_read_tools_* modules ---------------------------------------------
def tenant_db(tenant):
    return tenant.server.storage.db.tenant(tenant.slug)


async def ids_in_db(tenant, collection: str, query: dict) -> set[str]:
    return {doc["_id"] for doc in await tenant_db(tenant)[collection].find(query, {"_id": 1}).to_list()}


async def walk(http, tenant, tool: str, args: dict | None = None, *, token: str | None = None,
               limit: int = 7) -> list[dict]:
    """Every item of a list tool, page by page; fails on a duplicate or an oversized page."""
    items, cursor = [], None
    for _ in range(500):
        page_args = {**(args or {}), "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = await structured(http, tenant.url, token or tenant.token, tool, page_args)
        assert page["count"] == len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert page["count"] == limit
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)), f"{tool} repeated items across pages"
    return items


async def error_text(http, tenant, tool: str, args: dict, token: str | None = None) -> str:
    result = await call_tool(http, tenant.url, token or tenant.token, tool, args)
    assert result["isError"] is True, result
    assert "structuredContent" not in result
    return result["content"][0]["text"]


def is_sorted(items: list[dict], *fields: str, descending: bool) -> bool:
    keys = [tuple(item[f] for f in fields) for item in items]
    return keys == sorted(keys, reverse=descending)


def rule_documents(count: int, *, now: datetime) -> list[dict]:
    return [{
        "_id": new_id("rul"), "name": f"Rule {n:02d}", "description": "Escalate critical alerts",
        "enabled": n % 3 != 0,
        "trigger": {"event": "alert.created", "conditions": [{"field": "severity", "op": "eq", "value": "critical"}]},
        "actions": [{"verb": "create_ticket", "params": {"priority": "high"}}], "cooldown_seconds": 300,
        "owner_user_id": None, "created_at": now - timedelta(days=n), "updated_at": now,
    } for n in range(count)]


def execution_documents(rules: list[dict], count: int, *, now: datetime) -> list[dict]:
    statuses = ("queued", "running", "succeeded", "failed", "dead_letter", "dry_run")
    return [{
        "_id": new_id("rex"), "rule_id": rules[n % len(rules)]["_id"], "event_id": new_id("alr"),
        "trigger": "event", "status": statuses[n % len(statuses)], "dry_run": statuses[n % 6] == "dry_run",
        "attempts": n % 4, "last_error": "vendor timeout" if n % 6 in (3, 4) else None,
        "planned_actions": [{"verb": "create_ticket"}], "created_at": now - timedelta(hours=n),
        "updated_at": now, "finished_at": None,
    } for n in range(count)]


def audit_documents(ticket: dict, count: int, *, now: datetime) -> list[dict]:
    actor = {"kind": "pat", "credential_id": new_id("pat"), "user_id": new_id("usr"),
             "email": "sam.rivera@acme.example", "client_id": None}
    return [{"_id": new_id("aud"), "at": now - timedelta(minutes=n), "actor": actor, "action": "reply_to_ticket",
             "kind": "write", "status": "success",
             "target": {"kind": "ticket", "id": ticket["_id"], "uuid": ticket["uuid"]},
             "detail": {"vendor_status": 201}, "duration_ms": 12.5, "request_id": f"req-{n}"}
            for n in range(count)]


def assert_no_internal_fields(value, path: str = "") -> None:
    if isinstance(value, dict):
        leaked = INTERNAL_FIELDS & set(value)
        assert not leaked, f"{path}: internal field(s) {leaked}"
        for key, child in value.items():
            assert_no_internal_fields(child, f"{path}.{key}")
    elif isinstance(value, list):
        for child in value:
            assert_no_internal_fields(child, path + "[]")


# --- every tool ----------------------------------------------------------------------------------
async def test_every_read_tool_returns_what_its_output_schema_promises(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC)
    rules = rule_documents(2, now=now)
    await db["rules"].insert_many(rules)
    await db["rule_executions"].insert_many(execution_documents(rules, 6, now=now))
    ticket = await db["tickets"].find_one({}, sort=[("message_count", -1)])
    await acme.server.storage.audit.insert("acme", audit_documents(ticket, 3, now=now))
    alert = await db["alerts"].find_one({"asset_id": {"$ne": None}, "incident_id": {"$ne": None}}) \
        or await db["alerts"].find_one({"asset_id": {"$ne": None}})
    asset = await db["assets"].find_one({})
    customer = await db["customers"].find_one({"status": "active"})
    admin = await db["users"].find_one({"email": acme.admin_email})
    approval = {"_id": new_id("apr"), "status": "pending", "action": "reply_to_ticket", "params": {},
                "user_id": admin["_id"], "customer_id": ticket["customer_id"], "plan": {},
                "requested_at": now, "expires_at": now + timedelta(hours=24), "outcome": None}
    await db["approvals"].insert_one(approval)
    _, data, _ = await rpc(http, acme.url, acme.token, "tools/list")
    listed = {tool["name"]: tool for tool in data["result"]["tools"]}
    tools = {name: tool for name, tool in listed.items() if tool["annotations"]["readOnlyHint"]}
    # No vendor is connected here, so of the write tools only run_rule (no vendor verb) is listed.
    assert set(listed) - set(tools) == {"run_rule"}

    calls = {
        "list_customers": {}, "get_customer": {"customer_id": customer["_id"]},
        "list_open_tickets": {}, "get_ticket": {"ticket_id": ticket["_id"]},
        "list_my_assignments": {}, "search_tickets": {"query": ticket["subject"]},
        "search_global": {"query": customer["name"]}, "list_alerts": {},
        "get_alert": {"alert_id": alert["_id"]}, "list_assets": {}, "get_asset": {"asset_id": asset["_id"]},
        "list_backups_failing": {"since": (now - timedelta(days=30)).isoformat()},
        "list_contracts": {}, "list_invoices": {}, "list_recent_changes": {}, "list_rules": {},
        "list_rule_executions": {"rule_id": rules[0]["_id"]},
        "get_customer_status_snapshot": {"customer_id": customer["_id"]},
        "get_audit_log_for_ticket": {"ticket_id": ticket["_id"]},
        "get_write_status": {"approval_id": approval["_id"]},
    }
    assert set(calls) == set(tools), "every listed tool is exercised"
    for name, args in calls.items():
        tool = tools[name]
        if name in DOCUMENTED_SCOPES:
            assert tool["description"].endswith(f"[scopes: {', '.join(DOCUMENTED_SCOPES[name])}]")
        assert tool["annotations"] == {"title": tool["title"], "readOnlyHint": True, "destructiveHint": False,
                                       "idempotentHint": True, "openWorldHint": False}
        result = await call_tool(http, acme.url, acme.token, name, args)
        assert result["isError"] is False, (name, result["content"][0]["text"])
        content = result["structuredContent"]
        assert json.loads(result["content"][0]["text"]) == content
        Draft202012Validator(tool["outputSchema"], format_checker=FormatChecker()).validate(content)
        assert_no_internal_fields(content, name)
        items = content.get("items")
        assert items is None or items, f"{name} returned nothing to validate"


# --- isolation -----------------------------------------------------------------------------------
LIST_TOOLS = {  # tool -> arguments that give it more than one page of demo data at limit 1
    "list_open_tickets": {}, "list_my_assignments": {}, "list_alerts": {}, "list_assets": {},
    "list_backups_failing": {"since": "2000-01-01"}, "list_contracts": {}, "list_invoices": {},
    "list_recent_changes": {}, "list_rules": {}, "list_rule_executions": {},
}


async def test_cursors_never_cross_tenants_tools_or_filters(seeded, http):
    acme, northwind = seeded["acme"], seeded["northwind"]
    for tenant in (acme, northwind):
        rules = rule_documents(3, now=datetime.now(UTC))
        await tenant_db(tenant)["rules"].insert_many(rules)
        await tenant_db(tenant)["rule_executions"].insert_many(execution_documents(rules, 3, now=datetime.now(UTC)))
    for tool, args in LIST_TOOLS.items():
        page = await structured(http, acme.url, acme.token, tool, {**args, "limit": 1})
        cursor = page["next_cursor"]
        assert cursor, f"{tool} needs a second page for this test"
        follow = await structured(http, acme.url, acme.token, tool, {**args, "limit": 1, "cursor": cursor})
        assert follow["items"][0]["id"] != page["items"][0]["id"]
        refused = await error_text(http, northwind, tool, {**args, "cursor": cursor})
        assert refused == "cursor is not valid for this query. Start again without a cursor.", tool
        other_tool = "list_alerts" if tool != "list_alerts" else "list_assets"
        assert "cursor is not valid" in await error_text(http, acme, other_tool, {"cursor": cursor})
    cursor = (await structured(http, acme.url, acme.token, "list_open_tickets", {"limit": 1}))["next_cursor"]
    for other_filters in ({"priority": "high"}, {"status": "open"}):
        text = await error_text(http, acme, "list_open_tickets", {**other_filters, "cursor": cursor})
        assert "cursor is not valid" in text
    forged = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert "cursor is not valid" in await error_text(http, acme, "list_open_tickets", {"cursor": forged})
    # A cursor stays with the token owner's own assignments.
    technician = await acme.issue(["read:tickets"], email="sam.rivera@acme.example")
    mine = (await structured(http, acme.url, acme.token, "list_my_assignments", {"limit": 1}))["next_cursor"]
    assert "cursor is not valid" in await error_text(http, acme, "list_my_assignments", {"cursor": mine},
                                                     token=technician)


async def test_ids_of_another_tenant_are_not_found_exactly_like_unknown_ids(seeded, http):
    acme, northwind = seeded["acme"], seeded["northwind"]
    nw = tenant_db(northwind)
    rule = rule_documents(1, now=datetime.now(UTC))[0]
    await nw["rules"].insert_one(rule)
    ticket = await nw["tickets"].find_one({"origin": "psa"})
    await northwind.server.storage.audit.insert("northwind", audit_documents(ticket, 2, now=datetime.now(UTC)))
    theirs = {"customer": (await nw["customers"].find_one({}))["_id"], "ticket": ticket["_id"],
              "alert": (await nw["alerts"].find_one({}))["_id"], "asset": (await nw["assets"].find_one({}))["_id"],
              "rule": rule["_id"]}
    probes = [  # (tool, argument, kind of id, extra arguments)
        ("get_customer", "customer_id", "customer", {}),
        ("get_ticket", "ticket_id", "ticket", {}),
        ("get_alert", "alert_id", "alert", {}),
        ("get_asset", "asset_id", "asset", {}),
        ("get_customer_status_snapshot", "customer_id", "customer", {}),
        ("list_rule_executions", "rule_id", "rule", {}),
        *[(tool, "customer_id", "customer", {}) for tool in (
            "list_open_tickets", "list_alerts", "list_assets", "list_backups_failing", "list_contracts",
            "list_invoices", "list_recent_changes")],
    ]
    for tool, argument, kind, extra in probes:
        their_id = theirs[kind]
        unknown_id = new_id(their_id[:3])
        text = await error_text(http, acme, tool, {**extra, argument: their_id})
        assert text.replace(their_id, "<id>") == \
            (await error_text(http, acme, tool, {**extra, argument: unknown_id})).replace(unknown_id, "<id>")
        assert "No " in text and "in this tenant" in text
        # ... while in its own tenant the same id works.
        assert (await call_tool(http, northwind.url, northwind.token, tool, {argument: their_id}))["isError"] is False
    for argument, value, unknown in (("uuid", ticket["uuid"], str(uuid.uuid4())),
                                     ("number", ticket["number"], "T19990101.0001")):
        text = await error_text(http, acme, "get_ticket", {argument: value})
        assert text.replace(value, "<v>") == \
            (await error_text(http, acme, "get_ticket", {argument: unknown})).replace(unknown, "<v>")
    # The audit log of another tenant's ticket is as empty as that of a ticket nobody has.
    for args in ({"ticket_id": ticket["_id"]}, {"uuid_prefix": ticket["uuid"][:8]}):
        assert await structured(http, acme.url, acme.token, "get_audit_log_for_ticket", args) == \
            {"items": [], "count": 0}
        assert (await structured(http, northwind.url, northwind.token, "get_audit_log_for_ticket", args))["count"] == 2


# --- invalid arguments ---------------------------------------------------------------------------
REQUIRED = {  # valid-looking required arguments, so that only the probed argument is wrong
    "get_ticket": {"ticket_id": "tkt_aaaaaaaaaaaaaaaa"}, "get_alert": {"alert_id": "alr_aaaaaaaaaaaaaaaa"},
    "get_asset": {"asset_id": "ast_aaaaaaaaaaaaaaaa"},
    "get_customer_status_snapshot": {"customer_id": "cus_aaaaaaaaaaaaaaaa"},
    "search_tickets": {"query": "printer"}, "search_global": {"query": "printer"},
    "get_audit_log_for_ticket": {"ticket_id": "tkt_aaaaaaaaaaaaaaaa"},
}
ID_ARGUMENTS = {"get_ticket": "ticket_id", "get_alert": "alert_id", "get_asset": "asset_id",
                "get_customer_status_snapshot": "customer_id", "list_open_tickets": "customer_id",
                "list_alerts": "customer_id", "list_assets": "customer_id", "list_backups_failing": "customer_id",
                "list_contracts": "customer_id", "list_invoices": "customer_id",
                "list_recent_changes": "customer_id", "list_rule_executions": "rule_id",
                "get_audit_log_for_ticket": "ticket_id"}
STRING_ARGUMENTS = {"search_tickets": "query", "search_global": "query", "list_open_tickets": "assignee_email",
                    "get_ticket": "number", "get_audit_log_for_ticket": "uuid_prefix",
                    "list_backups_failing": "since", "list_invoices": "since", "list_recent_changes": "since",
                    "list_rule_executions": "since", "list_rules": "cursor", "list_my_assignments": "cursor"}
DATE_ARGUMENTS = ("list_backups_failing", "list_invoices", "list_recent_changes", "list_rule_executions")


async def test_invalid_arguments_are_refused_without_echoing_them(acme, http):
    long_value = "Z" * 10_000
    for tool in DOCUMENTED_SCOPES:
        base = REQUIRED.get(tool, {})
        text = await error_text(http, acme, tool, {**base, "tenant_id": "northwind"})
        assert "unknown argument" in text and "tenant_id" in text
        if tool in ID_ARGUMENTS:
            text = await error_text(http, acme, tool, {**base, ID_ARGUMENTS[tool]: {"$ne": None}})
            assert "$ne" not in text and "must be of type string" in text
        if tool in STRING_ARGUMENTS:
            text = await error_text(http, acme, tool, {**base, STRING_ARGUMENTS[tool]: long_value})
            assert "ZZZZZZZZ" not in text and len(text) < 300
    for tool in ("list_open_tickets", "list_alerts", "list_invoices", "search_tickets"):
        for bad in (0, 201, "10"):
            assert "limit" in await error_text(http, acme, tool, {**REQUIRED.get(tool, {}), "limit": bad})
    for tool in DATE_ARGUMENTS:
        for bad in ("yesterday", "2026-13-45", "2026-03-01T25:00:00Z", "0001-01-01T00:00:00+01:00"):
            text = await error_text(http, acme, tool, {"since": bad})
            assert "since must be an ISO 8601 date or date-time" in text and bad not in text
    for bad_enum in ({"status": "closed"}, {"priority": "urgent"}):  # closed is not an open status
        assert "must be one of" in await error_text(http, acme, "list_open_tickets", bad_enum)
    assert "exactly one of ticket_id, uuid or number" in await error_text(http, acme, "get_ticket", {})
    assert "exactly one of" in await error_text(http, acme, "get_ticket", {
        "ticket_id": "tkt_aaaaaaaaaaaaaaaa", "number": "100100"})
    assert "Give ticket_id, uuid_prefix" in await error_text(http, acme, "get_audit_log_for_ticket", {})
    assert "pattern" in await error_text(http, acme, "get_audit_log_for_ticket", {"uuid_prefix": "abc"})
    assert "letter or digit" in await error_text(http, acme, "search_global", {"query": "!!! --"})
    assert "minLength" in await error_text(http, acme, "search_tickets", {"query": ""})
    assert "open status" in await error_text(http, acme, "search_tickets",
                                             {"query": "printer", "status": "closed", "open_only": True})
