"""/account/mfa: TOTP enrollment (QR code, confirmation, recovery codes) and disabling."""
from __future__ import annotations

import asyncio

from ...audit import audit_row
from ...config import decode_key
from ...credentials import mfa
from ...credentials.passwords import MAX_LENGTH, verify_password
from .base import PageHandler
from .signin import operator_actor

NOTICES = {"disabled": "Two-factor authentication is off."}


class MfaPage(PageHandler):
    requires_session = True

    @property
    def key(self) -> bytes:
        return decode_key(self.services.config.encryption_key)

    async def audit(self, action: str, status: str = "success", *, kind: str = "auth",
                    target: dict | None = None, detail: dict | None = None) -> None:
        user = self.current_user
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor=operator_actor(user, user["email"]), action=action, status=status, kind=kind,
            target=target, detail=detail, request_id=self.request_id))

    async def pending_secret(self, create: bool) -> str | None:
        """The secret of the enrollment started in this session (made on first view)."""
        slug, stored = self.tenant.slug, (self.session or {}).get("pending_mfa")
        secret = mfa.decrypt_secret(self.key, slug, stored) if stored else None
        if secret is None and create:
            secret = mfa.new_secret()
            await self.services.storage.sessions.set_pending_mfa(
                slug, self.session_id, mfa.encrypt_secret(self.key, slug, secret))
        return secret

    async def render_mfa(self, *, status: int = 200, error: str | None = None) -> None:
        user = self.current_user
        self.set_status(status)
        if user.get("mfa"):
            self.render("account_mfa.html", title="Two-factor authentication", enrolled=True,
                        error=error, notice=None, enrolled_at=user["mfa"].get("enrolled_at"),
                        recovery_left=len(user["mfa"].get("recovery_hashes") or []))
            return
        secret = await self.pending_secret(create=True)
        uri = mfa.provisioning_uri(secret, user["email"], self.tenant.name)
        self.render("account_mfa.html", title="Two-factor authentication", enrolled=False,
                    error=error, notice=NOTICES.get(self.get_query_argument("done", "")),
                    secret=secret, uri=uri, qr_svg=mfa.qr_svg(uri))


class AccountMfaHandler(MfaPage):
    async def get(self) -> None:
        await self.render_mfa()


class ConfirmMfaHandler(MfaPage):
    async def post(self) -> None:
        user, slug = self.current_user, self.tenant.slug
        if user.get("mfa"):
            self.redirect("/account/mfa", status=303)
            return
        secret = await self.pending_secret(create=False)
        code = self.get_body_argument("code", "")
        step = mfa.matching_step(secret, code) if secret else None
        if step is None:
            await self.audit("mfa.failed", "failure", detail={"stage": "enroll"})
            await self.render_mfa(status=400, error="That code is not correct. Try the current code.")
            return
        codes = mfa.new_recovery_codes()
        if not await self.services.storage.users.set_mfa(
                slug, user["_id"], mfa.enrollment(self.key, slug, secret, step, codes)):
            self.redirect("/account/mfa", status=303)   # enrolled meanwhile by another request
            return
        await self.services.storage.sessions.set_pending_mfa(slug, self.session_id, None)
        await self.audit("mfa.enrolled")
        # Rendered in this response only (Cache-Control: no-store): a reload never shows them.
        self.render("mfa_recovery.html", title="Recovery codes", codes=codes)


class DisableMfaHandler(MfaPage):
    async def post(self) -> None:
        user, slug = self.current_user, self.tenant.slug
        if not user.get("mfa"):
            self.redirect("/account/mfa", status=303)
            return
        password = self.get_body_argument("password", "")
        code = self.get_body_argument("code", "")
        password_ok = len(password) <= MAX_LENGTH and await asyncio.to_thread(
            verify_password, user["password_hash"], password)
        try:
            used = password_ok and await mfa.verify(self.services.storage, self.key, slug, user, code,
                                                    allow_recovery=True)
        except mfa.TooManyAttempts as exc:
            await self.audit("mfa.failed", "throttled", detail={"stage": "disable"})
            self.set_header("Retry-After", str(exc.retry_after))
            await self.render_mfa(status=429, error=f"Too many attempts, try again in {exc.retry_after} s.")
            return
        if not used:
            await self.audit("mfa.failed", "failure", detail={"stage": "disable"})
            await self.render_mfa(status=400, error="The password or the code is not correct.")
            return
        await self.services.storage.users.clear_mfa(slug, user["_id"])
        self.current_user = {**user, "mfa": None}
        await self.audit("mfa.disabled", detail={"with": used})
        self.redirect("/account/mfa?done=disabled", status=303)

