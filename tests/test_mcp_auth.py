"""Who may call /api/mcp: bearer PATs, scopes, revocation, tenants, rate limits."""
import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from vectis.credentials.pats import hash_token
from vectis.logs import JsonFormatter
from vectis.scopes import ALL_SCOPES, READ_SCOPES

from .conftest import issue_token, tenant_of
from .support.rpc import call_tool, rpc


def challenge_params(header: str) -> dict:
    assert header.startswith("Bearer ")
    params = {}
    for part in header[len("Bearer "):].split('", '):
        key, _, value = part.partition("=")
        params[key.strip()] = value.strip('"')
    return params


async def test_no_credential_gets_401_with_resource_metadata(acme, http, live_server):
    status, data, headers = await rpc(http, acme.url, None, "ping")
    assert status == 401
    params = challenge_params(headers["WWW-Authenticate"])
    assert params["resource_metadata"] == \
        f"http://acme.localhost:{live_server.port}/.well-known/oauth-protected-resource/api/mcp"
    assert params["scope"] == " ".join(READ_SCOPES)
    assert "error" not in params
    assert data["error"] == "unauthorized"


@pytest.mark.parametrize("header", [
    "Bearer vct_pat_" + "x" * 43,          # well-formed, unknown
    "Bearer not-a-vectis-token",
    "Bearer ",
    "Bearer two words",
])
async def test_bad_bearer_tokens_get_invalid_token(acme, http, header):
    status, _, headers = await rpc(http, acme.url, None, "ping", headers={"Authorization": header})
    assert status == 401
    assert challenge_params(headers["WWW-Authenticate"])["error"] == "invalid_token"


async def test_token_only_from_the_authorization_header(acme, http):
    status, _, _ = await rpc(http, acme.url + f"?access_token={acme.token}", None, "ping")
    assert status == 401
    status, _, headers = await rpc(http, acme.url, None, "ping", headers={"Authorization": f"Basic {acme.token}"})
    assert status == 401 and "error" not in challenge_params(headers["WWW-Authenticate"])
    # The scheme is case-insensitive.
    status, _, _ = await rpc(http, acme.url, None, "ping", headers={"Authorization": f"bearer {acme.token}"})
    assert status == 200


async def test_challenge_urls_come_from_configuration_not_headers(acme, http, live_server):
    spoof = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example"}
    _, _, headers = await rpc(http, acme.url, None, "ping", headers=spoof)
    assert "evil" not in headers["WWW-Authenticate"]
    async with http.get(live_server.url("acme", "/.well-known/oauth-protected-resource"), headers=spoof) as resp:
        assert "evil" not in await resp.text()


@pytest.mark.parametrize("path", ["/.well-known/oauth-protected-resource/api/mcp",
                                  "/.well-known/oauth-protected-resource"])
async def test_protected_resource_metadata(acme, http, live_server, path):
    async with http.get(live_server.url("acme", path)) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        meta = await resp.json()
    origin = f"http://acme.localhost:{live_server.port}"
    assert meta["resource"] == origin + "/api/mcp"
    assert meta["authorization_servers"] == [origin]
    assert meta["scopes_supported"] == list(ALL_SCOPES)
    assert meta["bearer_methods_supported"] == ["header"]


async def test_token_of_another_tenant_is_unknown_here(acme, http, live_server):
    storage = live_server.storage
    await storage.tenants.create("northwind", "Northwind")
    await storage.users.create("northwind", "nw@northwind.example", "N W", "admin", "x")
    nw_token = await issue_token(storage, live_server.config, "northwind", "nw@northwind.example", ALL_SCOPES)
    status, _, headers = await rpc(http, acme.url, nw_token, "ping")
    assert status == 401 and challenge_params(headers["WWW-Authenticate"])["error"] == "invalid_token"
    status, _, _ = await rpc(http, live_server.url("northwind", "/api/mcp"), nw_token, "ping")
    assert status == 200


async def test_tools_list_shows_only_what_the_scopes_allow(acme, http):
    token = await acme.issue(["read:customers"])
    _, data, _ = await rpc(http, acme.url, token, "tools/list")
    names = {t["name"] for t in data["result"]["tools"]}
    assert names and all(set(t) >= {"name", "inputSchema"} for t in data["result"]["tools"])
    assert "list_customers" in names and "list_open_tickets" not in names


async def test_readonly_role_caps_the_token_scopes(acme, http, live_server):
    storage = live_server.storage
    await storage.users.create("acme", "ro@acme.example", "Read Only", "readonly", "x")
    token = await issue_token(storage, live_server.config, "acme", "ro@acme.example", ALL_SCOPES)
    principal = await live_server.services.authenticator.authenticate(await tenant_of(live_server.services, "acme"), f"Bearer {token}")
    assert principal.scopes == frozenset(READ_SCOPES)


async def test_missing_scope_is_a_403_challenge(acme, http, live_server):
    token = await acme.issue(["read:tickets"])
    status, data, headers = await rpc(http, acme.url, token, "tools/call", {"name": "list_customers", "arguments": {}})
    assert status == 403
    params = challenge_params(headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope"
    assert set(params["scope"].split()) == {"read:tickets", "read:customers"}
    assert params["resource_metadata"].endswith("/.well-known/oauth-protected-resource/api/mcp")
    assert data["scope"] == "read:customers"


async def test_unknown_tool_is_a_protocol_error(acme, http):
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/call", {"name": "drop_database", "arguments": {}})
    assert status == 200 and data["error"]["code"] == -32602


async def test_revocation_is_immediate_in_this_process(acme, http, live_server):
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 200
    token_hash = hash_token(live_server.config.token_pepper, acme.token)
    await live_server.storage.pats.revoke("acme", token_hash=token_hash)
    live_server.services.authenticator.forget("acme", token_hash)
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 401


async def test_revocation_elsewhere_takes_effect_within_the_cache_bound(acme, http, live_server):
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 200
    await live_server.storage.pats.revoke("acme", token_hash=hash_token(live_server.config.token_pepper, acme.token))
    await asyncio.sleep(live_server.config.auth_cache_seconds + 0.2)
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 401


async def test_disabled_user_and_expired_token_stop_working(acme, http, live_server):
    storage = live_server.storage
    pats = storage.db.tenant("acme")["pats"]
    await pats.update_one({}, {"$set": {"expires_at": datetime.now(UTC) + timedelta(seconds=1)}})
    live_server.services.authenticator.forget("acme")
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 200
    await asyncio.sleep(1.1)
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 401  # expiry is checked even when cached

    token = await acme.issue(["read:customers"])
    assert (await rpc(http, acme.url, token, "ping"))[0] == 200
    await storage.db.tenant("acme")["users"].update_one({}, {"$set": {"disabled": True}})
    await asyncio.sleep(live_server.config.auth_cache_seconds + 0.2)
    assert (await rpc(http, acme.url, token, "ping"))[0] == 401


async def test_last_used_is_recorded(acme, http, live_server):
    await rpc(http, acme.url, acme.token, "ping")
    await live_server.services.authenticator.drain()
    pat = await live_server.storage.db.tenant("acme")["pats"].find_one({})
    assert pat["last_used_at"] is not None


async def test_rate_limit_per_credential_with_exact_retry_after(acme, http, live_server):
    storage = live_server.storage
    await storage.db.control["tenants"].update_one(
        {"_id": "acme"}, {"$set": {"settings.rate_limits": {"credential_read": 3}}})
    live_server.services.tenants.forget("acme")
    other = await acme.issue(["read:customers"])
    for _ in range(3):
        assert (await call_tool(http, acme.url, acme.token, "list_customers"))["isError"] is False
    status, data, headers = await rpc(http, acme.url, acme.token, "tools/call", {"name": "list_customers", "arguments": {}})
    assert status == 200
    error = data["error"]
    assert error["code"] == -32002
    retry = error["data"]["retryAfterSeconds"]
    assert isinstance(retry, int) and 1 <= retry <= 60
    assert headers["Retry-After"] == str(retry)
    # Another credential of the same tenant has its own budget; plain pings are not tool calls.
    assert (await call_tool(http, acme.url, other, "list_customers"))["isError"] is False
    assert (await rpc(http, acme.url, acme.token, "ping"))[0] == 200
    rows = await storage.db.tenant("acme")["audit_log"].find({"status": "rate_limited"}).to_list()
    await live_server.services.audit.flush()
    rows = await storage.db.tenant("acme")["audit_log"].find({"status": "rate_limited"}).to_list()
    assert len(rows) == 1 and rows[0]["action"] == "list_customers"


async def test_rate_limits_are_shared_by_processes_on_one_database(acme, http, live_server, tmp_path):
    """Two independent application instances (as two processes would be) share one budget."""
    from vectis.app import make_services
    from vectis.runtime import start_http

    from .support.processes import free_port
    await live_server.storage.db.control["tenants"].update_one(
        {"_id": "acme"}, {"$set": {"settings.rate_limits": {"credential_read": 5}}})
    live_server.services.tenants.forget("acme")
    port = free_port()
    import dataclasses
    config2 = dataclasses.replace(live_server.config, port=port)
    services2 = make_services(config2, live_server.storage)
    await services2.start()
    server2, _ = start_http(services2, "127.0.0.1", port)
    try:
        urls = [acme.url, f"http://acme.localhost:{port}/api/mcp"]
        outcomes = []
        for i in range(8):
            status, data, _ = await rpc(http, urls[i % 2], acme.token, "tools/call",
                                        {"name": "list_customers", "arguments": {}})
            outcomes.append("error" not in data)
        assert outcomes.count(True) == 5
    finally:
        server2.stop()
        await services2.stop()


async def test_rate_limits_are_per_tenant(acme, http, live_server):
    storage = live_server.storage
    await storage.tenants.create("northwind", "Northwind")
    await storage.users.create("northwind", "nw@northwind.example", "N W", "admin", "x")
    nw_token = await issue_token(storage, live_server.config, "northwind", "nw@northwind.example", ALL_SCOPES)
    await storage.db.control["tenants"].update_one({"_id": "acme"}, {"$set": {"settings.rate_limits": {"tenant_read": 2}}})
    live_server.services.tenants.forget("acme")
    second = await acme.issue(["read:customers"])
    await call_tool(http, acme.url, acme.token, "list_customers")
    await call_tool(http, acme.url, second, "list_customers")
    _, data, _ = await rpc(http, acme.url, second, "tools/call", {"name": "list_customers", "arguments": {}})
    assert data["error"]["code"] == -32002 and data["error"]["data"]["scope"] == "tenant read"
    nw_url = live_server.url("northwind", "/api/mcp")
    for _ in range(3):
        assert (await call_tool(http, nw_url, nw_token, "list_customers"))["isError"] is False


async def test_read_calls_are_audited_in_batches(acme, http, live_server):
    await live_server.services.audit.stop()   # no timed flush during the test: we flush by hand
    await call_tool(http, acme.url, acme.token, "list_customers", {"limit": 3})
    await call_tool(http, acme.url, acme.token, "list_customers", {"nope": 1})
    rows = live_server.storage.db.tenant("acme")["audit_log"]
    assert await rows.count_documents({}) == 0      # buffered, not written on the request path
    await live_server.services.audit.flush()
    found = await rows.find({}).sort("at", 1).to_list()
    # Both rows may carry the same millisecond, so their order is not part of the contract.
    assert sorted((r["action"], r["kind"], r["status"]) for r in found) == [
        ("list_customers", "read", "error"), ("list_customers", "read", "success")]
    principal = await live_server.services.authenticator.authenticate(await tenant_of(live_server.services, "acme"), f"Bearer {acme.token}")
    assert found[0]["actor"]["credential_id"] == principal.credential_id
    assert found[0]["actor"]["email"] == "admin@acme.example"
    assert found[0]["duration_ms"] >= 0 and found[0]["request_id"]
    assert acme.token not in str(found)


async def test_request_log_never_contains_a_token(acme, http, caplog):
    import logging
    with caplog.at_level(logging.INFO, logger="vectis.access"):
        await rpc(http, acme.url + f"?access_token={acme.token}", None, "ping")
        await rpc(http, acme.url, acme.token, "ping")
        await rpc(http, acme.url, acme.token, "tools/call", {"name": "list_customers", "arguments": {}})
    records = [r for r in caplog.records if r.name == "vectis.access"]
    assert [(r.status, r.path) for r in records] == [(401, "/api/mcp"), (200, "/api/mcp"), (200, "/api/mcp")]
    assert records[1].tenant == "acme" and records[1].credential_id.startswith("pat_")
    assert records[1].tool is None and records[2].tool == "list_customers"
    line = json.loads(JsonFormatter().format(records[2]))
    assert {k: line[k] for k in ("tenant", "tool", "status", "path")} == {
        "tenant": "acme", "tool": "list_customers", "status": 200, "path": "/api/mcp"}
    assert line["request_id"] and line["credential_id"].startswith("pat_") and line["duration_ms"] >= 0
    assert all(acme.token not in r.getMessage() and acme.token not in str(r.__dict__) for r in caplog.records)
