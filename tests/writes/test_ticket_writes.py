"""The ticket write tools on every PSA that has them (ConnectWise, Autotask, HaloPSA, Atera),
end to end: MCP call → one dispatch path → the vendor's API over HTTP (a simulator holding the
tenant's own data) → the tenant database, so reads agree with the vendor at once."""
from __future__ import annotations

import pytest

from ..support.rpc import call_tool, rpc, structured
from . import vendor_view
from .conftest import customer_with_psa, open_ticket

PSAS = ("connectwise", "autotask", "halopsa", "atera")


@pytest.fixture(params=PSAS)
async def tenant(request, make_vendor_tenant):
    return await make_vendor_tenant("psa-" + request.param.replace("_", "-"),
                                    (request.param, "ninjaone", "datto_bcdr"))


def vendor_of(tenant) -> str:
    return tenant.sources["psa"]["vendor"]


async def test_create_ticket(tenant, http):
    customer = await customer_with_psa(tenant)
    vendor = vendor_of(tenant)
    out = await structured(http, tenant.url, tenant.token, "create_ticket", {
        "customer_id": customer["_id"], "subject": "Printer on 2nd floor jams",
        "description": "Jams on every duplex job since Monday.", "priority": "high"})
    created = out["ticket"]
    assert out["vendor"] == vendor and created["customer_id"] == customer["_id"]
    assert vendor_view.creates(tenant.sim("psa"), vendor) == 1
    stored = await tenant.db["tickets"].find_one({"_id": created["id"]})
    external = stored["refs"][0]["external_id"]
    assert vendor_view.ticket(tenant.sim("psa"), vendor, external)["subject"] == "Printer on 2nd floor jams"
    # Reads agree at once: the new ticket, its number and its first message.
    got = await structured(http, tenant.url, tenant.token, "get_ticket", {"ticket_id": created["id"]})
    assert got["subject"] == "Printer on 2nd floor jams"
    assert got["priority"] == "high" and got["number"] == created["number"]
    assert [m["body"] for m in got["messages"]] == ["Jams on every duplex job since Monday."]
    rows = await tenant.db["audit_log"].find({"action": "create_ticket"}).to_list()
    assert [(r["status"], r["mcpToolCallStatus"], r["target"]["id"]) for r in rows] == [
        ("success", "success", created["id"])]


async def test_reply_and_internal_note(tenant, http):
    vendor = vendor_of(tenant)
    ticket = await open_ticket(tenant)
    external = ticket["refs"][0]["external_id"]
    before = vendor_view.notes(tenant.sim("psa"), vendor, external)
    reply = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                             {"ticket_id": ticket["_id"], "body": "We are on it."})
    note = await structured(http, tenant.url, tenant.token, "add_internal_note",
                            {"ticket_id": ticket["_id"], "body": "Toner order #4411 placed."})
    assert reply["internal"] is False and note["internal"] is True
    after = vendor_view.notes(tenant.sim("psa"), vendor, external)
    assert after[len(before):] == [("We are on it.", False), ("Toner order #4411 placed.", True)]
    got = await structured(http, tenant.url, tenant.token, "get_ticket", {"ticket_id": ticket["_id"]})
    newest = [(m["body"], m["is_internal"]) for m in got["messages"][:2]]
    assert sorted(newest) == sorted([("We are on it.", False), ("Toner order #4411 placed.", True)])
    assert got["message_count"] == ticket["message_count"] + 2


async def test_close_ticket_needs_elevation_then_closes(tenant, http):
    vendor = vendor_of(tenant)
    ticket = await open_ticket(tenant)
    args = {"ticket_id": ticket["_id"], "resolution_summary": "Replaced the fuser unit."}
    status, body, _ = await rpc(http, tenant.url, tenant.token, "tools/call",
                                {"name": "close_ticket", "arguments": args})
    assert status == 200 and body["error"]["code"] == -32003
    data = body["error"]["data"]
    assert data["elevationPath"] == "/account/mcp"
    assert data["elevationUrl"].endswith("/account/mcp?token=" + data["credentialId"])
    assert vendor_view.ticket(tenant.sim("psa"), vendor, ticket["refs"][0]["external_id"])["closed"] is False
    denied = await tenant.db["audit_log"].find_one({"action": "close_ticket"})
    assert denied["status"] == "denied_mfa"

    await tenant.elevate()
    out = await structured(http, tenant.url, tenant.token, "close_ticket", args)
    assert out["status"] == "closed"
    view = vendor_view.ticket(tenant.sim("psa"), vendor, ticket["refs"][0]["external_id"])
    assert view["closed"] is True
    notes = vendor_view.notes(tenant.sim("psa"), vendor, ticket["refs"][0]["external_id"])
    assert ("Replaced the fuser unit.", False) in notes
    got = await structured(http, tenant.url, tenant.token, "get_ticket", {"ticket_id": ticket["_id"]})
    assert got["status"] == "closed" and got["closed_at"]
    again = await call_tool(http, tenant.url, tenant.token, "close_ticket", args)
    assert again["isError"] is True and "already closed" in again["content"][0]["text"]
