"""Real MCP clients against the live server: the official Python SDK and mcp-remote."""
import asyncio
import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from mcp import MCPError

from .support.mcp_client import mcp_session

MCP_REMOTE = "mcp-remote@0.15.1"
RESOLVER = Path(__file__).parent / "node" / "localhost-resolver.cjs"


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_python_sdk_lists_and_calls_tools_with_a_pat(acme, mode):
    async with mcp_session(acme.url, acme.token, mode=mode) as client:
        tools = await client.list_tools()
        names = [t.name for t in tools.tools]
        assert "list_customers" in names
        tool = next(t for t in tools.tools if t.name == "list_customers")
        assert tool.annotations.read_only_hint is True
        assert tool.output_schema["type"] == "object"
        result = await client.call_tool("list_customers", {"limit": 5})
        assert result.is_error is False
        assert result.structured_content == {"items": [], "next_cursor": None, "count": 0}
        assert json.loads(result.content[0].text) == result.structured_content
        bad = await client.call_tool("list_customers", {"tenant_id": "northwind"})
        assert bad.is_error is True and "tenant_id" in bad.content[0].text


async def test_python_sdk_auto_mode_speaks_2026_07_28(acme, live_server):
    seen = []
    original = live_server.services.dispatcher.handle

    async def spy(method, params, ctx):
        seen.append((method, ctx.modern, ctx.version))
        return await original(method, params, ctx)
    live_server.services.dispatcher.handle = spy
    try:
        async with mcp_session(acme.url, acme.token, mode="auto") as client:
            await client.list_tools()
    finally:
        live_server.services.dispatcher.handle = original
    assert seen[0] == ("server/discover", True, "2026-07-28")
    assert ("tools/list", True, "2026-07-28") in seen


def _leaves(error: BaseException):
    if isinstance(error, BaseExceptionGroup):
        for inner in error.exceptions:
            yield from _leaves(inner)
    else:
        yield error


async def test_python_sdk_without_a_token_is_refused(acme):
    with pytest.raises(BaseException) as caught:  # noqa: B017 - the SDK wraps it in task groups
        async with mcp_session(acme.url, None, mode="legacy") as client:
            await client.list_tools()
    # Without an OAuth provider the SDK surfaces the 401 as a JSON-RPC error.
    assert any(isinstance(leaf, MCPError) for leaf in _leaves(caught.value)), caught.value


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js (scripts/test installs it)")
async def test_mcp_remote_bridges_stdio_with_a_header(acme, tmp_path):
    env = {**os.environ, "NODE_OPTIONS": f"--require {RESOLVER}", "VECTIS_TOKEN": f"Bearer {acme.token}",
           "npm_config_update_notifier": "false"}
    # The argument shape of the public docs' Claude Desktop snippet (plus --allow-http: no TLS here).
    log = (tmp_path / "mcp-remote.log").open("wb")  # noqa: ASYNC230 - it logs every message: a pipe would fill
    proc = await asyncio.create_subprocess_exec(
        "npx", "-y", MCP_REMOTE, acme.url, "--header", f"Authorization:{env['VECTIS_TOKEN']}", "--allow-http",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log, env=env,
        start_new_session=True)  # npx runs node as a child: stop the whole group

    async def send(message):
        proc.stdin.write((json.dumps(message) + "\n").encode())
        await proc.stdin.drain()

    async def receive(request_id):
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 90)
            assert line, (tmp_path / "mcp-remote.log").read_text()[-2000:]
            message = json.loads(line)
            if message.get("id") == request_id:
                return message

    try:
        await send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "claude-desktop-test", "version": "1"}}})
        init = await receive(1)
        assert init["result"]["serverInfo"]["name"] == "vectis"
        await send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        listed = await receive(2)
        assert "list_customers" in [t["name"] for t in listed["result"]["tools"]]
        await send({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": {"name": "list_customers", "arguments": {"limit": 1}}})
        called = await receive(3)
        assert called["result"]["isError"] is False
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        log.close()
