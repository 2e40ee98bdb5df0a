"""Helpers for the adversarial OAuth tests (anchors.md §2.4 cases 1–21), all over loopback HTTP
against the live server: register a client with POST /oauth/register, drive authorize + consent
as a signed-in operator, redeem and refresh at /oauth/token, call /api/mcp with the result.

Every answer of the JSON endpoints goes through `json_answer`, which also checks what they all owe
the client: JSON (never HTML) and `Cache-Control: no-store`."""
from __future__ import annotations

import base64
import contextlib
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from vectis.credentials.pats import hash_token
from vectis.oauth.grants import s256

from ..support.html import parse
from ..support.http import client_session
from ..support.pages import PASSWORD, create_operator, sign_in
from ..support.rpc import rpc

REDIRECT = "http://127.0.0.1:53682/callback"
WEB_REDIRECT = "https://claude.ai/api/mcp/auth_callback"
EMAIL = "ada@acme.example"
OTHER_EMAIL = "nora@northwind.example"


@dataclass
class Answer:
    status: int
    body: dict
    headers: dict

    @property
    def error(self) -> str | None:
        return self.body.get("error")


@dataclass
class Client:
    slug: str
    client_id: str
    auth_method: str
    redirect_uris: list[str]
    secret: str | None = None
    registration: dict = field(default_factory=dict)

    def credentials(self, secret: str | None = None) -> tuple[dict, dict]:
        """(form fields, headers) authenticating this client the way it registered; `secret`
        replaces the real one (to send a wrong secret)."""
        secret = self.secret if secret is None else secret
        if self.auth_method == "client_secret_basic":
            raw = f"{quote(self.client_id, safe='')}:{quote(secret, safe='')}".encode()
            return {}, {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if self.auth_method == "client_secret_post":
            return {"client_id": self.client_id, "client_secret": secret}, {}
        return {"client_id": self.client_id}, {}


def pkce() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def code_hash(server, code: str) -> str:
    """The `_id` of a code in the tenant's `oauth_codes` (a keyed hash, as grants.py stores it)."""
    return hash_token(server.config.token_pepper, f"code:{code}")


def tenant_db(server, slug: str):
    return server.storage.db.tenant(slug)


async def plaintext_anywhere(server, slug: str, needle: str) -> list[str]:
    """The collections of the tenant database holding `needle` verbatim in some document."""
    db = tenant_db(server, slug)
    found = []
    for name in await db.list_collection_names():
        async for doc in db[name].find({}):
            if needle in json.dumps(doc, default=str):
                found.append(name)
    return found


async def json_answer(resp) -> Answer:
    text = await resp.text()
    assert resp.headers.get("Content-Type", "").startswith("application/json"), (resp.status, text[:200])
    assert resp.headers.get("Cache-Control") == "no-store", resp.headers.get("Cache-Control")
    assert "<html" not in text.lower()
    return Answer(resp.status, json.loads(text) if text else {}, dict(resp.headers))


async def register_raw(http, server, slug: str, body, *, headers: dict | None = None) -> Answer:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    async with http.post(server.url(slug, "/oauth/register"), data=data, headers=hdrs) as resp:
        return await json_answer(resp)


async def register(http, server, slug: str = "acme", **metadata) -> Client:
    body = {"client_name": "Adversary test", "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], **metadata}
    answer = await register_raw(http, server, slug, body)
    assert answer.status == 201, answer
    return Client(slug=slug, client_id=answer.body["client_id"],
                  auth_method=answer.body["token_endpoint_auth_method"],
                  redirect_uris=answer.body["redirect_uris"], secret=answer.body.get("client_secret"),
                  registration=answer.body)


async def token_request(http, server, slug: str, form: dict, *, client: Client | None = None,
                        secret: str | None = None, headers: dict | None = None) -> Answer:
    extra, auth = client.credentials(secret) if client is not None else ({}, {})
    data = {**extra, **{k: v for k, v in form.items() if v is not None}}
    async with http.post(server.url(slug, "/oauth/token"), data=data,
                         headers={**auth, **(headers or {})}) as resp:
        return await json_answer(resp)


async def exchange(http, server, client: Client, code: str, verifier: str | None, *,
                   slug: str | None = None, **extra) -> Answer:
    form = {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": client.redirect_uris[0],
            "resource": server.config.mcp_resource(client.slug), **extra}
    return await token_request(http, server, slug or client.slug, form, client=client)


async def refresh(http, server, client: Client, refresh_token: str, *, slug: str | None = None,
                  **extra) -> Answer:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "resource": server.config.mcp_resource(client.slug), **extra}
    return await token_request(http, server, slug or client.slug, form, client=client)


def authorize_params(server, client: Client, challenge: str | None, **overrides) -> dict:
    """A valid authorization request; an override of None drops that parameter."""
    params = {"response_type": "code", "client_id": client.client_id,
              "redirect_uri": client.redirect_uris[0], "code_challenge": challenge,
              "code_challenge_method": "S256", "state": secrets.token_urlsafe(12),
              "resource": server.config.mcp_resource(client.slug), **overrides}
    return {k: v for k, v in params.items() if v is not None}


@dataclass
class Page:
    status: int
    text: str
    headers: dict
    location: str | None

    @property
    def params(self) -> dict[str, str]:
        """The query of the redirect target, one value per name."""
        assert self.location is not None, (self.status, self.text[:300])
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}


class Browser:
    """An operator's browser, signed in on one tenant (cookies kept across requests)."""

    def __init__(self, server, slug: str, http) -> None:
        self.server, self.slug, self.http = server, slug, http

    async def get(self, path: str, params: dict | None = None) -> Page:
        url = self.server.url(self.slug, path) + ("?" + urlencode(params) if params else "")
        async with self.http.get(url, allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers), resp.headers.get("Location"))

    async def post(self, path: str, data) -> Page:
        async with self.http.post(self.server.url(self.slug, path), data=data,
                                  allow_redirects=False) as resp:
            return Page(resp.status, await resp.text(), dict(resp.headers), resp.headers.get("Location"))

    async def consent_page(self, params: dict) -> Page:
        page = await self.get("/oauth/authorize", params)
        assert page.status == 200, (page.status, page.location, page.text[:300])
        return page

    async def decide(self, page: Page, *, scopes: list[str] | None = None,
                     decision: str = "approve") -> Page:
        form = parse(page.text).form("/oauth/authorize")
        data = list(form.fields.items()) + [("decision", decision)]
        data += [("scope", s) for s in (form.checkboxes if scopes is None else scopes)]
        answer = await self.post("/oauth/authorize", data)
        assert answer.status == 303, (answer.status, answer.text[:300])
        return answer

    async def authorize(self, params: dict, **decide) -> Page:
        """Request, consent, and the redirect back to the client."""
        return await self.decide(await self.consent_page(params), **decide)


@contextlib.asynccontextmanager
async def signed_in(server, slug: str = "acme", email: str = EMAIL, role: str = "admin"):
    """A new operator (and tenant, if missing), signed in through the form in its own browser."""
    await create_operator(server.storage, slug, email, role)
    async with client_session() as http:
        status, _, body = await sign_in(http, server, slug, email, PASSWORD)
        assert status == 303, body[:300]
        yield Browser(server, slug, http)


async def get_code(server, browser: Browser, client: Client, *, scopes: list[str] | None = None,
                   **overrides) -> tuple[str, str]:
    """(code, verifier) after the operator approved the request."""
    verifier, challenge = pkce()
    page = await browser.authorize(authorize_params(server, client, challenge, **overrides),
                                   scopes=scopes)
    assert "code" in page.params, page.location
    return page.params["code"], verifier


async def tokens(http, server, browser: Browser, client: Client, **overrides) -> dict:
    """A fresh grant's token response (authorize, consent, redeem)."""
    code, verifier = await get_code(server, browser, client, **overrides)
    answer = await exchange(http, server, client, code, verifier)
    assert answer.status == 200, answer
    return answer.body


async def mcp_status(http, server, slug: str, token: str | None, *,
                     headers: dict | None = None, url: str | None = None) -> tuple[int, dict]:
    """(HTTP status, response headers) of tools/list at the tenant's MCP endpoint."""
    status, _, hdrs = await rpc(http, url or server.url(slug, "/api/mcp"), token, "tools/list",
                                headers=headers)
    return status, dict(hdrs)


def challenge(header: str) -> dict[str, str]:
    """The parameters of a `WWW-Authenticate: Bearer k="v", …` header."""
    assert header.startswith("Bearer "), header
    out = {}
    for part in header[len("Bearer "):].split('", '):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip('"')
    return out
