"""mcp-remote (the stdio bridge of the public docs' Claude Desktop snippet) authorizes through
OAuth without a PAT: dynamic registration, the consent page (driven headlessly from the URL it
prints), its own loopback callback, the token exchange, then tools over stdio."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
from pathlib import Path

import pytest

from ..conftest import running_server
from ..support.http import client_session
from ..support.oauth import HeadlessOperator
from ..support.pages import create_operator
from ..support.tls import make_test_ca
from ..test_mcp_clients import MCP_REMOTE, RESOLVER

URL_RE = re.compile(r"Please authorize this client by visiting:\s*(\S+)")


@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js (scripts/test installs it)")
async def test_mcp_remote_oauth_flow(tmp_path, mongo_uri, db_prefix, storage):
    # mcp-remote sends credentials only to an https token endpoint: serve HTTPS from a test CA.
    ca = make_test_ca(tmp_path / "ca")
    context = ca.server_context(["acme.localhost", "localhost", "127.0.0.1"])
    async with running_server(tmp_path, mongo_uri, db_prefix, storage, ssl_context=context) as server:
        await run_flow(server, tmp_path, ca)


async def run_flow(live_server, tmp_path, ca):
    await create_operator(live_server.storage, "acme", "ada@acme.example")
    url = live_server.url("acme", "/api/mcp")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for opener in ("xdg-open", "sensible-browser", "x-www-browser", "gnome-open"):
        (fake_bin / opener).write_text("#!/bin/sh\nexit 0\n")   # no real browser: we drive it
        (fake_bin / opener).chmod(0o755)
    env = {**os.environ, "NODE_OPTIONS": f"--require {RESOLVER}", "BROWSER": str(fake_bin / "xdg-open"),
           "PATH": f"{fake_bin}:{os.environ['PATH']}", "MCP_REMOTE_CONFIG_DIR": str(tmp_path / "auth"),
           "NODE_EXTRA_CA_CERTS": str(ca.ca_path),
           "npm_config_update_notifier": "false"}
    env.pop("DISPLAY", None)
    log_path = tmp_path / "mcp-remote.log"
    log = log_path.open("wb")  # noqa: ASYNC230 - it logs every message: a pipe would fill
    proc = await asyncio.create_subprocess_exec(
        "npx", "-y", MCP_REMOTE, url, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=log, env=env, start_new_session=True)
    try:
        authorize_url = await wait_for_log(log_path, URL_RE, proc)
        person = HeadlessOperator(email="ada@acme.example", ssl_context=ca.client_context())
        back = await person.authorize(authorize_url)
        assert back.location.startswith("http://localhost:") and "/oauth/callback?" in back.location
        assert back.params["iss"] == live_server.config.tenant_origin("acme") and back.params["code"]
        clients = await live_server.storage.db.tenant("acme")["oauth_clients"].find({}).to_list()
        assert len(clients) == 1 and clients[0]["token_endpoint_auth_method"] == "none"  # DCR
        assert clients[0]["client_name"] in person.consent_pages[0]
        async with client_session() as http:        # the browser lands on mcp-remote's listener
            async with http.get(back.location) as resp:
                assert resp.status == 200, await resp.text()

        await send(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "claude-desktop-test", "version": "1"}}})
        assert (await receive(proc, 1, log_path))["result"]["serverInfo"]["name"] == "vectis"
        await send(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        await send(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": "list_customers", "arguments": {"limit": 1}}})
        assert (await receive(proc, 2, log_path))["result"]["isError"] is False
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        log.close()
    grants = await live_server.storage.db.tenant("acme")["oauth_grants"].find({}).to_list()
    assert len(grants) == 1 and grants[0]["revoked_at"] is None
    assert grants[0]["resource"] == live_server.config.mcp_resource("acme")


async def wait_for_log(path: Path, pattern: re.Pattern, proc) -> str:
    deadline = asyncio.get_running_loop().time() + 120   # npx may download mcp-remote first
    while asyncio.get_running_loop().time() < deadline:
        match = pattern.search(read_log(path))
        if match:
            return match.group(1)
        assert proc.returncode is None, tail(path)
        await asyncio.sleep(0.2)
    raise AssertionError("mcp-remote never printed an authorization URL:\n" + tail(path))


async def send(proc, message: dict) -> None:
    proc.stdin.write((json.dumps(message) + "\n").encode())
    await proc.stdin.drain()


async def receive(proc, request_id: int, log_path: Path) -> dict:
    while True:
        line = await asyncio.wait_for(proc.stdout.readline(), 90)
        assert line, tail(log_path)
        message = json.loads(line)
        if message.get("id") == request_id:
            return message


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")   # small and local: a blocking read is fine here


def tail(path: Path) -> str:
    return read_log(path)[-4000:]
