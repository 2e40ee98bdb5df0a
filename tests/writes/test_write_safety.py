"""What makes writes safe to retry and to audit: dry run, idempotency (replay, conflict,
concurrent duplicates), vendor faults (429, 5xx, timeouts, a connection dropped after the vendor
acted), and an audit row for every outcome, written before the call returns."""
from __future__ import annotations

import asyncio

import pytest

from vectis.demo.generator import demo_operators

from ..conftest import issue_token
from ..support.rpc import call_tool, rpc, structured
from . import vendor_view
from .conftest import customer_with_psa, open_ticket

CREATE_PATH = r"/service/tickets$"


@pytest.fixture
async def cw(make_vendor_tenant):
    return await make_vendor_tenant("cwtenant", ("connectwise", "ninjaone", "datto_bcdr"))


async def create_args(tenant, **extra) -> dict:
    customer = await customer_with_psa(tenant)
    return {"customer_id": customer["_id"], "subject": "VPN drops every hour",
            "description": "Since the firewall update.", **extra}


def creates(tenant) -> int:
    return vendor_view.creates(tenant.sim("psa"), "connectwise")


async def statuses(tenant, action: str) -> list[str]:
    rows = await tenant.db["audit_log"].find({"action": action}).sort("at", 1).to_list()
    assert all(r["mcpToolCallStatus"] == r["status"] for r in rows)
    return [r["status"] for r in rows]


async def test_dry_run_shows_the_exact_request_and_sends_nothing(cw, http):
    args = await create_args(cw, dry_run=True, priority="critical")
    out = await structured(http, cw.url, cw.token, "create_ticket", args)
    assert out["dry_run"] is True and out["vendor"] == "connectwise"
    assert out["customer"]["id"] == args["customer_id"]
    [request] = out["requests"]
    assert request["method"] == "POST" and request["path"] == "/service/tickets"
    assert request["body"]["summary"] == "VPN drops every hour"
    assert request["body"]["company"]["id"] > 0 and request["body"]["priority"]["id"] > 0
    assert creates(cw) == 0
    assert await cw.db["tickets"].count_documents({"subject": "VPN drops every hour"}) == 0
    assert await statuses(cw, "create_ticket") == ["dry_run"]
    # The real call sends exactly what the dry run showed.
    real = await structured(http, cw.url, cw.token, "create_ticket", {**args, "dry_run": False})
    sent = cw.sim("psa").writes[-1]
    assert sent["body"] == request["body"] and real["ticket"]["subject"] == "VPN drops every hour"


async def test_replay_and_conflict(cw, http):
    args = await create_args(cw, idempotency_key="ticket-vpn-1")
    first = await call_tool(http, cw.url, cw.token, "create_ticket", args)
    second = await call_tool(http, cw.url, cw.token, "create_ticket", args)
    assert first["isError"] is False and second["isError"] is False
    assert second["structuredContent"] == first["structuredContent"]
    assert second["_meta"]["vectis/replayed"] is True and "_meta" not in first
    assert creates(cw) == 1
    status, body, _ = await rpc(http, cw.url, cw.token, "tools/call", {
        "name": "create_ticket", "arguments": {**args, "subject": "Something else"}})
    assert status == 200 and body["error"]["code"] == -32004
    assert creates(cw) == 1
    assert await statuses(cw, "create_ticket") == ["success", "replayed", "conflict"]
    # The key belongs to its owner: another operator's identical call is a new ticket.
    technician = next(o for o in demo_operators(cw.slug) if o.role == "technician")
    other = await issue_token(cw.server.storage, cw.server.config, cw.slug, technician.email,
                              ["write:tickets"])
    assert (await call_tool(http, cw.url, other, "create_ticket", args))["isError"] is False
    assert creates(cw) == 2


async def test_concurrent_duplicates_dispatch_once(cw, http):
    args = await create_args(cw, idempotency_key="burst")
    cw.sim("psa").faults.add(kind="latency", method="POST", path=CREATE_PATH, seconds=0.3)
    answers = await asyncio.gather(*(rpc(http, cw.url, cw.token, "tools/call",
                                         {"name": "create_ticket", "arguments": args}) for _ in range(20)))
    assert creates(cw) == 1
    ids = set()
    for status, body, _ in answers:
        assert status == 200
        if "error" in body:
            assert body["error"]["code"] == -32005 and body["error"]["data"]["retryAfterSeconds"] >= 1
        else:
            ids.add(body["result"]["structuredContent"]["ticket"]["id"])
    assert len(ids) == 1
    assert await cw.db["tickets"].count_documents({"subject": "VPN drops every hour"}) == 1


async def test_vendor_429_is_waited_out(cw, http):
    cw.sim("psa").faults.add(kind="status", status=429, retry_after=1, method="POST", path=CREATE_PATH)
    out = await structured(http, cw.url, cw.token, "create_ticket", await create_args(cw))
    assert out["ticket"]["id"] and creates(cw) == 1


async def test_vendor_500_on_create_is_not_retried_and_says_so(cw, http):
    cw.sim("psa").faults.add(kind="status", status=500, method="POST", path=CREATE_PATH)
    args = await create_args(cw, idempotency_key="five-hundred")
    result = await call_tool(http, cw.url, cw.token, "create_ticket", args)
    text = result["content"][0]["text"]
    assert result["isError"] is True
    assert "ConnectWise" in text and "HTTP 500" in text and "check before retrying" in text
    assert cw.server.services.connections.http.calls[("connectwise", "500")] == 1   # sent once
    # Retrying with the key first asks the vendor whether the ticket exists; it does not, so
    # the retry creates it, once.
    assert (await call_tool(http, cw.url, cw.token, "create_ticket", args))["isError"] is False
    assert creates(cw) == 1
    assert await statuses(cw, "create_ticket") == ["error", "success"]


async def test_timeout_is_reported_as_possibly_applied(cw, http):
    cw.sim("psa").faults.add(kind="timeout", seconds=5, method="POST", path=CREATE_PATH)
    result = await call_tool(http, cw.url, cw.token, "create_ticket", await create_args(cw))
    assert result["isError"] is True and "timeout" in result["content"][0]["text"]
    assert "check before retrying" in result["content"][0]["text"]


async def test_lost_response_after_the_vendor_acted_is_recovered_not_repeated(cw, http):
    cw.sim("psa").faults.add(kind="drop_after", method="POST", path=CREATE_PATH)
    args = await create_args(cw, idempotency_key="dropped")
    first = await call_tool(http, cw.url, cw.token, "create_ticket", args)
    assert first["isError"] is True and creates(cw) == 1          # the vendor did create it
    retry = await structured(http, cw.url, cw.token, "create_ticket", args)
    assert creates(cw) == 1                                       # found, not created again
    stored = await cw.db["tickets"].find({"subject": "VPN drops every hour"}).to_list()
    assert [t["_id"] for t in stored] == [retry["ticket"]["id"]]
    row = (await cw.db["audit_log"].find({"action": "create_ticket"}).sort("at", 1).to_list())[-1]
    assert row["status"] == "success" and row["detail"]["recovered"] is True


async def test_5xx_on_an_idempotent_verb_is_retried(cw, http):
    ticket = await open_ticket(cw)
    await cw.elevate()
    cw.sim("psa").faults.add(kind="status", status=503, method="PATCH", path=r"/service/tickets/\d+$")
    out = await structured(http, cw.url, cw.token, "close_ticket", {"ticket_id": ticket["_id"]})
    assert out["status"] == "closed"
    assert vendor_view.ticket(cw.sim("psa"), "connectwise", ticket["refs"][0]["external_id"])["closed"]


async def test_every_denial_is_audited(cw, http):
    args = await create_args(cw)
    reader = await issue_token(cw.server.storage, cw.server.config, cw.slug, cw.admin_email,
                               ["read:tickets"])
    status, _, headers = await rpc(http, cw.url, reader, "tools/call",
                                   {"name": "create_ticket", "arguments": args})
    assert status == 403 and 'error="insufficient_scope"' in headers["WWW-Authenticate"]
    await cw.server.storage.tenants.set_rate_limits(cw.slug, {"credential_write": 1}, reset=False)
    cw.server.services.tenants.forget(cw.slug)
    await structured(http, cw.url, cw.token, "create_ticket", args)
    status, body, _ = await rpc(http, cw.url, cw.token, "tools/call",
                                {"name": "create_ticket", "arguments": args})
    assert body["error"]["code"] == -32002
    assert await statuses(cw, "create_ticket") == ["denied_scope", "success", "rate_limited"]
    assert creates(cw) == 1


async def test_no_dispatch_when_the_audit_row_cannot_be_written(cw, http):
    """The audit log refuses every row (a validator no row satisfies): the call fails, and the
    vendor never hears of it."""
    db = cw.db
    await db["audit_log"].drop()
    await db.create_collection("audit_log", validator={"$jsonSchema": {"required": ["never_present"]}})
    result = await call_tool(http, cw.url, cw.token, "create_ticket", await create_args(cw))
    assert result["isError"] is True and "internal error" in result["content"][0]["text"]
    assert creates(cw) == 0


async def test_audit_log_for_ticket_shows_who_wrote_what(cw, http):
    ticket = await open_ticket(cw)
    await structured(http, cw.url, cw.token, "reply_to_ticket",
                     {"ticket_id": ticket["_id"], "body": "Preview only", "dry_run": True})
    await structured(http, cw.url, cw.token, "add_internal_note",
                     {"ticket_id": ticket["_id"], "body": "Checked the logs."})
    by_id = await structured(http, cw.url, cw.token, "get_audit_log_for_ticket",
                             {"ticket_id": ticket["_id"]})
    assert [(r["action"], r["mcpToolCallStatus"]) for r in by_id["items"]] == [
        ("add_internal_note", "success"), ("reply_to_ticket", "dry_run")]
    newest = by_id["items"][0]
    assert newest["actor"]["kind"] == "pat" and newest["actor"]["email"] == cw.admin_email
    assert newest["detail"]["vendor"] == "connectwise"
    by_uuid = await structured(http, cw.url, cw.token, "get_audit_log_for_ticket",
                               {"uuid_prefix": ticket["uuid"][:8]})
    assert [r["id"] for r in by_uuid["items"]] == [r["id"] for r in by_id["items"]]
