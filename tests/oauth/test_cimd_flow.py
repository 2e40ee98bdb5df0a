"""A client identified by a Client ID Metadata Document: the MCP SDK's provider with
`client_metadata_url`, the document served by a local https server under a test CA. Vectis may
fetch from loopback only because this test's configuration allows 127.0.0.1/32 and trusts the
test CA; nothing is registered, and the consent page shows the document's host."""
from __future__ import annotations

import pytest
from aiohttp import web
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client

from ..conftest import running_server
from ..support.mcp_client import http_client
from ..support.oauth import HeadlessOperator, MemoryTokenStorage
from ..support.pages import create_operator
from ..support.tls import make_test_ca
from .test_sdk_flow import REDIRECT, metadata


@pytest.fixture
async def document_server(tmp_path):
    """An https server for client metadata documents; returns (base URL, documents, hits)."""
    ca = make_test_ca(tmp_path / "ca")
    documents: dict[str, dict] = {}
    hits: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        hits.append(request.path)
        if request.path not in documents:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(documents[request.path], headers={"Cache-Control": "max-age=60"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context(["127.0.0.1"]))
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"https://127.0.0.1:{port}", documents, hits, ca
    await runner.cleanup()


async def test_sdk_client_with_a_metadata_document(tmp_path, mongo_uri, db_prefix, storage,
                                                   document_server):
    base, documents, hits, ca = document_server
    client_id = base + "/oauth/client.json"
    documents["/oauth/client.json"] = {
        "client_id": client_id, "client_name": "Docs Client", "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}
    async with running_server(tmp_path, mongo_uri, db_prefix, storage,
                              oauth_cimd_allow_networks="127.0.0.1/32",
                              oauth_cimd_ca_file=str(ca.ca_path)) as server:
        operator = await create_operator(server.storage, "acme", "ada@acme.example")
        url = server.url("acme", "/api/mcp")
        person = HeadlessOperator(email="ada@acme.example")
        tokens = MemoryTokenStorage()
        provider = OAuthClientProvider(server_url=url, client_metadata=metadata(), storage=tokens,
                                       redirect_handler=person.redirect_handler,
                                       callback_handler=person.callback_handler,
                                       client_metadata_url=client_id)
        async with http_client(auth=provider) as http:
            async with Client(streamable_http_client(url, http_client=http), mode="legacy") as client:
                result = await client.call_tool("list_customers", {})
                assert result.is_error is False

        assert tokens.client_info.client_id == client_id
        assert await server.storage.db.tenant("acme")["oauth_clients"].count_documents({}) == 0
        page = person.consent_pages[0]
        assert "Docs Client" in page and "name published by 127.0.0.1" in page
        grants = await server.storage.oauth_grants.for_user("acme", operator["_id"])
        assert [g["client_id"] for g in grants] == [client_id]
        assert hits.count("/oauth/client.json") == 1      # cached per its Cache-Control


async def test_metadata_document_without_the_redirect_uri_is_refused(
        tmp_path, mongo_uri, db_prefix, storage, document_server, http):
    base, documents, _, ca = document_server
    client_id = base + "/c.json"
    documents["/c.json"] = {"client_id": client_id, "client_name": "Elsewhere",
                            "redirect_uris": ["https://elsewhere.example/cb"]}
    async with running_server(tmp_path, mongo_uri, db_prefix, storage,
                              oauth_cimd_allow_networks="127.0.0.1/32",
                              oauth_cimd_ca_file=str(ca.ca_path)) as server:
        await create_operator(server.storage, "acme", "ada@acme.example")
        params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
                  "code_challenge": "a" * 43, "code_challenge_method": "S256", "state": "s"}
        async with http.get(server.url("acme", "/oauth/authorize"), params=params,
                            allow_redirects=False) as resp:
            assert resp.status == 400 and "Location" not in resp.headers
            assert "not registered" in await resp.text()


async def test_default_configuration_never_fetches_from_loopback(live_server, http, document_server):
    base, documents, hits, _ = document_server
    client_id = base + "/c.json"
    documents["/c.json"] = {"client_id": client_id, "client_name": "Local",
                            "redirect_uris": [REDIRECT]}
    params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
              "code_challenge": "a" * 43, "code_challenge_method": "S256"}
    await create_operator(live_server.storage, "acme", "ada@acme.example")
    async with http.get(live_server.url("acme", "/oauth/authorize"), params=params,
                        allow_redirects=False) as resp:
        assert resp.status == 400 and "Location" not in resp.headers
    assert hits == []
