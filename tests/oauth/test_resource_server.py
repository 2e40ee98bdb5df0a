"""The MCP endpoint as an OAuth resource server, and the tenant boundary of the authorization
server (anchors.md §2.4 cases 18–21): metadata from configuration whatever the headers say,
bearer tokens from the Authorization header only, audience and issuer per tenant, codes,
refresh tokens and clients that do not cross tenants, revocation, and step-up on scopes."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import jwt
import pytest

from vectis.oauth.access_tokens import TOKEN_TYPE
from vectis.oauth.keys import ALGORITHM
from vectis.scopes import ALL_SCOPES

from ..support.oauth import HeadlessOperator
from ..support.rpc import rpc
from .flow import (
    EMAIL,
    OTHER_EMAIL,
    authorize_params,
    challenge,
    exchange,
    get_code,
    json_answer,
    mcp_status,
    pkce,
    refresh,
    register,
    signed_in,
    token_request,
    tokens,
)


@pytest.fixture
async def browser(live_server):
    async with signed_in(live_server) as b:
        yield b


@pytest.fixture
async def client(http, live_server, browser):
    return await register(http, live_server)


@pytest.fixture
async def northwind(live_server):
    async with signed_in(live_server, "northwind", OTHER_EMAIL) as b:
        yield b


SPOOFS = [
    {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443"},
    {"Forwarded": 'for=1.2.3.4;host=evil.example;proto=https', "X-Forwarded-Prefix": "/evil"},
    {"X-Original-Host": "evil.example", "X-Host": "evil.example", "X-Forwarded-Server": "evil.example"},
]


async def test_metadata_urls_come_from_configuration_not_headers(live_server, http, browser):
    """Case 18: AS metadata, both PRM locations and the 401 challenge are byte-identical whatever
    Host port or forwarding headers the request carries."""
    origin = live_server.config.tenant_origin("acme")
    resource = live_server.config.mcp_resource("acme")
    paths = ["/.well-known/oauth-authorization-server",
             "/.well-known/oauth-protected-resource/api/mcp", "/.well-known/oauth-protected-resource"]
    baseline = {}
    for path in paths:
        async with http.get(live_server.url("acme", path)) as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            baseline[path] = await resp.read()
    as_meta = await _json(http, live_server.url("acme", paths[0]))
    assert as_meta["issuer"] == origin
    for name in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
        assert as_meta[name].startswith(origin + "/oauth/"), name
    assert as_meta["code_challenge_methods_supported"] == ["S256"]
    assert "none" in as_meta["token_endpoint_auth_methods_supported"]
    assert as_meta["authorization_response_iss_parameter_supported"] is True
    prm = await _json(http, live_server.url("acme", paths[1]))
    assert prm["resource"] == resource and prm["authorization_servers"] == [origin]
    assert prm["bearer_methods_supported"] == ["header"]
    assert set(prm["scopes_supported"]) == set(ALL_SCOPES)
    expected_challenge = f"{origin}/.well-known/oauth-protected-resource/api/mcp"

    host_spoofs = [{"Host": f"acme.localhost:{port}"} for port in (1, 443, 8443)]
    host_spoofs.append({"Host": "ACME.LOCALHOST"})
    for spoof in SPOOFS + host_spoofs:
        for path in paths:
            async with http.get(live_server.url("acme", path), headers=spoof) as resp:
                assert resp.status == 200, spoof
                assert await resp.read() == baseline[path], (spoof, path)
        status, headers = await mcp_status(http, live_server, "acme", None, headers=spoof)
        assert status == 401
        assert challenge(headers["WWW-Authenticate"])["resource_metadata"] == expected_challenge
    # The issuer the authorization response names is the configured one too.
    client = await register(http, live_server)
    _, code_challenge = pkce()
    page = await browser.authorize(authorize_params(live_server, client, code_challenge))
    assert page.params["iss"] == origin


async def _json(http, url):
    async with http.get(url) as resp:
        return await resp.json()


async def test_no_authorization_header_is_401_with_resource_metadata(live_server, http):
    """Case 19."""
    await live_server.storage.tenants.create("acme", "Acme IT")
    status, headers = await mcp_status(http, live_server, "acme", None)
    assert status == 401
    params = challenge(headers["WWW-Authenticate"])
    assert params["resource_metadata"] == (live_server.config.tenant_origin("acme")
                                           + "/.well-known/oauth-protected-resource/api/mcp")
    assert "error" not in params


async def test_the_token_is_taken_from_the_authorization_header_only(live_server, http, browser, client):
    """Case 20: query string, Basic and an empty Bearer are refused; the scheme name is
    case-insensitive."""
    access = (await tokens(http, live_server, browser, client))["access_token"]
    url = live_server.url("acme", "/api/mcp")
    status, _ = await mcp_status(http, live_server, "acme", None, url=url + "?access_token=" + access)
    assert status == 401
    status, _, _ = await rpc(http, url, None, "tools/list", headers={"Content-Type": "application/json"})
    assert status == 401
    for header in (f"Basic {access}", "Bearer ", "Bearer", f"Token {access}", f"Bearer {access} x",
                   f"Bearer {access[:-2]}"):
        status, _ = await mcp_status(http, live_server, "acme", None, headers={"Authorization": header})
        assert status == 401, header
    for scheme in ("bearer", "BEARER", "Bearer"):
        status, _ = await mcp_status(http, live_server, "acme", None,
                                     headers={"Authorization": f"{scheme} {access}"})
        assert status == 200, scheme


async def test_a_token_of_one_tenant_is_refused_by_another(live_server, http, browser, client, northwind):
    """Case 21: acme's token at northwind's MCP endpoint; no tool runs."""
    access = (await tokens(http, live_server, browser, client))["access_token"]
    assert (await mcp_status(http, live_server, "acme", access))[0] == 200
    status, data, headers = await rpc(http, live_server.url("northwind", "/api/mcp"), access,
                                      "tools/call", {"name": "list_customers", "arguments": {}})
    assert status == 401 and "result" not in (data or {})
    assert challenge(headers["WWW-Authenticate"])["error"] == "invalid_token"


def _claims(server, own: dict, **overrides) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    claims = {"iss": server.config.tenant_origin("acme"), "aud": server.config.mcp_resource("acme"),
              "sub": "usr_x", "client_id": "vcl_x", "gid": "gra_x", "scope": " ".join(ALL_SCOPES),
              "jti": secrets.token_urlsafe(8), "iat": now, "nbf": now, "exp": now + timedelta(minutes=5)}
    return {**claims, **own, **overrides}


async def test_tokens_minted_for_another_audience_or_issuer_are_refused(live_server, http, browser, client):
    """Case 21: a JWT signed with acme's own key, but for another resource (or otherwise not one
    acme's authorization server issues), is 401 invalid_token."""
    access = (await tokens(http, live_server, browser, client))["access_token"]
    real = jwt.decode(access, options={"verify_signature": False})
    key = await live_server.services.signing_keys.active("acme")
    headers = {"kid": key.kid, "typ": TOKEN_TYPE}

    def mint(claims: dict, *, alg=ALGORITHM, hdrs=headers, signer=key.private) -> str:
        return jwt.encode(claims, signer, algorithm=alg, headers=hdrs)

    own = {k: real[k] for k in ("sub", "client_id", "gid", "scope")}
    # The control: the same minting, with the real claims, is accepted.
    assert (await mcp_status(http, live_server, "acme", mint(_claims(live_server, own))))[0] == 200
    acme = live_server.config.mcp_resource("acme")
    forged = [
        mint(_claims(live_server, own, aud="https://other-rs.example/mcp")),
        mint(_claims(live_server, own, aud=live_server.config.mcp_resource("northwind"))),
        mint(_claims(live_server, own, aud=acme + "-other")),
        mint(_claims(live_server, own, aud=[acme + "/x"])),
        mint(_claims(live_server, own, iss=live_server.config.tenant_origin("northwind"))),
        mint(_claims(live_server, own, exp=datetime.now(UTC) - timedelta(minutes=5))),
        mint(_claims(live_server, own, gid="gra_unknown")),
        mint(_claims(live_server, own, sub="usr_someone_else")),
        mint(_claims(live_server, own, client_id="vcl_someone_else")),
        mint(_claims(live_server, own), hdrs={"kid": key.kid, "typ": "JWT"}),
        mint(_claims(live_server, own), hdrs={"kid": "key_unknown", "typ": TOKEN_TYPE}),
        jwt.encode(_claims(live_server, own), "s" * 64, algorithm="HS256", headers=headers),
        jwt.encode(_claims(live_server, own), None, algorithm="none", headers=headers),
    ]
    for i, token in enumerate(forged):
        status, hdrs = await mcp_status(http, live_server, "acme", token)
        assert status == 401, i
        assert challenge(hdrs["WWW-Authenticate"])["error"] == "invalid_token", i


async def test_clients_codes_and_refresh_tokens_do_not_cross_tenants(
        live_server, http, browser, client, northwind):
    """Case 21 for the authorization server: acme's client is unknown at northwind, and acme's
    code and refresh token are invalid there, without being consumed."""
    _, code_challenge = pkce()
    page = await northwind.get("/oauth/authorize", authorize_params(live_server, client, code_challenge))
    assert page.status == 400 and page.location is None

    code, verifier = await get_code(live_server, browser, client)
    foreign = await exchange(http, live_server, client, code, verifier, slug="northwind")
    assert (foreign.status, foreign.error) == (401, "invalid_client")
    local = await register(http, live_server, "northwind")
    for resource in (live_server.config.mcp_resource("northwind"), None):
        answer = await token_request(http, live_server, "northwind", {
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": local.redirect_uris[0], "resource": resource}, client=local)
        assert (answer.status, answer.error) == (400, "invalid_grant")
    granted = await exchange(http, live_server, client, code, verifier)
    assert granted.status == 200

    r1 = granted.body["refresh_token"]
    foreign = await refresh(http, live_server, client, r1, slug="northwind")
    assert (foreign.status, foreign.error) == (401, "invalid_client")
    answer = await refresh(http, live_server, local, r1,
                           resource=live_server.config.mcp_resource("northwind"))
    assert (answer.status, answer.error) == (400, "invalid_grant")
    assert (await refresh(http, live_server, client, r1)).status == 200


async def _revoke(http, server, client, token, slug="acme"):
    extra, auth = client.credentials()
    async with http.post(server.url(slug, "/oauth/revoke"), data={**extra, "token": token},
                         headers=auth) as resp:
        assert resp.status == 200, await resp.text()


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
async def test_revocation_kills_the_whole_grant_at_once(live_server, http, browser, client, which):
    issued = await tokens(http, live_server, browser, client)
    access = issued["access_token"]
    assert (await mcp_status(http, live_server, "acme", access))[0] == 200   # now cached
    other = await register(http, live_server, client_name="Client B")
    await _revoke(http, live_server, other, issued[which])                   # not its token: no-op
    await _revoke(http, live_server, client, "x" * 43)                       # unknown: same 200
    assert (await mcp_status(http, live_server, "acme", access))[0] == 200
    await _revoke(http, live_server, client, issued[which])
    status, headers = await mcp_status(http, live_server, "acme", access)
    assert status == 401 and challenge(headers["WWW-Authenticate"])["error"] == "invalid_token"
    answer = await refresh(http, live_server, client, issued["refresh_token"])
    assert (answer.status, answer.error) == (400, "invalid_grant")


async def test_revoke_endpoint_errors_are_json(live_server, http, client):
    async with http.post(live_server.url("acme", "/oauth/revoke"), data={"token": "x"}) as resp:
        answer = await json_answer(resp)
    assert (answer.status, answer.error) == (401, "invalid_client")
    async with http.post(live_server.url("acme", "/oauth/revoke"),
                         data={"client_id": client.client_id}) as resp:
        answer = await json_answer(resp)
    assert (answer.status, answer.error) == (400, "invalid_request")


async def test_step_up_from_insufficient_scope(live_server, http, browser, client):
    """A grant without read:tickets gets 403 insufficient_scope naming every scope needed (old
    and new); re-authorizing with the wider scope set then succeeds."""
    url = live_server.url("acme", "/api/mcp")
    origin = live_server.config.tenant_origin("acme")

    async def token_for(person: HeadlessOperator, scope: str) -> str:
        verifier, code_challenge = pkce()
        params = authorize_params(live_server, client, code_challenge, scope=scope)
        result = await person.authorize(live_server.url("acme", "/oauth/authorize?" + urlencode(params)))
        answer = await exchange(http, live_server, client, result.params["code"], verifier)
        assert answer.status == 200, answer
        return answer.body["access_token"]

    narrow = await token_for(HeadlessOperator(email=EMAIL, scopes=["read:customers"]),
                             "read:customers read:tickets")
    status, data, headers = await rpc(http, url, narrow, "tools/call",
                                      {"name": "list_open_tickets", "arguments": {}})
    assert status == 403, data
    params = challenge(headers["WWW-Authenticate"])
    assert params["error"] == "insufficient_scope"
    assert set(params["scope"].split()) == {"read:customers", "read:tickets"}
    assert params["resource_metadata"] == origin + "/.well-known/oauth-protected-resource/api/mcp"
    status, data, _ = await rpc(http, url, narrow, "tools/call", {"name": "list_customers", "arguments": {}})
    assert status == 200 and data["result"]["isError"] is False

    wide = await token_for(HeadlessOperator(email=EMAIL), params["scope"])
    status, data, _ = await rpc(http, url, wide, "tools/call", {"name": "list_open_tickets", "arguments": {}})
    assert status == 200 and data["result"]["isError"] is False, data
