"""/account/mcp: the operator's personal access tokens (issue, list, revoke, elevate with TOTP)
and the apps connected through OAuth (their grants: list, revoke, elevate)."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import tornado.web

from ...approvals.policy import (
    IN_WORDS,
    POLICIES,
    effective_policy,
    stricter_than,
    tenant_policy,
)
from ...audit import audit_row
from ...config import decode_key
from ...credentials import mfa
from ...credentials.issue import MAX_LABEL_LENGTH, IssueError, issue_pat
from ...customer_scope import CustomerScopeError, narrow, parse_customer_ids
from ...scopes import ALL_SCOPES, READ_SCOPES, ROLE_SCOPES, SCOPE_DESCRIPTIONS
from .base import PageHandler
from .scope_words import names_for, scope_view
from .signin import operator_actor
from .snippets import all_snippets

MAX_EXPIRES_DAYS = 365
ELEVATION = timedelta(minutes=15)
ENROLL_FIRST = "Set up two-factor authentication on /account/mfa before elevating a token."
NOTICES = {"revoked": "Access revoked.", "elevated": "Elevated for 15 minutes."}
# The picker lists this many customers at most (by name); a larger tenant finds the rest by name
# on the server. Two thousand labelled checkboxes are about 300 kB of HTML.
PICKER_LIMIT = 2000
MAX_FIND = 100
BOTH_CHOSEN = ("You ticked customers but chose \u201cAll customers\u201d. Choose \u201cOnly these "
               "customers\u201d to limit the token to them, or untick them.")
NONE_TICKED = "Tick at least one customer, or choose \u201cAll customers\u201d."
# The scope presets of the form. The server decides by the preset, so the page needs no script:
# only "custom" reads the boxes. A POST without a preset (scripts, older pages) is custom.
PRESETS = {"read": READ_SCOPES, "write": ALL_SCOPES, "custom": None}
ACTIVITY_DAYS = 7
# What each stricter choice adds, next to its words on the form.
APPROVAL_DETAILS = {"customer_visible": "create_ticket, reply_to_ticket, close_ticket and resolve_alert",
                    "all": "every vendor write, internal notes and alert acknowledgements too"}
LOOSER = ("A token can ask for more approval than this tenant's policy ({tenant}), never less: "
          "choose the tenant's policy or a stricter one.")


def approval_words(settings: dict | None, token_policy: str | None) -> tuple[str, str]:
    """A token's effective approval in words, and whose it is: the tenant's, or the token's own
    stricter one."""
    policy = effective_policy(settings, token_policy)
    own = token_policy in POLICIES and POLICIES.index(token_policy) > POLICIES.index(tenant_policy(settings))
    return IN_WORDS[policy][:1].upper() + IN_WORDS[policy][1:], "this token" if own else "the tenant's policy"


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

    async def picker(self, find: str, chosen: list[str]) -> tuple[list[tuple[str, str]], bool]:
        """The customers a new token may be limited to, (id, name) by name, and whether that is
        all of them. Only the operator's own customers when they are restricted."""
        storage, slug, limit = self.services.storage, self.tenant.slug, self.customer_limit
        if limit is not None:
            names = await storage.customers.names(slug, sorted(limit))
            rows = [(c, n) for c, n in names.items() if find.casefold() in n.casefold()]
            complete = True
        else:
            docs, more = await storage.customers.page(slug, name=find or None, status=None,
                                                      limit=PICKER_LIMIT, after=None)
            rows, complete = [(d["_id"], d.get("name", "")) for d in docs], more is None
        # Ticked customers stay in the list when a form comes back with an error.
        missing = [c for c in chosen if c not in {r[0] for r in rows}]
        if missing:
            extra = await storage.customers.names(slug, missing)
            rows += [(c, n) for c, n in extra.items() if limit is None or c in limit]
        # Ticked ones first: in a list of hundreds they would otherwise be out of sight.
        ticked = set(chosen)
        return sorted(rows, key=lambda r: (r[0] not in ticked, r[1].casefold(), r[0])), complete

    async def render_account(self, *, status: int = 200, error: str | None = None,
                             error_field: str | None = None, form: dict | None = None,
                             selected: str | None = None) -> None:
        storage, slug, user_id = self.services.storage, self.tenant.slug, self.current_user["_id"]
        pats = await storage.pats.for_user(slug, user_id)
        grants = await storage.oauth_grants.for_user(slug, user_id)
        now = datetime.now(UTC)
        form = form or {"label": "", "preset": "read", "scopes": list(READ_SCOPES),
                        "expires_days": "", "customer_mode": "all", "customers": [], "approval": ""}
        find = self.get_query_argument("find", "").strip()[:MAX_FIND]
        picker, complete = await self.picker(find, form["customers"])
        limit = self.customer_limit
        # A credential sees its user's customers narrowed by its own limit (auth.bearer).
        effective = {c["_id"]: narrow(limit, c.get("customers")) for c in [*pats, *grants]}
        names = await names_for(storage, slug, limit, *effective.values())
        # One count per credential, each a range of the audit log's `actor` index, in parallel.
        since = now - timedelta(days=ACTIVITY_DAYS)
        credentials = [c["_id"] for c in [*pats, *grants]]
        counts = await asyncio.gather(*(storage.audit.count_for_credential(slug, c, since)
                                        for c in credentials))
        settings = self.tenant.settings
        self.set_status(status)
        self.render("account_mcp.html", title="MCP access", error=error, error_field=error_field,
                    notice=NOTICES.get(self.get_query_argument("done", "")),
                    tokens=[(pat, token_status(pat, now)) for pat in pats],
                    grants=[g for g in grants if _aware(g["expires_at"]) > now],
                    scopes=self.allowed_scopes(), form=form,
                    max_label=MAX_LABEL_LENGTH, max_days=MAX_EXPIRES_DAYS,
                    cache_seconds=self.services.config.auth_cache_seconds,
                    mfa_enrolled=bool(self.current_user.get("mfa")),
                    selected=selected or self.get_query_argument("token", ""),
                    limit=scope_view(limit, names), picker=picker, picker_complete=complete,
                    picker_limit=PICKER_LIMIT, find=find,
                    reach={cid: scope_view(scope, names) for cid, scope in effective.items()},
                    descriptions=SCOPE_DESCRIPTIONS, calls=dict(zip(credentials, counts, strict=True)),
                    activity_days=ACTIVITY_DAYS, tenant_policy=tenant_policy(settings),
                    stricter=stricter_than(tenant_policy(settings)), policy_words=IN_WORDS,
                    approval_details=APPROVAL_DETAILS,
                    approval={p["_id"]: approval_words(settings, p.get("approval_policy")) for p in pats},
                    write_preset=any(s not in READ_SCOPES for s in self.allowed_scopes()))

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
                "preset": self.get_body_argument("preset", "custom"),
                "scopes": self.get_body_arguments("scope"),
                "expires_days": self.get_body_argument("expires_days", "").strip(),
                "customer_mode": self.get_body_argument("customer_mode", "all"),
                "customers": self.get_body_arguments("customer")[:500],
                "approval": self.get_body_argument("approval", "")}
        if form["preset"] not in PRESETS:
            await self.render_account(status=400, error="Choose read-only, read and write, or custom scopes.",
                                      form=form)
            return
        # A preset names its scopes itself; the boxes (visible without the script) count only
        # for "custom". "write" asks for every scope: issue_pat refuses it to a read-only role.
        scopes = list(PRESETS[form["preset"]] or form["scopes"])
        try:
            days = int(form["expires_days"]) if form["expires_days"] else None
        except ValueError:
            await self.render_account(status=400, error="Expiry must be a whole number of days.", form=form)
            return
        try:
            customers = self.chosen_customers(form, self.customer_limit)
        except CustomerScopeError as exc:
            await self.render_account(status=400, error=str(exc), error_field="customers", form=form)
            return
        # "" is the tenant's policy (stored as None, so the token follows later changes of it).
        # The tenant's own policy is accepted too: a form posted just before an admin made the
        # tenant stricter still asks for no less than the tenant.
        base = tenant_policy(self.tenant.settings)
        if form["approval"] and (form["approval"] not in POLICIES
                                 or POLICIES.index(form["approval"]) < POLICIES.index(base)):
            await self.render_account(status=400, error=LOOSER.format(tenant=IN_WORDS[base]),
                                      error_field="approval", form=form)
            return
        try:
            # issue_pat refuses customers outside the operator's own limit, and unknown ones.
            token, pat = await issue_pat(
                self.services.storage, self.services.config.token_pepper, self.tenant.slug,
                self.current_user, label=form["label"], scopes=scopes, expires_days=days,
                max_expires_days=MAX_EXPIRES_DAYS, customers=customers,
                approval_policy=form["approval"] or None)
        except IssueError as exc:
            await self.render_account(status=400, error=str(exc)[:1].upper() + str(exc)[1:] + ".",
                                      error_field=exc.field, form=form)
            return
        await self.audit("token.issued", {"kind": "pat", "id": pat["_id"]},
                         {"label": pat["label"], "scopes": pat["scopes"], "prefix": pat["prefix"],
                          "expires_at": pat["expires_at"], "customers": pat.get("customers"),
                          "approval_policy": pat.get("approval_policy")})
        scope = narrow(self.customer_limit, pat.get("customers"))
        names = await names_for(self.services.storage, self.tenant.slug, scope)
        # Rendered in this response, never after a redirect: a reload must not show it again.
        url = self.tenant.mcp_resource
        self.render("token_issued.html", title="Token created", token=token, pat=pat, mcp_url=url,
                    snippets=all_snippets(url, token), reach=scope_view(scope, names),
                    follows_user=pat.get("customers") is None and self.customer_limit is not None,
                    approval=approval_words(self.tenant.settings, pat.get("approval_policy")))

    @staticmethod
    def chosen_customers(form: dict, limit: frozenset[str] | None) -> frozenset[str] | None:
        """None for "All customers" (the operator's own limit), else the ticked ones. issue_pat
        checks them again, with the tenant's customers; this says it in the operator's terms."""
        if form["customer_mode"] not in ("all", "only"):
            raise CustomerScopeError("Choose \u201cAll customers\u201d or \u201cOnly these customers\u201d.")
        if form["customer_mode"] == "all":
            # Ticked boxes under "All customers" are a contradiction, not something to guess at.
            if form["customers"]:
                raise CustomerScopeError(BOTH_CHOSEN)
            return None
        if not form["customers"]:
            raise CustomerScopeError(NONE_TICKED)
        try:
            chosen = parse_customer_ids(form["customers"])
        except CustomerScopeError as exc:
            raise CustomerScopeError(str(exc)[:1].upper() + str(exc)[1:] + ".") from None
        # Checked before existence, so a restricted operator learns nothing about other customers.
        outside = sorted(chosen - limit) if limit is not None else []
        if outside:
            raise CustomerScopeError(
                f"Not among the customers your account is limited to: {', '.join(outside[:5])}. "
                "A token can be limited to fewer customers than your account, never more.")
        return chosen


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
