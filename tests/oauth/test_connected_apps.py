"""/account/mcp lists the apps connected through OAuth; the operator can disconnect one (its
tokens stop working at once) or elevate it with a TOTP code, exactly like a PAT."""
from __future__ import annotations

from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client

from ..conftest import tenant_of
from ..support.html import parse
from ..support.mcp_client import http_client
from ..support.oauth import HeadlessOperator, MemoryTokenStorage
from ..support.pages import create_operator, sign_in
from ..test_operator_mfa import code_at, enroll, get, post
from .test_sdk_flow import metadata

EMAIL = "tech@acme.example"


async def connect(live_server) -> MemoryTokenStorage:
    url = live_server.url("acme", "/api/mcp")
    person = HeadlessOperator(email=EMAIL)
    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(server_url=url, client_metadata=metadata(client_name="Connected"),
                                   storage=storage, redirect_handler=person.redirect_handler,
                                   callback_handler=person.callback_handler)
    async with http_client(auth=provider) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
            await client.list_tools()
    return storage


async def mcp_status(http, live_server, token: str) -> int:
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2025-11-25"}
    async with http.post(live_server.url("acme", "/api/mcp"), json=body, headers=headers) as resp:
        return resp.status


async def test_connected_app_is_listed_elevated_and_disconnected(live_server, http):
    user = await create_operator(live_server.storage, "acme", EMAIL, role="technician")
    tokens = await connect(live_server)
    access = tokens.tokens.access_token
    assert await mcp_status(http, live_server, access) == 200

    assert (await sign_in(http, live_server, "acme", EMAIL))[0] == 303
    status, _, body = await get(http, live_server, "/account/mcp")
    rows = parse(body).by_id
    grant = (await live_server.storage.oauth_grants.for_user("acme", user["_id"]))[0]
    assert status == 200 and "Connected" in rows[f"token-{grant['_id']}"]
    assert "127.0.0.1" in rows[f"token-{grant['_id']}"]

    secret, _ = await enroll(http, live_server)
    status, location, _ = await post(http, live_server, "/account/mcp/elevate", "/account/mcp",
                                     token_id=grant["_id"], code=code_at(secret, 30))
    assert status == 303 and grant["_id"] in location
    auth = live_server.services.authenticator
    principal = await auth.authenticate(await tenant_of(live_server.services, "acme"),
                                        f"Bearer {access}")
    assert principal.kind == "oauth" and principal.elevated()

    status, location, _ = await post(http, live_server, "/account/mcp/revoke", "/account/mcp",
                                     token_id=grant["_id"])
    assert (status, location) == (303, "/account/mcp?done=revoked")
    assert await mcp_status(http, live_server, access) == 401
    body = (await get(http, live_server, "/account/mcp"))[2]
    assert f"token-{grant['_id']}" not in body

    # Someone else's grant id is a 404, never a revocation.
    other = await create_operator(live_server.storage, "acme", "other@acme.example")
    assert other["_id"] != user["_id"]
    status, _, _ = await post(http, live_server, "/account/mcp/revoke", "/account/mcp",
                              token_id="gra_doesnotexist00000")
    assert status == 404
