"""The official MCP Python SDK's OAuth provider runs the whole flow against the live server:
discovery from the 401, dynamic registration, sign-in and consent, code exchange with
`resource`, tools/call, and a refresh with rotation."""
from __future__ import annotations

import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from pydantic import AnyUrl

from ..support.mcp_client import http_client
from ..support.oauth import HeadlessOperator, MemoryTokenStorage
from ..support.pages import create_operator

REDIRECT = "http://127.0.0.1:53682/callback"


def metadata(**overrides) -> OAuthClientMetadata:
    values = {"client_name": "SDK e2e", "redirect_uris": [AnyUrl(REDIRECT)],
              "token_endpoint_auth_method": "none",
              "grant_types": ["authorization_code", "refresh_token"], **overrides}
    return OAuthClientMetadata(**values)


@pytest.fixture
async def operator(live_server):
    return await create_operator(live_server.storage, "acme", "ada@acme.example")


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_oauth_flow_end_to_end(live_server, operator, mode):
    url = live_server.url("acme", "/api/mcp")
    person = HeadlessOperator(email="ada@acme.example")
    storage = MemoryTokenStorage()
    provider = OAuthClientProvider(server_url=url, client_metadata=metadata(), storage=storage,
                                   redirect_handler=person.redirect_handler,
                                   callback_handler=person.callback_handler)
    async with http_client(auth=provider) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            assert "list_customers" in {t.name for t in tools.tools}
            result = await client.call_tool("list_customers", {})
            assert result.is_error is False

    # The consent page named the client and where it returns to, and warned about loopback.
    page = person.consent_pages[0]
    assert "SDK e2e" in page and "127.0.0.1" in page and 'id="loopback-warning"' in page
    assert person.results[0].params["iss"] == live_server.config.tenant_origin("acme")
    tokens = storage.tokens
    assert tokens.refresh_token and tokens.token_type.lower() == "bearer"
    assert tokens.expires_in <= 3600
    grants = await live_server.storage.oauth_grants.for_user("acme", operator["_id"])
    assert len(grants) == 1 and grants[0]["client_name"] == "SDK e2e"

    # Refresh through the SDK's own logic: mark the token expired in the same provider.
    provider.context.token_expiry_time = 1.0   # long past (0 would mean "no expiry")
    async with http_client(auth=provider) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            result = await client.call_tool("list_customers", {})
            assert result.is_error is False
    assert storage.tokens.refresh_token != tokens.refresh_token   # rotated
    assert len(person.results) == 1                                 # no second consent
