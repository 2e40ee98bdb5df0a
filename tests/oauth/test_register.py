"""POST /oauth/register under attack (anchors.md §2.4 case 16, and the DCR items of
mcp-server-checklist.md §4.4): bad metadata is refused with the RFC 7591 error codes, secrets are
shown once and stored hashed, identical public registrations do not grow storage, and one
address is throttled with 429 + Retry-After."""
from __future__ import annotations

import json

import pytest

from vectis.oauth.register import ADDRESS_LIMIT

from .flow import REDIRECT, WEB_REDIRECT, plaintext_anywhere, register, register_raw, tenant_db


@pytest.fixture
async def tenants(live_server):
    await live_server.storage.tenants.create("acme", "Acme IT")
    await live_server.storage.tenants.create("northwind", "Northwind")


def base(**overrides) -> dict:
    return {"client_name": "Test", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            **overrides}


REFUSED = [
    (base(redirect_uris=["javascript:alert(1)"]), "invalid_redirect_uri"),
    (base(redirect_uris=["data:text/html,<script>alert(1)</script>"]), "invalid_redirect_uri"),
    (base(redirect_uris=["https://*.claude.ai/cb"]), "invalid_redirect_uri"),
    (base(redirect_uris=["https://claude.ai/*"]), "invalid_redirect_uri"),
    (base(redirect_uris=["https://claude.ai/cb#frag"]), "invalid_redirect_uri"),
    (base(redirect_uris=["https://claude.ai@evil.com/cb"]), "invalid_redirect_uri"),
    (base(redirect_uris=["http://evil.example/cb"]), "invalid_redirect_uri"),
    (base(redirect_uris=["/relative/cb"]), "invalid_redirect_uri"),
    (base(redirect_uris=[REDIRECT, "https://ok.example/cb", "file:///etc/passwd"]), "invalid_redirect_uri"),
    (base(redirect_uris=[f"https://app{i}.example/cb" for i in range(11)]), "invalid_redirect_uri"),
    (base(redirect_uris=[]), "invalid_redirect_uri"),
    (base(redirect_uris="https://claude.ai/cb"), "invalid_redirect_uri"),
    (base(redirect_uris=[{"uri": "https://claude.ai/cb"}]), "invalid_redirect_uri"),
    ({"client_name": "no uris"}, "invalid_redirect_uri"),
    (base(token_endpoint_auth_method="private_key_jwt"), "invalid_client_metadata"),
    (base(token_endpoint_auth_method="client_secret_jwt"), "invalid_client_metadata"),
    (base(grant_types=["implicit"]), "invalid_client_metadata"),
    (base(grant_types=["refresh_token"]), "invalid_client_metadata"),
    (base(grant_types=["authorization_code", "client_credentials"]), "invalid_client_metadata"),
    (base(grant_types=[{}]), "invalid_client_metadata"),                  # was a 500 (tests/fuzz)
    (base(grant_types=[["authorization_code"]]), "invalid_client_metadata"),
    ('{"client_name": "\\ud800", "redirect_uris": ["' + REDIRECT + '"]}', "invalid_client_metadata"),
    (base(response_types=["token"]), "invalid_client_metadata"),
    (base(client_name="line\nbreak"), "invalid_client_metadata"),
    (base(client_name=["list"]), "invalid_client_metadata"),
    (base(client_uri="x" * 5000), "invalid_client_metadata"),
    ([base()], "invalid_client_metadata"),
    ("null", "invalid_client_metadata"),
    ("{not json", "invalid_client_metadata"),
    ("[" * 10_000 + "]" * 10_000, "invalid_client_metadata"),
    (b"\xff\xfe{}", "invalid_client_metadata"),
]


@pytest.mark.parametrize("body,error", REFUSED, ids=range(len(REFUSED)))
async def test_bad_client_metadata_is_refused_and_nothing_is_stored(live_server, http, tenants, body, error):
    answer = await register_raw(http, live_server, "acme", body)
    assert (answer.status, answer.error) == (400, error), answer
    assert answer.body["error_description"]
    assert "<script" not in answer.body["error_description"]
    assert await tenant_db(live_server, "acme")["oauth_clients"].count_documents({}) == 0


async def test_oversize_registration_is_413_before_parsing(live_server, http, tenants):
    body = base(client_name="x", software_id="y" * 70_000)
    answer = await register_raw(http, live_server, "acme", body)
    assert answer.status == 413, answer
    assert await tenant_db(live_server, "acme")["oauth_clients"].count_documents({}) == 0


@pytest.mark.parametrize("uris", [
    ["https://claude.ai/api/mcp/auth_callback", "https://claude.com/api/mcp/auth_callback"],
    ["https://chatgpt.com/connector_platform_oauth_redirect"],
    ["http://localhost/callback", "http://127.0.0.1/callback", "http://[::1]:8080/cb"],
    ["cursor://anysphere.cursor-retrieval/oauth/user-vectis/callback"],
    ["com.example.app:/oauth2redirect"],
])
async def test_real_client_redirect_uris_are_accepted(live_server, http, tenants, uris):
    client = await register(http, live_server, redirect_uris=uris)
    assert client.redirect_uris == uris and client.secret is None


async def test_public_registration_answer(live_server, http, tenants):
    client = await register(http, live_server, scope="read:customers offline_access write:tickets",
                            client_uri="https://app.example/")
    body = client.registration
    assert client.client_id.startswith("vcl_")
    assert isinstance(body["client_id_issued_at"], int)
    assert body["token_endpoint_auth_method"] == "none" and "client_secret" not in body
    assert body["redirect_uris"] == [REDIRECT]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    assert body["response_types"] == ["code"]
    assert body["scope"] == "read:customers write:tickets"      # unknown scopes dropped
    assert body["client_uri"] == "https://app.example/"


async def test_identical_public_registration_returns_the_same_client(live_server, http, tenants):
    clients = tenant_db(live_server, "acme")["oauth_clients"]
    first = await register(http, live_server, client_name="Claude Code")
    for _ in range(5):
        again = await register(http, live_server, client_name="Claude Code")
        assert again.client_id == first.client_id
    assert await clients.count_documents({}) == 1
    different = await register(http, live_server, client_name="Claude Code",
                               redirect_uris=[REDIRECT, WEB_REDIRECT])
    assert different.client_id != first.client_id
    assert await clients.count_documents({}) == 2
    # Registered clients belong to the tenant where they were registered.
    elsewhere = await register(http, live_server, "northwind", client_name="Claude Code")
    assert elsewhere.client_id != first.client_id
    assert await clients.count_documents({}) == 2


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
async def test_a_client_secret_is_shown_once_and_stored_hashed(live_server, http, tenants, method):
    client = await register(http, live_server, token_endpoint_auth_method=method)
    assert client.auth_method == method
    assert client.secret and len(client.secret) >= 43
    assert client.registration["client_secret_expires_at"] == 0
    doc = await tenant_db(live_server, "acme")["oauth_clients"].find_one({"_id": client.client_id})
    assert doc["client_secret_hash"] and doc["client_secret_hash"] != client.secret
    assert await plaintext_anywhere(live_server, "acme", client.secret) == []
    # Registering the same metadata again is a new client with its own secret; the first
    # secret is never shown again.
    again = await register(http, live_server, token_endpoint_auth_method=method)
    assert again.client_id != client.client_id
    assert again.secret != client.secret
    assert client.secret not in json.dumps(again.registration)


async def test_the_default_auth_method_is_client_secret_basic(live_server, http, tenants):
    answer = await register_raw(http, live_server, "acme", {"redirect_uris": [REDIRECT]})
    assert answer.status == 201
    assert answer.body["token_endpoint_auth_method"] == "client_secret_basic"
    assert answer.body["client_secret"]
    assert answer.body["client_name"] == "Unnamed client"


async def test_registrations_from_one_address_are_throttled(live_server, http, tenants):
    """Case 16: 20 a minute per address, then 429 + Retry-After. The limit counts in fixed
    one-minute windows; the loop allows for crossing one window boundary, so it proves the
    limit without depending on how fast this machine is."""
    statuses, throttled = [], None
    for _ in range(2 * ADDRESS_LIMIT + 1):
        answer = await register_raw(http, live_server, "acme", base())
        statuses.append(answer.status)
        if answer.status == 429:
            throttled = answer
            break
    assert statuses[:ADDRESS_LIMIT] == [201] * ADDRESS_LIMIT
    assert throttled is not None, statuses
    assert throttled.error == "temporarily_unavailable"
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    # Throttled before anything is parsed or stored; identical registrations stored one client.
    assert (await register_raw(http, live_server, "acme", "{not json")).status == 429
    assert await tenant_db(live_server, "acme")["oauth_clients"].count_documents({}) == 1
    # Another tenant's registration endpoint is not affected.
    assert (await register_raw(http, live_server, "northwind", base())).status == 201
