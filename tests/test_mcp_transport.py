"""The /api/mcp transport in both eras, at the HTTP level."""
import base64
import json

import pytest

from vectis.mcp.protocol import META_CLIENT_CAPS, META_SERVER_INFO, META_VERSION, SUPPORTED_VERSIONS

from .support.rpc import LEGACY_HEADERS, rpc

MODERN = "2026-07-28"


def envelope(**params):
    return {**params, "_meta": {META_VERSION: MODERN, META_CLIENT_CAPS: {},
                                "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}}


def modern_headers(method, name=None):
    headers = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if name is not None:
        headers["Mcp-Name"] = name
    return headers


@pytest.mark.parametrize("requested, expected", [
    ("2025-11-25", "2025-11-25"), ("2025-06-18", "2025-06-18"), ("2025-03-26", "2025-03-26"),
    ("2024-11-05", "2025-11-25"), ("1999-01-01", "2025-11-25"),
])
async def test_initialize_negotiates_a_handshake_version(acme, http, requested, expected):
    status, data, headers = await rpc(http, acme.url, acme.token, "initialize", {
        "protocolVersion": requested, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
        headers={"MCP-Protocol-Version": None} if False else {})
    assert status == 200
    result = data["result"]
    assert result["protocolVersion"] == expected
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert result["serverInfo"]["name"] == "vectis"
    assert "Mcp-Session-Id" not in headers  # stateless: no session is minted


async def test_notifications_and_client_responses_get_202_without_body(acme, http):
    hdrs = {**LEGACY_HEADERS, "Authorization": f"Bearer {acme.token}"}
    for body in ({"jsonrpc": "2.0", "method": "notifications/initialized"},
                 {"jsonrpc": "2.0", "id": 5, "result": {}}):
        async with http.post(acme.url, json=body, headers=hdrs) as resp:
            assert resp.status == 202
            assert await resp.read() == b""


async def test_ping(acme, http):
    status, data, _ = await rpc(http, acme.url, acme.token, "ping")
    assert (status, data["result"]) == (200, {})


async def test_unknown_method_in_each_era(acme, http):
    status, data, _ = await rpc(http, acme.url, acme.token, "resources/list")
    assert status == 200 and data["error"]["code"] == -32601
    status, data, _ = await rpc(http, acme.url, acme.token, "ping", envelope(),
                                headers=modern_headers("ping"))
    assert status == 404 and data["error"]["code"] == -32601


async def test_protocol_version_header(acme, http):
    # A handshake-era version we do not serve: 400 at the HTTP level.
    status, data, _ = await rpc(http, acme.url, acme.token, "ping", headers={"MCP-Protocol-Version": "2024-11-05"})
    assert status == 400 and data["error"] == "unsupported_protocol_version"
    # Any other unknown version is routed to the stateless era, which refuses it without an envelope.
    status, data, _ = await rpc(http, acme.url, acme.token, "ping", headers={"MCP-Protocol-Version": "2099-01-01"})
    assert status == 400 and data["error"]["code"] == -32602


async def test_batches_only_for_2025_03_26(acme, http):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}]
    auth = {"Authorization": f"Bearer {acme.token}", "Content-Type": "application/json"}
    async with http.post(acme.url, json=batch, headers=auth) as resp:  # no version header = 2025-03-26
        assert resp.status == 200
        replies = await resp.json()
    assert [r["id"] for r in replies] == [1, 2]
    assert "structuredContent" not in json.dumps(replies)
    assert "outputSchema" not in replies[1]["result"]["tools"][0]
    async with http.post(acme.url, json=batch, headers={**auth, "MCP-Protocol-Version": "2025-11-25"}) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == -32600
    async with http.post(acme.url, json=[], headers=auth) as resp:
        assert resp.status == 400


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
async def test_other_methods_get_405_with_allow(acme, http, method):
    async with http.request(method, acme.url, headers={"Authorization": f"Bearer {acme.token}",
                                                       "Accept": "text/event-stream"}) as resp:
        assert resp.status == 405
        assert resp.headers["Allow"] == "POST, OPTIONS"


async def test_origin_validation_and_cors(acme, http, live_server):
    status, data, _ = await rpc(http, acme.url, acme.token, "ping", headers={"Origin": "https://evil.example"})
    assert status == 403 and data["error"] == "forbidden_origin"
    own = f"http://acme.localhost:{live_server.port}"
    status, data, headers = await rpc(http, acme.url, acme.token, "ping", headers={"Origin": own})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == own
    assert "WWW-Authenticate" in headers["Access-Control-Expose-Headers"]
    async with http.options(acme.url, headers={"Origin": own, "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "authorization, mcp-protocol-version"}) as resp:
        assert resp.status == 204
        assert "MCP-Protocol-Version" in resp.headers["Access-Control-Allow-Headers"]
        assert "Authorization" in resp.headers["Access-Control-Allow-Headers"]
    async with http.options(acme.url, headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 403


async def test_body_limits(acme, http):
    hdrs = {**LEGACY_HEADERS, "Authorization": f"Bearer {acme.token}"}
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "a" * (1024 * 1024)}}).encode()
    async with http.post(acme.url, data=big, headers=hdrs) as resp:
        assert resp.status == 413

    async def chunks():
        for _ in range(40):
            yield b"a" * 65536
    async with http.post(acme.url, data=chunks(), headers=hdrs) as resp:
        assert resp.status == 413
    # Anonymous callers are refused before their body is read.
    async with http.post(acme.url, data=big[:1000], headers=LEGACY_HEADERS) as resp:
        assert resp.status == 401


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b'"just a string"', b"42"])
async def test_malformed_bodies(acme, http, raw):
    hdrs = {**LEGACY_HEADERS, "Authorization": f"Bearer {acme.token}"}
    async with http.post(acme.url, data=raw, headers=hdrs) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] in (-32700, -32600)


async def test_bad_ids_are_invalid_requests(acme, http):
    for bad_id in (None, True, 1.5, {"a": 1}):
        status, data, _ = await rpc(http, acme.url, acme.token, "ping", request_id=bad_id) if bad_id is not None \
            else (None, None, None)
        if bad_id is None:
            hdrs = {**LEGACY_HEADERS, "Authorization": f"Bearer {acme.token}"}
            async with http.post(acme.url, json={"jsonrpc": "2.0", "id": None, "method": "ping"}, headers=hdrs) as resp:
                status, data = resp.status, await resp.json()
        assert status == 400 and data["error"]["code"] == -32600, bad_id


async def test_modern_discover(acme, http):
    status, data, headers = await rpc(http, acme.url, acme.token, "server/discover", envelope(),
                                      headers=modern_headers("server/discover"))
    assert status == 200
    result = data["result"]
    assert result["supportedVersions"] == list(SUPPORTED_VERSIONS)
    assert result["resultType"] == "complete"
    assert result["cacheScope"] == "private" and isinstance(result["ttlMs"], int)
    assert result["_meta"][META_SERVER_INFO]["name"] == "vectis"
    assert result["capabilities"] == {"tools": {"listChanged": False}}
    assert "Mcp-Session-Id" not in headers


async def test_modern_tools_list_and_call(acme, http):
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/list", envelope(), headers=modern_headers("tools/list"))
    assert status == 200
    assert data["result"]["cacheScope"] == "private" and data["result"]["resultType"] == "complete"
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/call",
                                envelope(name="list_customers", arguments={}),
                                headers=modern_headers("tools/call", "list_customers"))
    assert status == 200
    assert data["result"]["structuredContent"] == {"items": [], "next_cursor": None, "count": 0}
    encoded = "=?base64?" + base64.b64encode(b"list_customers").decode() + "?="
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/call",
                                envelope(name="list_customers", arguments={}),
                                headers=modern_headers("tools/call", encoded))
    assert status == 200 and data["result"]["isError"] is False


@pytest.mark.parametrize("headers, code", [
    ({"MCP-Protocol-Version": MODERN}, -32020),                                          # no Mcp-Method
    ({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/list"}, -32020),              # wrong method
    ({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call"}, -32020),              # no Mcp-Name
    ({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "get_customer"}, -32020),
    ({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "=?base64?!!!?="}, -32020),
])
async def test_modern_header_mismatch(acme, http, headers, code):
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/call",
                                envelope(name="list_customers", arguments={}), headers=headers)
    assert status == 400 and data["error"]["code"] == code


async def test_modern_envelope_and_version_errors(acme, http):
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/list", {"_meta": {META_VERSION: MODERN}},
                                headers=modern_headers("tools/list"))
    assert status == 400 and data["error"]["code"] == -32602
    params = envelope()
    params["_meta"][META_VERSION] = "2099-01-01"
    status, data, _ = await rpc(http, acme.url, acme.token, "tools/list", params,
                                headers={"MCP-Protocol-Version": "2099-01-01", "Mcp-Method": "tools/list"})
    assert status == 400 and data["error"]["code"] == -32022
    assert data["error"]["data"]["supported"] == list(SUPPORTED_VERSIONS)
    # The 2026 protocol takes one message per POST.
    hdrs = {**modern_headers("tools/list"), "Authorization": f"Bearer {acme.token}"}
    async with http.post(acme.url, json=[{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": envelope()}],
                         headers=hdrs) as resp:
        assert resp.status == 400


async def test_sse_only_clients_get_an_event_stream(acme, http):
    hdrs = {"Accept": "text/event-stream", "Authorization": f"Bearer {acme.token}",
            "MCP-Protocol-Version": "2025-11-25"}
    async with http.post(acme.url, json={"jsonrpc": "2.0", "id": 9, "method": "ping"}, headers=hdrs) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/event-stream"
        text = await resp.text()
    assert text.startswith("event: message\ndata: ")
    assert json.loads(text.split("data: ", 1)[1]) == {"jsonrpc": "2.0", "id": 9, "result": {}}


async def test_a_huge_declared_body_is_refused_without_reading_it(acme, live_server):
    import asyncio
    reader, writer = await asyncio.open_connection("127.0.0.1", live_server.port)
    writer.write((f"POST /api/mcp HTTP/1.1\r\nHost: acme.localhost:{live_server.port}\r\n"
                  f"Authorization: Bearer {acme.token}\r\nContent-Type: application/json\r\n"
                  "Content-Length: 104857600\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), 5)
    assert head.startswith(b"HTTP/1.1 413")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # and the connection is closed
    writer.close()
