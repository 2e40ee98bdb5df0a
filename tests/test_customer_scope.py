"""Customer-scoped credentials over the real MCP endpoint: every tool sees only the scope's
customers, an id outside it is exactly as unknown as an id that does not exist, cursors do not
cross scopes, writes never reach a vendor for another customer, rules tools are hidden, and the
model is told what it sees."""
from __future__ import annotations

import pytest

from vectis.credentials.issue import IssueError, issue_pat
from vectis.demo.generator import demo_operators
from vectis.scopes import ALL_SCOPES

from .support.customer_leaks import foreign_records, owners
from .support.rpc import call_tool, rpc, structured
from .test_read_tools import error_text, tenant_db, walk

SLUG = "acme"
ID_ARGUMENTS = {"get_customer": "customer_id", "get_customer_status_snapshot": "customer_id",
                "get_ticket": "ticket_id", "get_alert": "alert_id", "get_asset": "asset_id"}
ID_COLLECTION = {"customer_id": "customers", "ticket_id": "tickets", "alert_id": "alerts", "asset_id": "assets"}
LIST_TOOLS = ("list_customers", "list_open_tickets", "list_my_assignments", "list_alerts", "list_assets",
              "list_backups_failing", "list_contracts", "list_invoices", "list_recent_changes")
TENANT_WIDE = {"list_rules", "list_rule_executions", "run_rule"}
OPEN = ["new", "open", "in_progress", "waiting"]


async def scoped_setup(seeded, count: int = 2):
    """A technician with assignments restricted to `count` customers that have tickets, alerts
    and devices; their all-scopes token, and the admin's unrestricted one."""
    tenant = seeded[SLUG]
    db = tenant_db(tenant)
    storage = tenant.server.storage
    technician = next(o for o in demo_operators(SLUG) if o.role == "technician")
    user = await storage.users.by_email(SLUG, technician.email)
    assigned = await db["tickets"].distinct("customer_id", {"assignee.email": user["email"],
                                                            "status": {"$in": OPEN}})
    with_alerts = set(await db["alerts"].distinct("customer_id", {}))
    with_assets = set(await db["assets"].distinct("customer_id", {}))
    candidates = [c for c in sorted(assigned) if c in with_alerts and c in with_assets]
    assert len(candidates) >= count, "the seeded tenant should give the technician several customers"
    customers = frozenset(candidates[:count])
    await storage.users.set_customers(SLUG, user["_id"], customers)
    token, _ = await issue_pat(storage, tenant.server.config.token_pepper, SLUG,
                               await storage.users.by_id(SLUG, user["_id"]), label="co-managed",
                               scopes=ALL_SCOPES, expires_days=None, max_expires_days=30)
    return tenant, db, customers, token


async def outside_ids(db, customers) -> dict[str, str]:
    """One id of each kind that belongs to a customer outside the scope."""
    out = {}
    for argument, collection in ID_COLLECTION.items():
        field = "_id" if collection == "customers" else "customer_id"
        doc = await db[collection].find_one({field: {"$nin": sorted(customers)}})
        out[argument] = doc["_id"]
    return out


async def inside_ids(db, customers) -> dict[str, str]:
    out = {}
    for argument, collection in ID_COLLECTION.items():
        field = "_id" if collection == "customers" else "customer_id"
        out[argument] = (await db[collection].find_one({field: {"$in": sorted(customers)}}))["_id"]
    return out


def without_clock(value):
    """A snapshot without the windows it computed from the time of the call."""
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in ("since", "until", "generated_at")}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value


def not_found_shape(text: str, record_id: str, stand_in: str) -> str:
    return text.replace(record_id, stand_in)


async def test_every_read_tool_sees_only_its_customers(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    listed = await rpc(http, tenant.url, token, "tools/list")
    visible = {t["name"] for t in listed[1]["result"]["tools"]}
    covered = set(LIST_TOOLS) | set(ID_ARGUMENTS) | {"search_tickets", "search_global", "get_audit_log_for_ticket"}
    read_tools = {spec.name for spec in tenant.server.services.dispatcher.caller.registry if spec.read_only}
    # A read tool added later without a place here fails this test rather than go unchecked.
    # get_write_status reads only the caller's own pending writes (tests/writes/test_approvals.py).
    assert read_tools - TENANT_WIDE - {"get_write_status"} == covered
    assert visible & TENANT_WIDE == set()

    for tool in LIST_TOOLS:
        mine = await walk(http, tenant, tool, token=token)
        everyone = await walk(http, tenant, tool)
        assert not await foreign_records(db, mine, customers), tool
        owner = await owners(db, {item["id"] for item in everyone})
        expected = {item["id"] for item in everyone if owner.get(item["id"]) in customers} \
            if tool != "list_my_assignments" else {item["id"] for item in everyone}
        if tool == "list_my_assignments":   # the admin's assignments are not the technician's
            continue
        assert {item["id"] for item in mine} == expected, tool
        assert mine or tool in ("list_backups_failing", "list_recent_changes"), f"{tool}: nothing to compare"

    assigned = await walk(http, tenant, "list_my_assignments", token=token)
    technician = (await db["users"].find_one({"customers": sorted(customers)}))["email"]
    expected = {t["_id"] for t in await db["tickets"].find(
        {"assignee.email": technician, "customer_id": {"$in": sorted(customers)},
         "status": {"$in": OPEN}}, {"_id": 1}).to_list()}
    assert {item["id"] for item in assigned} == expected and expected

    inside, outside = await inside_ids(db, customers), await outside_ids(db, customers)
    for tool, argument in ID_ARGUMENTS.items():
        ok = await structured(http, tenant.url, token, tool, {argument: inside[argument]})
        assert not await foreign_records(db, ok, customers), tool
        refused = await error_text(http, tenant, tool, {argument: outside[argument]}, token=token)
        stand_in = argument.split("_")[0][:3] + "_" + "a" * 16
        unknown = await error_text(http, tenant, tool, {argument: stand_in}, token=token)
        # Exactly the answer for an id that does not exist: nothing tells the two apart.
        assert not_found_shape(refused, outside[argument], stand_in) == unknown, tool

    foreign_ticket = await db["tickets"].find_one({"_id": outside["ticket_id"]})
    for args in ({"number": foreign_ticket["number"]}, {"uuid": foreign_ticket["uuid"]}):
        assert "No ticket" in await error_text(http, tenant, "get_ticket", args, token=token)

    # Searches for words of another customer's ticket find nothing of theirs.
    word = max(foreign_ticket["subject"].split(), key=len)
    for tool, args in (("search_tickets", {"query": word}), ("search_global", {"query": word}),
                       ("search_tickets", {"query": foreign_ticket["subject"]})):
        mine = await structured(http, tenant.url, token, tool, args)
        assert not await foreign_records(db, mine, customers), (tool, args)
    everyone = await structured(http, tenant.url, tenant.token, "search_tickets", {"query": foreign_ticket["subject"]})
    assert foreign_ticket["_id"] in {hit["id"] for hit in everyone["items"]}

    rows = await structured(http, tenant.url, token, "get_audit_log_for_ticket",
                            {"uuid_prefix": foreign_ticket["uuid"][:4]})
    assert not await foreign_records(db, rows, customers)


async def test_snapshot_counts_only_the_scope(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    customer_id = sorted(customers)[0]
    mine = await structured(http, tenant.url, token, "get_customer_status_snapshot", {"customer_id": customer_id})
    everyone = await structured(http, tenant.url, tenant.token, "get_customer_status_snapshot",
                                {"customer_id": customer_id})
    assert without_clock(mine) == without_clock(everyone)   # a customer in scope is seen whole
    detail = await structured(http, tenant.url, token, "get_customer", {"customer_id": customer_id})
    open_tickets = await db["tickets"].count_documents(
        {"customer_id": customer_id, "status": {"$in": ["new", "open", "in_progress", "waiting"]}})
    assert detail["rollups"]["open_tickets"] == open_tickets > 0


async def test_cursor_of_one_scope_is_refused_in_another(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    page = await structured(http, tenant.url, tenant.token, "list_open_tickets", {"limit": 2})
    assert page["next_cursor"]
    text = await error_text(http, tenant, "list_open_tickets", {"limit": 2, "cursor": page["next_cursor"]},
                            token=token)
    assert "cursor" in text
    mine = await structured(http, tenant.url, token, "list_open_tickets", {"limit": 1})
    assert mine["next_cursor"]
    text = await error_text(http, tenant, "list_open_tickets", {"limit": 1, "cursor": mine["next_cursor"]})
    assert "cursor" in text


async def test_rules_tools_are_hidden_and_refused(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    result = await call_tool(http, tenant.url, token, "list_rules", {})
    assert result["isError"] is True
    assert "whole tenant" in result["content"][0]["text"]
    await tenant.server.services.audit.flush()
    row = await db["audit_log"].find_one({"action": "list_rules", "status": "denied_scope"})
    assert row is not None and row["detail"]["reason"] == "customer_scope"
    everyone = await rpc(http, tenant.url, tenant.token, "tools/list")
    assert TENANT_WIDE <= {t["name"] for t in everyone[1]["result"]["tools"]}


async def test_the_model_is_told_its_scope(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    names = {c["_id"]: c["name"] for c in await db["customers"].find({"_id": {"$in": sorted(customers)}}).to_list()}
    status, body, _ = await rpc(http, tenant.url, token, "initialize",
                                {"protocolVersion": "2025-11-25", "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "1"}})
    instructions = body["result"]["instructions"]
    assert "limited to only these 2 customers" in instructions
    assert all(name in instructions for name in names.values())
    tools = (await rpc(http, tenant.url, token, "tools/list"))[1]["result"]["tools"]
    assert all("limited to only these 2 customers" in t["description"] for t in tools)
    everyone = (await rpc(http, tenant.url, tenant.token, "tools/list"))[1]["result"]["tools"]
    assert not any("limited to" in t["description"] for t in everyone)


async def test_a_token_narrows_its_user_and_never_widens(seeded, http):
    tenant, db, customers, token = await scoped_setup(seeded)
    storage, config = tenant.server.storage, tenant.server.config
    user = await db["users"].find_one({"customers": sorted(customers)})
    one = sorted(customers)[:1]
    narrow_token, doc = await issue_pat(storage, config.token_pepper, SLUG, user, label="one customer",
                                        scopes=("read:customers",), expires_days=None, max_expires_days=30,
                                        customers=frozenset(one))
    assert doc["customers"] == one
    seen = await walk(http, tenant, "list_customers", token=narrow_token)
    assert [c["id"] for c in seen] == one
    outsider = (await outside_ids(db, customers))["customer_id"]
    with pytest.raises(IssueError, match="limited to other customers"):
        await issue_pat(storage, config.token_pepper, SLUG, user, label="wider", scopes=("read:customers",),
                        expires_days=None, max_expires_days=30, customers=frozenset([*one, outsider]))
    with pytest.raises(IssueError, match="no customer"):
        admin = await storage.users.by_email(SLUG, tenant.admin_email)
        await issue_pat(storage, config.token_pepper, SLUG, admin, label="x", scopes=("read:customers",),
                        expires_days=None, max_expires_days=30, customers=frozenset(["cus_" + "b" * 16]))
    # The user's own restriction shrinking takes the token's scope with it (the intersection).
    others = sorted(customers - set(one))
    await storage.users.set_customers(SLUG, user["_id"], frozenset(others))
    tenant.server.services.authenticator.forget(SLUG)
    assert await walk(http, tenant, "list_customers", token=narrow_token) == []
    assert {c["id"] for c in await walk(http, tenant, "list_customers", token=token)} == set(others)
    # Lifted: every customer again for the user's token, still one for the narrowed one.
    await storage.users.set_customers(SLUG, user["_id"], None)
    tenant.server.services.authenticator.forget(SLUG)
    assert [c["id"] for c in await walk(http, tenant, "list_customers", token=narrow_token)] == one
    assert len(await walk(http, tenant, "list_customers", token=token)) == await db["customers"].count_documents({})
