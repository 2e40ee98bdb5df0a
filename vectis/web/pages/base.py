"""Base of the operator pages: HTML rendering, security headers, the session and CSRF.

The session cookie holds `{tenant slug}|{random session id}`, signed with cookie_secret; the
session itself lives in the tenant's `sessions` collection under the id's SHA-256. A cookie of
another tenant fails twice: its slug differs, and its hash does not exist in this database.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import tornado.web

from ...customer_scope import CustomerScope, narrow
from ..base import UNKNOWN_HOST_BODY, TenantHandler, json_bytes
from ..inflight import CountedHandler

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
       "form-action 'self'; base-uri 'none'")
SESSION_LIFETIME = timedelta(hours=12)
TOUCH_INTERVAL = timedelta(minutes=1)   # last_seen_at is written at most this often
CSRF_FIELD = "_csrf"
ERROR_MESSAGES = {
    403: "This form has expired or did not come from this site. Reload the page and try again.",
    404: "There is nothing here.",
}


def password_marker(user: dict) -> str:
    """Changes whenever the password hash changes, which ends every session made before."""
    return hashlib.sha256(user["password_hash"].encode()).hexdigest()[:32]


def set_page_security_headers(handler: tornado.web.RequestHandler) -> None:
    handler.set_header("Content-Security-Policy", CSP)
    handler.set_header("X-Frame-Options", "DENY")
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")


class PageHandler(TenantHandler):
    requires_session = False
    session_id: str | None = None
    session: dict | None = None

    def set_default_headers(self) -> None:
        super().set_default_headers()
        set_page_security_headers(self)

    def get_template_path(self) -> str:
        return str(TEMPLATE_DIR)

    @property
    def secure_cookies(self) -> bool:
        return self.services.config.public_scheme == "https"

    def cookie_name(self, base: str) -> str:
        # __Host- makes the browser refuse the cookie unless Secure, Path=/ and without Domain.
        return f"__Host-{base}" if self.secure_cookies else base

    def _set_cookie(self, base: str, value: str, max_age: int | None) -> None:
        self.set_signed_cookie(self.cookie_name(base), value, expires_days=None, max_age=max_age,
                               httponly=True, samesite="Lax", secure=self.secure_cookies, path="/")

    def _clear_cookie(self, base: str) -> None:
        self.clear_cookie(self.cookie_name(base), path="/", secure=self.secure_cookies,
                          httponly=True, samesite="Lax")

    def _cookie_id(self, base: str) -> str | None:
        """The random id in one of our cookies, if it is signed and bound to this tenant."""
        days = SESSION_LIFETIME.total_seconds() / 86400
        raw = self.get_signed_cookie(self.cookie_name(base), max_age_days=days)
        if not raw:
            return None
        slug, _, value = raw.decode(errors="replace").partition("|")
        return value if slug == self.tenant.slug and value else None

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished:
            return
        await self._load_session()
        if self.request.method == "POST":
            self.check_xsrf_cookie()
        if self.requires_session and self.current_user is None:
            self.redirect("/signin?" + urlencode({"next": self.request.uri}), status=303)

    async def _load_session(self) -> None:
        session_id = self._cookie_id("vectis_session")
        if session_id is None:
            return
        storage, slug = self.services.storage, self.tenant.slug
        session = await storage.sessions.get(slug, session_id)
        user = await storage.users.by_id(slug, session["user_id"]) if session else None
        if user is None or user.get("disabled") or password_marker(user) != session["password_marker"]:
            if session is not None:
                await storage.sessions.delete(slug, session_id)
            self._clear_cookie("vectis_session")
            return
        now = datetime.now(UTC)
        if now - session["last_seen_at"] >= TOUCH_INTERVAL:
            await storage.sessions.touch(slug, session_id, now)
        self.session_id, self.session, self.current_user = session_id, session, user

    @property
    def customer_limit(self) -> CustomerScope:
        """The signed-in operator's customers (None: all). The user is read again at every request,
        so a restriction set by an administrator applies to open sessions at their next page.
        Without a signed-in user: no customer."""
        if self.current_user is None:
            return frozenset()
        return narrow(self.current_user.get("customers"))

    async def start_session(self, user: dict) -> None:
        if self.session_id is not None:
            await self.end_session()
        session_id = secrets.token_urlsafe(32)
        await self.services.storage.sessions.create(
            self.tenant.slug, session_id, user_id=user["_id"], password_marker=password_marker(user),
            lifetime=SESSION_LIFETIME)
        self._set_cookie("vectis_session", f"{self.tenant.slug}|{session_id}",
                         int(SESSION_LIFETIME.total_seconds()))
        self.session_id, self.current_user = session_id, user

    async def end_session(self) -> None:
        if self.session_id is not None:
            await self.services.storage.sessions.delete(self.tenant.slug, self.session_id)
        self._clear_cookie("vectis_session")
        self.session_id = self.session = self.current_user = None

    # CSRF: an HMAC of the session id (or, before sign-in, of a pre-session id in its own cookie),
    # so a token is useless outside the browser session it was rendered for.
    def _csrf_for(self, basis: str) -> str:
        key = self.services.config.cookie_secret.encode()
        return hmac.new(key, f"csrf|{self.tenant.slug}|{basis}".encode(), hashlib.sha256).hexdigest()

    def _csrf_basis(self, create: bool) -> str | None:
        if self.session_id is not None:
            return self.session_id
        basis = self._cookie_id("vectis_presession")
        if basis is None and create:
            basis = secrets.token_urlsafe(32)
            self._set_cookie("vectis_presession", f"{self.tenant.slug}|{basis}", None)
        return basis

    @property
    def csrf_token(self) -> str:
        if not hasattr(self, "_csrf_token"):
            self._csrf_token = self._csrf_for(self._csrf_basis(create=True))
        return self._csrf_token

    def check_xsrf_cookie(self) -> None:
        basis = self._csrf_basis(create=False)
        sent = self.get_body_argument(CSRF_FIELD, "")
        if basis is None or not hmac.compare_digest(sent.encode(), self._csrf_for(basis).encode()):
            raise tornado.web.HTTPError(403)

    def get_template_namespace(self) -> dict:
        namespace = super().get_template_namespace()
        namespace.update(tenant=self.tenant, user=self.current_user, csrf_field=CSRF_FIELD,
                         csrf_token=self.csrf_token, when=format_time)
        return namespace

    def write_error(self, status_code: int, **kwargs) -> None:
        if getattr(self, "tenant", None) is None:
            return super().write_error(status_code, **kwargs)
        reason = self._reason if status_code < 500 else "Internal Server Error"
        self.render("error.html", title=reason, message=ERROR_MESSAGES.get(status_code, reason))


def format_time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


class StaticHandler(CountedHandler, tornado.web.StaticFileHandler):
    """CSS and the copy-button script; only on tenant hosts, like everything else."""

    def initialize(self) -> None:
        super().initialize(path=str(STATIC_DIR))

    def set_default_headers(self) -> None:
        set_page_security_headers(self)
        self.clear_header("Server")

    async def prepare(self) -> None:
        services = self.application.settings["services"]
        if await services.tenants.resolve(self.request.host) is None:
            self.set_status(404)
            self.set_header("Content-Type", "application/json")
            self.finish(json_bytes(UNKNOWN_HOST_BODY))
