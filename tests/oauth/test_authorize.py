"""GET/POST /oauth/authorize under attack (anchors.md §2.4 cases 1–6, and 17 at the endpoint):
until the client and its redirect URI are proven, every error is a 400 page and never a
redirect; after that, errors go back to the client with `state` and `iss`."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest

from ..support.html import parse
from ..support.http import client_session
from ..support.pages import PASSWORD
from .flow import (
    EMAIL,
    REDIRECT,
    WEB_REDIRECT,
    Page,
    authorize_params,
    exchange,
    get_code,
    pkce,
    register,
    signed_in,
    tenant_db,
)


@pytest.fixture
async def browser(live_server):
    async with signed_in(live_server) as b:
        yield b


@pytest.fixture
async def client(http, live_server, browser):
    return await register(http, live_server, redirect_uris=[REDIRECT, WEB_REDIRECT])


async def stored(server, slug="acme") -> tuple[int, int]:
    db = tenant_db(server, slug)
    return (await db["oauth_codes"].count_documents({}),
            await db["oauth_grants"].count_documents({}))


def assert_error_page(page, what=""):
    """The 400 page: HTML, no Location, framing forbidden."""
    assert page.status == 400, (what, page.status, page.location)
    assert page.location is None, (what, page.location)
    assert page.headers["Content-Type"].startswith("text/html"), what
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Nothing was shared" in page.text or "not known" in page.text, (what, page.text[:300])


def assert_sent_back(page, error: str, state: str, origin: str, to: str = REDIRECT):
    assert page.status == 303, (page.status, page.text[:300])
    assert page.location.startswith(to + "?"), page.location
    assert page.params["error"] == error, page.params
    assert page.params["state"] == state
    assert page.params["iss"] == origin
    assert "code" not in page.params


LOOK_ALIKES = [
    "https://claude.ai.evil.com/api/mcp/auth_callback",
    "https://claude.ai@evil.com/api/mcp/auth_callback",
    "https://evil.com/api/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth_callback/",
    "https://CLAUDE.AI/api/mcp/auth_callback",
    "https://claude.ai/API/mcp/auth_callback",
    "https://claude.ai/api/mcp/auth_callback?next=https://evil.com",
    "https://claude.ai/api/mcp/auth_callback#frag",
    "https://claude.ai:8443/api/mcp/auth_callback",
    "http://claude.ai/api/mcp/auth_callback",
    "http://localhost:53682/callback",          # loopback, but not the registered host literal
    "http://127.0.0.1:53682/callback/",
    "http://127.0.0.1:53682/callback?x=1",
    "http://127.0.0.2:53682/callback",
    "javascript:alert(document.cookie)",
    "",
]


async def test_unregistered_redirect_uris_get_an_error_page_and_nothing_is_stored(
        live_server, http, browser, client):
    """Case 1, signed in and signed out; even an otherwise broken request is not bounced."""
    _, challenge = pkce()
    for uri in LOOK_ALIKES:
        params = authorize_params(live_server, client, challenge, redirect_uri=uri)
        assert_error_page(await browser.get("/oauth/authorize", params), uri)
        params = authorize_params(live_server, client, None, redirect_uri=uri, response_type="token")
        assert_error_page(await browser.get("/oauth/authorize", params), uri)
        async with http.get(live_server.url("acme", "/oauth/authorize"), params=params,
                            allow_redirects=False) as resp:
            assert resp.status == 400 and "Location" not in resp.headers, uri
    assert await stored(live_server) == (0, 0)


async def test_a_missing_redirect_uri_is_an_error_when_the_client_has_several(
        live_server, browser, client):
    _, challenge = pkce()
    page = await browser.get("/oauth/authorize", authorize_params(live_server, client, challenge,
                                                                  redirect_uri=None))
    assert page.status == 400 and page.location is None


async def test_a_missing_redirect_uri_means_the_only_registered_one(live_server, http, browser):
    single = await register(http, live_server, redirect_uris=[WEB_REDIRECT])
    _, challenge = pkce()
    page = await browser.consent_page(authorize_params(live_server, single, challenge,
                                                       redirect_uri=None))
    answer = await browser.decide(page)
    assert answer.location.startswith(WEB_REDIRECT + "?code=")


@pytest.mark.parametrize("client_id", [
    "vcl_doesnotexist0000000000", "unknown-client", "", None, "VCL_x", "vcl_" + "a" * 3000,
    "https://10.0.0.5/client.json",                 # case 17: CIMD URL inside the network
    "https://127.0.0.1:1/x",
    "https://169.254.169.254/latest/meta-data/client.json",
    "https://[::1]/client.json",
    "http://example.com/client.json",               # not https: not a metadata document URL
])
async def test_unknown_client_gets_an_error_page_not_a_redirect(live_server, browser, client_id):
    """Cases 2 and 17: nothing is known about where to send the browser, so it is sent nowhere."""
    _, challenge = pkce()
    params = {"response_type": "code", "redirect_uri": REDIRECT, "code_challenge": challenge,
              "code_challenge_method": "S256", "state": "s1"}
    if client_id is not None:
        params["client_id"] = client_id
    assert_error_page(await browser.get("/oauth/authorize", params), client_id)
    assert await stored(live_server) == (0, 0)


async def test_missing_pkce_is_sent_back_with_state_and_iss(live_server, http, client):
    """Case 3, before anyone has signed in: the request is checked before the sign-in redirect."""
    params = authorize_params(live_server, client, None, state="st-3")
    async with http.get(live_server.url("acme", "/oauth/authorize"), params=params,
                        allow_redirects=False) as resp:
        page = Page(resp.status, await resp.text(), dict(resp.headers), resp.headers.get("Location"))
    assert_sent_back(page, "invalid_request", "st-3", live_server.config.tenant_origin("acme"))


@pytest.mark.parametrize("overrides", [
    {"code_challenge_method": "plain"},
    {"code_challenge_method": "S512"},
    {"code_challenge_method": "s256"},
    {"code_challenge_method": None},                 # omitted means plain (RFC 7636 §4.3)
    {"code_challenge": "a" * 42},
    {"code_challenge": "a" * 129},
    {"code_challenge": "A" * 42 + "="},              # base64 padding is not base64url
    {"code_challenge": "a" * 42 + "+"},
])
async def test_weak_or_malformed_pkce_is_invalid_request(live_server, browser, client, overrides):
    """Case 4."""
    _, challenge = pkce()
    params = authorize_params(live_server, client, challenge, state="st-4", **overrides)
    assert_sent_back(await browser.get("/oauth/authorize", params), "invalid_request", "st-4",
                     live_server.config.tenant_origin("acme"))
    assert await stored(live_server) == (0, 0)


async def test_repeated_parameters_and_wrong_response_type_are_sent_back(live_server, browser, client):
    _, challenge = pkce()
    origin = live_server.config.tenant_origin("acme")
    params = authorize_params(live_server, client, challenge, state="st", response_type="token")
    assert_sent_back(await browser.get("/oauth/authorize", params), "unsupported_response_type",
                     "st", origin)
    query = authorize_params(live_server, client, challenge, state="st")
    page = await browser.get("/oauth/authorize", list(query.items()) + [("scope", "read:tickets")] * 2)
    assert_sent_back(page, "invalid_request", "st", origin)


def other_resources(server) -> list[str]:
    acme = server.config.mcp_resource("acme")
    origin = server.config.tenant_origin("acme")
    return [
        server.config.mcp_resource("northwind"),    # another tenant
        "/api/mcp",                                 # relative
        "api/mcp",
        acme + "#fragment",
        acme + "#",
        acme + "?tenant=northwind",
        acme + "-other",
        acme + "/tools",
        origin,
        origin + "/",
        acme.replace("http://", "https://"),
        f"http://acme.localhost:{server.port + 1}/api/mcp",
        "http://evil.example/api/mcp",
        "urn:vectis:acme",
    ]


async def test_a_resource_this_tenant_does_not_serve_is_invalid_target(live_server, browser, client):
    """Case 5."""
    _, challenge = pkce()
    origin = live_server.config.tenant_origin("acme")
    for resource in other_resources(live_server):
        params = authorize_params(live_server, client, challenge, state="st-5", resource=resource)
        assert_sent_back(await browser.get("/oauth/authorize", params), "invalid_target", "st-5", origin)
    assert await stored(live_server) == (0, 0)


async def test_an_omitted_resource_defaults_to_the_tenant_mcp_uri(live_server, http, browser, client):
    """Case 5: clients that omit `resource` (at both steps) still get a token for this tenant."""
    code, verifier = await get_code(live_server, browser, client, resource=None)
    answer = await exchange(http, live_server, client, code, verifier, resource=None)
    assert answer.status == 200, answer
    claims = jwt.decode(answer.body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == live_server.config.mcp_resource("acme")
    assert claims["iss"] == live_server.config.tenant_origin("acme")
    grant = await tenant_db(live_server, "acme")["oauth_grants"].find_one({"_id": claims["gid"]})
    assert grant["resource"] == live_server.config.mcp_resource("acme")


async def test_the_canonical_resource_is_tolerated_with_case_and_trailing_slash(live_server, browser,
                                                                                client):
    _, challenge = pkce()
    loud = live_server.config.mcp_resource("acme").replace("http://acme.localhost", "HTTP://ACME.LOCALHOST")
    await browser.consent_page(authorize_params(live_server, client, challenge, resource=loud + "/"))


async def test_consent_page_cannot_be_framed_and_leaks_no_referrer(live_server, http, browser):
    """Case 6, plus: the self-asserted client name is escaped and marked as unverified, and the
    page refers to nothing off-site."""
    client = await register(http, live_server, client_name='<img src=x onerror=alert(1)>Claude')
    _, challenge = pkce()
    page = await browser.consent_page(authorize_params(live_server, client, challenge))
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    assert "not verified" in page.text
    for url in re.findall(r'(?:href|src|action)="([^"]*)"', page.text):
        assert url.startswith("/") and not url.startswith("//"), url
    answer = await browser.decide(page)
    assert answer.status == 303
    assert answer.headers["Referrer-Policy"] == "no-referrer"


async def test_approval_sends_the_code_with_state_and_iss_untouched(live_server, browser, client):
    state = "a b&c=d/é?" + "x" * 100
    _, challenge = pkce()
    page = await browser.authorize(authorize_params(live_server, client, challenge, state=state))
    assert page.location.startswith(REDIRECT + "?")
    assert page.params["state"] == state
    assert page.params["iss"] == live_server.config.tenant_origin("acme")
    assert len(page.params["code"]) >= 32
    assert await stored(live_server) == (1, 0)


async def test_a_loopback_redirect_may_use_any_port(live_server, browser, client):
    _, challenge = pkce()
    other_port = "http://127.0.0.1:40123/callback"
    page = await browser.authorize(authorize_params(live_server, client, challenge,
                                                    redirect_uri=other_port))
    assert page.location.startswith(other_port + "?code=")


async def test_denying_sends_access_denied_and_stores_nothing(live_server, browser, client):
    _, challenge = pkce()
    page = await browser.authorize(authorize_params(live_server, client, challenge, state="st-d"),
                                   decision="deny")
    assert_sent_back(page, "access_denied", "st-d", live_server.config.tenant_origin("acme"))
    page = await browser.authorize(authorize_params(live_server, client, challenge, state="st-e"),
                                   scopes=[])
    assert_sent_back(page, "access_denied", "st-e", live_server.config.tenant_origin("acme"))
    assert await stored(live_server) == (0, 0)


async def test_the_consent_post_cannot_widen_what_was_requested(live_server, http, client):
    """Scopes posted on the consent form beyond the signed request, or beyond the operator's
    role, are not granted."""
    async with signed_in(live_server, email="rita@acme.example", role="readonly") as reader:
        _, challenge = pkce()
        params = authorize_params(live_server, client, challenge, scope="read:customers write:tickets")
        page = await reader.consent_page(params)
        assert 'value="write:tickets"' not in page.text
        forged = ["read:customers", "write:tickets", "read:billing", "run:rules"]
        answer = await reader.decide(page, scopes=forged)
    assert "code" in answer.params
    code = await tenant_db(live_server, "acme")["oauth_codes"].find_one({})
    assert code["scopes"] == ["read:customers"]


async def test_the_consent_form_is_bound_to_its_session(live_server, browser, client):
    """A consent transaction lifted from one operator's page cannot be approved in another
    operator's session, tampered with, or posted without the CSRF token."""
    _, challenge = pkce()
    page = await browser.consent_page(authorize_params(live_server, client, challenge))
    stolen = parse(page.text).form("/oauth/authorize").fields
    async with signed_in(live_server, email="eve@acme.example") as eve:
        own = parse((await eve.consent_page(authorize_params(live_server, client, challenge))).text)
        fields = dict(own.form("/oauth/authorize").fields, txn=stolen["txn"])
        answer = await eve.post("/oauth/authorize", {**fields, "decision": "approve",
                                                     "scope": "read:customers"})
        assert answer.status == 403 and answer.location is None
        tampered = dict(own.form("/oauth/authorize").fields)
        tampered["txn"] = tampered["txn"].replace("|", "|x", 1)
        answer = await eve.post("/oauth/authorize", {**tampered, "decision": "approve"})
        assert answer.status == 403 and answer.location is None
    no_csrf = {"txn": stolen["txn"], "decision": "approve", "scope": "read:customers"}
    answer = await browser.post("/oauth/authorize", no_csrf)
    assert answer.status == 403 and answer.location is None
    assert await stored(live_server) == (0, 0)


async def test_sign_in_returns_to_a_long_authorization_request(live_server, http, client):
    """The operator who has to sign in first comes back to the consent page, however long the
    (valid) authorization request is."""
    _, challenge = pkce()
    params = authorize_params(live_server, client, challenge, state="s" * 2000)
    url = live_server.url("acme", "/oauth/authorize?" + urlencode(params))
    async with client_session() as anonymous:
        async with anonymous.get(url, allow_redirects=False) as resp:
            assert resp.status == 303 and resp.headers["Location"].startswith("/signin?")
            signin = live_server.url("acme", resp.headers["Location"])
        async with anonymous.get(signin) as resp:
            fields = dict(parse(await resp.text()).form("/signin").fields, email=EMAIL, password=PASSWORD)
        async with anonymous.post(live_server.url("acme", "/signin"), data=fields,
                                  allow_redirects=False) as resp:
            assert resp.status == 303
            back = urlsplit(resp.headers["Location"])   # the client may re-quote; compare values
            assert back.path == "/oauth/authorize" and parse_qs(back.query) == {
                k: [v] for k, v in params.items()}
