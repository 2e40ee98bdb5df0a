"""GET/POST /oauth/authorize: validate the request, have the operator sign in, show the consent
page, and send the code back with `state` and `iss` (RFC 9207).

Until the client and its redirect URI are validated, every error is an error page and never a
redirect (an attacker must not be able to bounce the browser anywhere). After that, errors go
back to the client as RFC 6749 §4.1.2.1 redirects.

The consent form carries the validated request as a value signed with the cookie secret and
bound to the tenant and the operator's session, so nothing is stored until the operator approves.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import tornado.web

from ..audit import audit_row
from ..scopes import ALL_SCOPES, READ_SCOPES, ROLE_SCOPES
from ..web.pages.base import CSP, PageHandler
from ..web.pages.scope_words import names_for, scope_view
from .clients import OAuthClient, resolve_client
from .grants import Grants
from .redirects import is_loopback_redirect, redirect_host, redirect_matches
from .resource import resource_matches

CHALLENGE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
TXN_MINUTES = 10
MAX_STATE = 2000
_CSP_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")
_CSP_AUTHORITY = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?")


class AuthorizeError(Exception):
    """Sent back to the client's (validated) redirect URI."""

    def __init__(self, error: str, description: str):
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True)
class AuthRequest:
    client_id: str
    redirect_uri: str          # the validated URI the answer goes to
    redirect_uri_param: str    # as sent ("" when omitted), bound to the code
    state: str | None
    code_challenge: str
    scopes: tuple[str, ...]    # requested and known, canonical order


def _requested_scopes(value: str | None) -> tuple[str, ...]:
    """Known scopes asked for; unknown ones (offline_access, openid, …) are ignored. Asking for
    none of ours means the read scopes, the least that makes a connection useful."""
    asked = set((value or "").split())
    known = tuple(s for s in ALL_SCOPES if s in asked)
    return known or READ_SCOPES


def form_action_source(redirect_uri: str) -> str:
    """A CSP source for a validated redirect URI: its origin, or its scheme for a private-use
    scheme (and for an IPv6 literal, which a CSP host cannot name)."""
    scheme, _, rest = redirect_uri.partition(":")
    scheme = scheme.lower()
    if not _CSP_SCHEME.fullmatch(scheme):
        return ""
    if rest.startswith("//"):
        authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
        if _CSP_AUTHORITY.fullmatch(authority):
            return f"{scheme}://{authority}"
    return f"{scheme}:"


class AuthorizeHandler(PageHandler):
    async def get(self) -> None:
        args = {k: v[-1].decode("utf-8", "replace") for k, v in self.request.query_arguments.items()}
        repeated = [k for k, v in self.request.query_arguments.items() if len(v) > 1]
        client, redirect_uri = await self._client_and_redirect(args)
        if client is None:
            return
        state = args.get("state")
        try:
            if repeated:
                raise AuthorizeError("invalid_request", f"Parameter sent twice: {repeated[0]}.")
            request = self._validate(args, client, redirect_uri)
        except AuthorizeError as error:
            self._send_back(redirect_uri, state, error=error.error,
                            error_description=error.description)
            return
        if self.current_user is None:
            self.redirect("/signin?" + urlencode({"next": self.request.uri}), status=303)
            return
        await self._render_consent(client, request)

    async def post(self) -> None:
        if self.current_user is None:
            raise tornado.web.HTTPError(403)
        request = self._read_txn(self.get_body_argument("txn", ""))
        client = await resolve_client(self.services, self.tenant.slug, request.client_id)
        if client is None:
            self._error_page("This application is no longer known to Vectis. Start again from it.")
            return
        if self.get_body_argument("decision", "") != "approve":
            await self._audit(client, request, "denied", [])
            self._send_back(request.redirect_uri, request.state, error="access_denied",
                            error_description="The operator denied the request.")
            return
        allowed = self._allowed(request.scopes)
        chosen = tuple(s for s in allowed if s in set(self.get_body_arguments("scope")))
        if not chosen:
            await self._audit(client, request, "denied", [])
            self._send_back(request.redirect_uri, request.state, error="access_denied",
                            error_description="No scope was approved.")
            return
        code = await Grants(self.services).issue_code(
            self.tenant, client=client, user=self.current_user,
            redirect_uri_param=request.redirect_uri_param, code_challenge=request.code_challenge,
            scopes=chosen)
        await self._audit(client, request, "success", list(chosen))
        self._send_back(request.redirect_uri, request.state, code=code)

    # --- validation ---------------------------------------------------------------------------
    async def _client_and_redirect(self, args: dict) -> tuple[OAuthClient | None, str]:
        client_id = args.get("client_id", "")
        client = await resolve_client(self.services, self.tenant.slug, client_id) if client_id else None
        if client is None:
            self._error_page("The application that sent you here is not known to Vectis, or its "
                             "metadata could not be verified. Nothing was shared.")
            return None, ""
        requested = args.get("redirect_uri")
        if requested is None:
            if len(client.redirect_uris) != 1:
                self._error_page("The application did not say where to return to.")
                return None, ""
            return client, client.redirect_uris[0]
        if not any(redirect_matches(r, requested) for r in client.redirect_uris):
            self._error_page("The application asked to return to an address it has not "
                             "registered. Nothing was shared.")
            return None, ""
        return client, requested

    def _validate(self, args: dict, client: OAuthClient, redirect_uri: str) -> AuthRequest:
        if args.get("response_type") != "code":
            raise AuthorizeError("unsupported_response_type", "response_type must be code.")
        state = args.get("state")
        if state is not None and len(state) > MAX_STATE:
            raise AuthorizeError("invalid_request", "state is too long.")
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
        if not challenge:
            raise AuthorizeError("invalid_request", "PKCE is required: send code_challenge (S256).")
        if method != "S256":
            raise AuthorizeError("invalid_request", "code_challenge_method must be S256.")
        if not CHALLENGE_RE.match(challenge):
            raise AuthorizeError("invalid_request", "code_challenge is not a valid S256 challenge.")
        resource = args.get("resource")
        if resource is not None and not resource_matches(resource, self.tenant.mcp_resource):
            raise AuthorizeError("invalid_target",
                                 f"This server authorizes only {self.tenant.mcp_resource}.")
        return AuthRequest(client_id=client.client_id, redirect_uri=redirect_uri,
                           redirect_uri_param=args.get("redirect_uri", ""), state=state,
                           code_challenge=challenge, scopes=_requested_scopes(args.get("scope")))

    def _allowed(self, scopes: tuple[str, ...]) -> tuple[str, ...]:
        role = ROLE_SCOPES.get(self.current_user["role"], frozenset())
        return tuple(s for s in scopes if s in role)

    # --- the signed transaction ----------------------------------------------------------------
    def _txn_name(self) -> str:
        session = hashlib.sha256((self.session_id or "").encode()).hexdigest()[:32]
        return f"oauth_txn|{self.tenant.slug}|{session}"

    def _make_txn(self, request: AuthRequest) -> str:
        return self.create_signed_value(self._txn_name(), json.dumps(asdict(request))).decode()

    def _read_txn(self, value: str) -> AuthRequest:
        raw = tornado.web.decode_signed_value(
            self.services.config.cookie_secret, self._txn_name(), value,
            max_age_days=TXN_MINUTES / 1440)
        if raw is None:
            raise tornado.web.HTTPError(403)
        data = json.loads(raw)
        data["scopes"] = tuple(data["scopes"])
        return AuthRequest(**data)

    # --- answers ---------------------------------------------------------------------------------
    async def _render_consent(self, client: OAuthClient, request: AuthRequest) -> None:
        allowed = self._allowed(request.scopes)
        # The grant stores no customer limit: verification reads the user's (auth.bearer), so
        # what the page says holds for as long as the user's limit does.
        limit = self.customer_limit
        names = await names_for(self.services.storage, self.tenant.slug, limit)
        # The approval is a form posted here and answered by a redirect to the client; browsers
        # hold that redirect to form-action too, so the client's origin must be in it.
        self.set_header("Content-Security-Policy", CSP.replace(
            "form-action 'self'", f"form-action 'self' {form_action_source(request.redirect_uri)}"))
        self.render("oauth_consent.html", title="Allow access", client=client,
                    reach=scope_view(limit, names),
                    redirect_host=redirect_host(request.redirect_uri),
                    loopback=is_loopback_redirect(request.redirect_uri), allowed=allowed,
                    unavailable=[s for s in request.scopes if s not in allowed],
                    txn=self._make_txn(request))

    def _error_page(self, message: str) -> None:
        self.set_status(400)
        self.render("error.html", title="This request cannot be completed", message=message)

    def _send_back(self, redirect_uri: str, state: str | None, **params: str) -> None:
        values = dict(params)
        if state is not None:
            values["state"] = state
        values["iss"] = self.tenant.origin
        separator = "&" if "?" in redirect_uri else "?"
        self.redirect(redirect_uri + separator + urlencode(values), status=303)

    async def _audit(self, client: OAuthClient, request: AuthRequest, status: str,
                     scopes: list[str]) -> None:
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor={"kind": "operator", "user_id": self.current_user["_id"],
                   "email": self.current_user["email"]},
            action="oauth.authorize", status=status, kind="auth", request_id=self.request_id,
            detail={"client_id": client.client_id, "client_name": client.name,
                    "client_host": client.host, "redirect_host": redirect_host(request.redirect_uri),
                    "scopes": scopes}))
