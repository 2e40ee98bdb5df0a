"""Human approval of AI writes over a vendor simulator: the official SDK client answering the
inline confirmation (2026-07-28 MRTR), the queue for other clients, sealed requestState, and
MFA step-up as a URL elicitation."""
from __future__ import annotations

import asyncio
import time

import mcp_types as types
import pytest

from vectis.approvals import request_state
from vectis.config import decode_key
from vectis.mcp.protocol import IDEMPOTENCY_CONFLICT, META_CLIENT_CAPS, META_VERSION
from vectis.writes.dispatcher import arguments_hash

from ..conftest import issue_token
from ..support.mcp_client import mcp_session
from ..support.rpc import rpc, structured
from .conftest import open_ticket

MODERN = "2026-07-28"


def vendor_writes(sim) -> int:
    return sum(n for route, n in sim.calls.items() if not route.startswith("GET"))


@pytest.fixture
async def tenant(make_vendor_tenant):
    tenant = await make_vendor_tenant("approvals", ("connectwise", "ninjaone", "datto_bcdr"))
    await set_policy(tenant, "customer_visible")
    return tenant


async def set_policy(tenant, policy: str) -> None:
    await tenant.server.storage.tenants.set_approval_policy(tenant.slug, policy)
    tenant.server.services.tenants.forget(tenant.slug)


def modern_call(name: str, arguments: dict, *, caps: dict | None = None, **extra) -> tuple[dict, dict]:
    params = {"name": name, "arguments": arguments, **extra,
              "_meta": {META_VERSION: MODERN, META_CLIENT_CAPS: caps if caps is not None else {"elicitation": {}},
                        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}
    return params, {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": name}


async def call_modern(http, tenant, name, arguments, token=None, **extra):
    params, headers = modern_call(name, arguments, **extra)
    return await rpc(http, tenant.url, token or tenant.token, "tools/call", params, headers=headers)


async def test_sdk_client_approves_and_declines_inline(tenant):
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    shown: list[str] = []
    answer = {"approve": True}

    async def confirm(context, params):
        shown.append(params.message)
        return types.ElicitResult(action="accept", content=dict(answer))

    async with mcp_session(tenant.url, tenant.token, mode="auto", elicitation_callback=confirm) as client:
        before = vendor_writes(sim)
        result = await client.call_tool("reply_to_ticket", {"ticket_id": ticket["_id"], "body": "On our way."})
        assert result.is_error is False, result.content
        assert vendor_writes(sim) == before + 1
        assert "reply_to_ticket" in shown[0] and "On our way." in shown[0] and "POST" in shown[0]

        answer["approve"] = False
        result = await client.call_tool("reply_to_ticket", {"ticket_id": ticket["_id"], "body": "Not this."})
        assert result.is_error is True and "declined" in result.content[0].text
        assert vendor_writes(sim) == before + 1

        # Not customer-visible under this policy: no question asked.
        result = await client.call_tool("add_internal_note", {"ticket_id": ticket["_id"], "body": "fyi"})
        assert result.is_error is False and len(shown) == 2
    statuses = [row["status"] for row in await tenant.db["audit_log"].find(
        {"action": "reply_to_ticket"}).sort("at", 1).to_list()]
    assert statuses == ["approval_requested", "success", "approval_requested", "declined"]


async def test_legacy_client_gets_the_queue(tenant, http):
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    before = vendor_writes(sim)
    pending = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                               {"ticket_id": ticket["_id"], "body": "Queued reply.", "idempotency_key": "k1"})
    # A client that retries before anyone decided (a timeout) gets the same pending write back.
    retried = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                               {"ticket_id": ticket["_id"], "body": "Queued reply.", "idempotency_key": "k1"})
    assert retried["approval_id"] == pending["approval_id"] and retried["status"] == "pending_approval"
    assert pending["status"] == "pending_approval" and pending["approval_url"].endswith("#" + pending["approval_id"])
    assert pending["requests"] and vendor_writes(sim) == before
    status = await structured(http, tenant.url, tenant.token, "get_write_status",
                              {"approval_id": pending["approval_id"]})
    assert status["status"] == "pending"

    admin = await tenant.server.storage.users.by_email(tenant.slug, tenant.admin_email)
    approvals = tenant.server.services.approvals
    # Two approvers at once (one process here; tests/writes two-process tests do it across
    # processes): exactly one dispatch.
    first, second = await asyncio.gather(approvals.decide(tenant.slug, pending["approval_id"], admin, True),
                                         approvals.decide(tenant.slug, pending["approval_id"], admin, True))
    assert vendor_writes(sim) == before + 1
    assert {first["status"], second["status"]} <= {"succeeded", "dispatching"}
    done = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": pending["approval_id"]})
    assert done["status"] == "succeeded" and done["decided_by"] == tenant.admin_email
    assert done["result"]["internal"] is False
    # A retry with the same idempotency_key replays the first answer (the same pending write, now
    # decided): no second approval to make, no second write; other arguments are a conflict.
    again = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                             {"ticket_id": ticket["_id"], "body": "Queued reply.", "idempotency_key": "k1"})
    assert (again["approval_id"], again["status"]) == (pending["approval_id"], "succeeded")
    assert await tenant.db["approvals"].count_documents({}) == 1
    status, body, _ = await rpc(http, tenant.url, tenant.token, "tools/call", {
        "name": "reply_to_ticket",
        "arguments": {"ticket_id": ticket["_id"], "body": "Another reply.", "idempotency_key": "k1"}})
    assert body["error"]["code"] == IDEMPOTENCY_CONFLICT
    assert vendor_writes(sim) == before + 1

    rejected = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                                {"ticket_id": ticket["_id"], "body": "Rejected reply."})
    doc = await approvals.decide(tenant.slug, rejected["approval_id"], admin, False, "tone")
    assert doc["status"] == "rejected" and vendor_writes(sim) == before + 1
    view = await structured(http, tenant.url, tenant.token, "get_write_status", {"approval_id": rejected["approval_id"]})
    assert view["status"] == "rejected" and view["reason"] == "tone"


async def test_request_state_is_sealed_to_its_call(tenant, http):
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    args = {"ticket_id": ticket["_id"], "body": "Sealed."}
    status, body, _ = await call_modern(http, tenant, "reply_to_ticket", args)
    assert status == 200 and body["result"]["resultType"] == "input_required"
    state = body["result"]["requestState"]
    form = body["result"]["inputRequests"]["approval"]
    assert form["method"] == "elicitation/create" and form["params"]["mode"] == "form"
    yes = {"approval": {"action": "accept", "content": {"approve": True}}}
    other = await issue_token(tenant.server.storage, tenant.server.config, tenant.slug, tenant.admin_email,
                              ["write:notes"])
    key = decode_key(tenant.server.config.encryption_key)
    expired, _ = request_state.seal(key, tenant.slug, credential_id="x", tool="reply_to_ticket",
                                    args_hash=arguments_hash("reply_to_ticket", args), asks="approve",
                                    now=time.time() - 3600)
    before = vendor_writes(sim)
    for label, call_args, token, sealed in (
            ("tampered", args, None, state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")),
            ("other arguments", {**args, "body": "Changed."}, None, state),
            ("other credential", args, other, state),
            ("expired", args, None, expired)):
        status, body, _ = await call_modern(http, tenant, "reply_to_ticket", call_args, token=token,
                                            inputResponses=yes, requestState=sealed)
        assert status == 400 and body["error"]["code"] == -32602, (label, body)
    assert vendor_writes(sim) == before
    # The genuine answer writes once; replaying it replays the first response.
    for _ in range(2):
        status, body, _ = await call_modern(http, tenant, "reply_to_ticket", args, inputResponses=yes,
                                            requestState=state)
        assert body["result"]["isError"] is False, body
    assert vendor_writes(sim) == before + 1


async def test_modern_client_without_elicitation_gets_the_queue(tenant, http):
    ticket = await open_ticket(tenant)
    status, body, _ = await call_modern(http, tenant, "reply_to_ticket", {"ticket_id": ticket["_id"], "body": "x"},
                                        caps={})
    assert body["result"]["resultType"] == "complete"
    assert body["result"]["structuredContent"]["status"] == "pending_approval"


async def test_policy_none_and_dry_runs_write_as_documented(tenant, http):
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    before = vendor_writes(sim)
    plan = await structured(http, tenant.url, tenant.token, "reply_to_ticket",
                            {"ticket_id": ticket["_id"], "body": "Preview.", "dry_run": True})
    assert plan["dry_run"] is True and vendor_writes(sim) == before
    await set_policy(tenant, "none")
    sent = await structured(http, tenant.url, tenant.token, "reply_to_ticket", {"ticket_id": ticket["_id"], "body": "Now."})
    assert sent["internal"] is False and vendor_writes(sim) == before + 1


async def test_step_up_is_a_url_elicitation_for_modern_clients(tenant, http):
    await set_policy(tenant, "none")
    ticket = await open_ticket(tenant)
    args = {"ticket_id": ticket["_id"], "resolution_summary": "Fixed."}
    status, body, _ = await call_modern(http, tenant, "close_ticket", args,
                                        caps={"elicitation": {"form": {}, "url": {}}})
    request = body["result"]["inputRequests"]["elevate"]
    assert request["params"]["mode"] == "url" and "/account/mcp?token=pat_" in request["params"]["url"]
    state = body["result"]["requestState"]
    # Declined: the documented -32003 with the elevation path.
    status, body, _ = await call_modern(http, tenant, "close_ticket", args, caps={"elicitation": {"url": {}}},
                                        inputResponses={"elevate": {"action": "decline"}}, requestState=state)
    assert body["error"]["code"] == -32003 and body["error"]["data"]["elevationPath"] == "/account/mcp"
    # Elevated meanwhile (what the page does), then accepted: the call goes on.
    await tenant.elevate()
    status, body, _ = await call_modern(http, tenant, "close_ticket", args, caps={"elicitation": {"url": {}}},
                                        inputResponses={"elevate": {"action": "accept"}}, requestState=state)
    assert body["result"]["isError"] is False, body
    # Legacy clients keep the documented error (checked before the ticket is looked at).
    await tenant.db["pats"].update_many({}, {"$set": {"elevated_until": None}})
    tenant.server.services.authenticator.forget(tenant.slug)
    status, body, _ = await rpc(http, tenant.url, tenant.token, "tools/call",
                                {"name": "close_ticket", "arguments": {"ticket_id": ticket["_id"]}})
    assert body["error"]["code"] == -32003


async def test_sdk_client_in_legacy_mode_gets_the_queue(tenant):
    ticket = await open_ticket(tenant)
    sim = tenant.sim("psa")
    before = vendor_writes(sim)

    async def never(context, params):   # a 2025 session never receives an inline question
        raise AssertionError("no elicitation expected")

    async with mcp_session(tenant.url, tenant.token, mode="legacy", elicitation_callback=never) as client:
        result = await client.call_tool("reply_to_ticket", {"ticket_id": ticket["_id"], "body": "Legacy."})
        assert result.is_error is False
        pending = result.structured_content
        assert pending["status"] == "pending_approval" and vendor_writes(sim) == before
        followed = await client.call_tool("get_write_status", {"approval_id": pending["approval_id"]})
        assert followed.structured_content["status"] == "pending"
