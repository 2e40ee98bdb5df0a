"""Sign-in and sign-out."""
from __future__ import annotations

import asyncio
import functools
import secrets
from urllib.parse import urlsplit

from ...audit import audit_row
from ...credentials.passwords import MAX_LENGTH, hash_password, verify_password
from . import throttle
from .base import PageHandler

DEFAULT_NEXT = "/account/mcp"
FAILURE_MESSAGE = "The e-mail address or password is not correct."


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in; anything that could leave the site is dropped."""
    # Long enough for an OAuth authorization request (state, client_id and redirect URI may each
    # be up to 2000 characters), which sign-in must return to.
    if not value or len(value) > 8192 or not value.startswith("/") or value.startswith("//"):
        return DEFAULT_NEXT
    if "\\" in value or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value):
        return DEFAULT_NEXT
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else DEFAULT_NEXT


@functools.cache
def _dummy_hash() -> str:
    # Verified against for unknown e-mails, so they cost the same Argon2 time as known ones.
    return hash_password(secrets.token_urlsafe(24))


def operator_actor(user: dict | None, email: str) -> dict:
    return {"kind": "operator", "user_id": user["_id"] if user else None,
            "email": user["email"] if user else email[:254]}


class SigninHandler(PageHandler):
    def get(self) -> None:
        next_path = safe_next(self.get_query_argument("next", None))
        if self.current_user is not None:
            self.redirect(next_path, status=303)
            return
        self.render("signin.html", title="Sign in", error=None, email="", next_path=next_path)

    async def post(self) -> None:
        email = self.get_body_argument("email", "").strip()[:254]
        password = self.get_body_argument("password", "")
        next_path = safe_next(self.get_body_argument("next", None))
        storage, slug = self.services.storage, self.tenant.slug

        attempt = await throttle.begin(storage, slug, email, self.request.remote_ip or "")
        if attempt.retry_after is not None:
            await self._audit(None, email, "throttled")
            self.set_header("Retry-After", str(attempt.retry_after))
            self.set_status(429)
            self.render("signin.html", title="Sign in", email=email, next_path=next_path,
                        error=f"Too many attempts, try again in {attempt.retry_after} s.")
            return

        user = await storage.users.by_email(slug, email) if email else None
        candidate = user["password_hash"] if user else _dummy_hash()
        verified = len(password) <= MAX_LENGTH and await asyncio.to_thread(
            verify_password, candidate, password)
        if user is None or not verified or user.get("disabled"):
            await self._audit(user, email, "failure")
            self.set_status(401)
            self.render("signin.html", title="Sign in", email=email, next_path=next_path,
                        error=FAILURE_MESSAGE)
            return

        await throttle.succeeded(storage, slug, attempt)
        await self.start_session(user)
        await self._audit(user, email, "success")
        self.redirect(next_path, status=303)

    async def _audit(self, user: dict | None, email: str, status: str) -> None:
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor=operator_actor(user, email), action="signin", status=status, kind="auth",
            request_id=self.request_id))


class SignoutHandler(PageHandler):
    async def post(self) -> None:
        await self.end_session()
        self.redirect("/signin", status=303)
