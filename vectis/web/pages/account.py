"""/account/mcp: the operator's personal access tokens (issue, list, revoke, elevate with TOTP)
and the apps connected through OAuth (their grants: list, revoke, elevate)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import tornado.web

from ...audit import audit_row
from ...config import decode_key
from ...credentials import mfa
from ...credentials.issue import MAX_LABEL_LENGTH, IssueError, issue_pat
from ...scopes import ALL_SCOPES, ROLE_SCOPES
from .base import PageHandler
from .signin import operator_actor
from .snippets import all_snippets

MAX_EXPIRES_DAYS = 365
ELEVATION = timedelta(minutes=15)
ENROLL_FIRST = "Set up two-factor authentication on /account/mfa before elevating a token."
NOTICES = {"revoked": "Access revoked.", "elevated": "Elevated for 15 minutes."}


def token_status(pat: dict, now: datetime) -> str:
    if pat.get("revoked_at") is not None:
        return "revoked"
    if pat.get("expires_at") is not None and pat["expires_at"] <= now:
        return "expired"
    return "active"


class AccountPage(PageHandler):
    requires_session = True

    def allowed_scopes(self) -> list[str]:
        role_scopes = ROLE_SCOPES.get(self.current_user["role"], frozenset())
        return [s for s in ALL_SCOPES if s in role_scopes]

    async def render_account(self, *, status: int = 200, error: str | None = None,
                             form: dict | None = None, selected: str | None = None) -> None:
        storage, slug, user_id = self.services.storage, self.tenant.slug, self.current_user["_id"]
        pats = await storage.pats.for_user(slug, user_id)
        grants = await storage.oauth_grants.for_user(slug, user_id)
        now = datetime.now(UTC)
        self.set_status(status)
        self.render("account_mcp.html", title="MCP access", error=error,
                    notice=NOTICES.get(self.get_query_argument("done", "")),
                    tokens=[(pat, token_status(pat, now)) for pat in pats],
                    grants=[g for g in grants if _aware(g["expires_at"]) > now],
                    scopes=self.allowed_scopes(), form=form or {"label": "", "scopes": [], "expires_days": ""},
                    max_label=MAX_LABEL_LENGTH, max_days=MAX_EXPIRES_DAYS,
                    cache_seconds=self.services.config.auth_cache_seconds,
                    mfa_enrolled=bool(self.current_user.get("mfa")),
                    selected=selected or self.get_query_argument("token", ""))

    async def owned_credential(self, credential_id: str) -> str:
        """'pat' or 'oauth' for a credential of the signed-in operator; 404 for anything else."""
        storage, slug, user_id = self.services.storage, self.tenant.slug, self.current_user["_id"]
        if credential_id.startswith("pat_"):
            if credential_id in {p["_id"] for p in await storage.pats.for_user(slug, user_id)}:
                return "pat"
        elif credential_id.startswith("gra_"):
            if credential_id in {g["_id"] for g in await storage.oauth_grants.for_user(slug, user_id)}:
                return "oauth"
        raise tornado.web.HTTPError(404)

    async def audit(self, action: str, target: dict, detail: dict, status: str = "success") -> None:
        user = self.current_user
        await self.services.audit.write(self.tenant.slug, audit_row(
            actor=operator_actor(user, user["email"]), action=action, status=status,
            kind="credential", target=target, detail=detail, request_id=self.request_id))


class AccountMcpHandler(AccountPage):
    async def get(self) -> None:
        await self.render_account()


class IssueTokenHandler(AccountPage):
    async def post(self) -> None:
        form = {"label": self.get_body_argument("label", ""),
                "scopes": self.get_body_arguments("scope"),
                "expires_days": self.get_body_argument("expires_days", "").strip()}
        try:
            days = int(form["expires_days"]) if form["expires_days"] else None
        except ValueError:
            await self.render_account(status=400, error="Expiry must be a whole number of days.", form=form)
            return
        try:
            token, pat = await issue_pat(
                self.services.storage, self.services.config.token_pepper, self.tenant.slug,
                self.current_user, label=form["label"], scopes=form["scopes"], expires_days=days,
                max_expires_days=MAX_EXPIRES_DAYS)
        except IssueError as exc:
            await self.render_account(status=400, error=str(exc).capitalize() + ".", form=form)
            return
        await self.audit("token.issued", {"kind": "pat", "id": pat["_id"]},
                         {"label": pat["label"], "scopes": pat["scopes"], "prefix": pat["prefix"],
                          "expires_at": pat["expires_at"]})
        # Rendered in this response, never after a redirect: a reload must not show it again.
        url = self.tenant.mcp_resource
        self.render("token_issued.html", title="Token created", token=token, pat=pat, mcp_url=url,
                    snippets=all_snippets(url, token))


class RevokeTokenHandler(AccountPage):
    async def post(self) -> None:
        credential_id = self.get_body_argument("token_id", "")
        kind = await self.owned_credential(credential_id)
        slug, storage = self.tenant.slug, self.services.storage
        if kind == "pat":
            revoked = bool(await storage.pats.revoke(slug, pat_id=credential_id))
        else:
            revoked = await storage.oauth_grants.revoke_for_user(slug, credential_id,
                                                                 self.current_user["_id"])
        self.services.authenticator.forget_credential(slug, credential_id)
        if revoked:
            await self.audit("token.revoked", {"kind": kind, "id": credential_id}, {})
        self.redirect("/account/mcp?done=revoked", status=303)


class ElevateTokenHandler(AccountPage):
    """A TOTP code elevates one of the operator's own live tokens for ELEVATION."""

    async def post(self) -> None:
        user, slug, storage = self.current_user, self.tenant.slug, self.services.storage
        pat_id = self.get_body_argument("token_id", "")
        kind = await self.owned_credential(pat_id)
        target = {"kind": kind, "id": pat_id}
        if not user.get("mfa"):
            await self.render_account(status=400, selected=pat_id, error=ENROLL_FIRST)
            return
        key = decode_key(self.services.config.encryption_key)
        try:
            used = await mfa.verify(storage, key, slug, user, self.get_body_argument("code", ""))
        except mfa.TooManyAttempts as exc:
            await self.audit("mfa.failed", target, {"stage": "elevate"}, status="throttled")
            self.set_header("Retry-After", str(exc.retry_after))
            await self.render_account(status=429, selected=pat_id,
                                      error=f"Too many attempts, try again in {exc.retry_after} s.")
            return
        if not used:
            await self.audit("mfa.failed", target, {"stage": "elevate"}, status="failure")
            await self.render_account(status=400, selected=pat_id, error="That code is not correct.")
            return
        until = datetime.now(UTC) + ELEVATION
        repository = storage.pats if kind == "pat" else storage.oauth_grants
        if not await repository.elevate(slug, pat_id, user["_id"], until):
            await self.render_account(status=400, selected=pat_id,
                                      error="This token is revoked or expired.")
            return
        self.services.authenticator.forget_credential(slug, pat_id)
        await self.audit("token.elevated", target, {"elevated_until": until})
        self.redirect("/account/mcp?" + urlencode({"done": "elevated", "token": pat_id}), status=303)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
