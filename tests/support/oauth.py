"""Driving the OAuth flow the way a person in a browser would, without a browser: follow the
authorize URL, sign in through the form, approve (or deny) on the consent page, and capture the
redirect back to the client. Also a token store for the MCP SDK's OAuth provider."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

from mcp.shared.auth import AuthorizationCodeResult

from .html import parse
from .http import client_session
from .pages import PASSWORD


@dataclass
class Redirected:
    location: str
    params: dict[str, str]


@dataclass
class HeadlessOperator:
    email: str
    password: str = PASSWORD
    decision: str = "approve"
    scopes: list[str] | None = None        # None: keep what the consent page pre-checks
    ssl_context: object = None             # trust for an https server (a test CA)
    consent_pages: list[str] = field(default_factory=list)
    results: list[Redirected] = field(default_factory=list)

    async def authorize(self, url: str) -> Redirected:
        async with client_session(self.ssl_context) as http:
            location = await self._get(http, url)
            if urlsplit(location).path == "/signin":
                signin_url = urljoin(url, location)
                async with http.get(signin_url) as resp:
                    fields = dict(parse(await resp.text()).form("/signin").fields)
                fields.update(email=self.email, password=self.password)
                async with http.post(urljoin(url, "/signin"), data=fields,
                                     allow_redirects=False) as resp:
                    assert resp.status == 303, (resp.status, await resp.text())
                    location = resp.headers["Location"]
                async with http.get(urljoin(url, location), allow_redirects=False) as resp:
                    assert resp.status == 200, (resp.status, await resp.text())
                    page = await resp.text()
            else:
                raise AssertionError(f"expected a sign-in redirect, got {location}")
            self.consent_pages.append(page)
            form = parse(page).form("/oauth/authorize")
            data = list(form.fields.items()) + [("decision", self.decision)]
            data += [("scope", s) for s in (form.checkboxes if self.scopes is None else self.scopes)]
            async with http.post(urljoin(url, "/oauth/authorize"), data=data,
                                 allow_redirects=False) as resp:
                assert resp.status == 303, (resp.status, await resp.text())
                location = resp.headers["Location"]
        result = Redirected(location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()})
        self.results.append(result)
        return result

    @staticmethod
    async def _get(http, url: str) -> str:
        async with http.get(url, allow_redirects=False) as resp:
            assert resp.status in (302, 303), (resp.status, await resp.text())
            return resp.headers["Location"]

    # The MCP SDK's OAuthClientProvider hooks.
    async def redirect_handler(self, url: str) -> None:
        await self.authorize(url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        params = self.results[-1].params
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"),
                                       iss=params.get("iss"))


class MemoryTokenStorage:
    def __init__(self) -> None:
        self.tokens = None
        self.client_info = None
        self.history: list = []

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens) -> None:
        self.tokens = tokens
        self.history.append(tokens)

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info) -> None:
        self.client_info = client_info
