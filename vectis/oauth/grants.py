"""The life of a grant: code issued at consent, redeemed once for tokens, refresh tokens rotated
on every use, and the whole family revoked when a used code or a rotated refresh token returns.

Refresh rotation grace (documented in docs/oauth.md): for GRACE after a rotation, presenting the
token that was just rotated returns the *same* new refresh token (kept encrypted only for that
window) with a fresh access token, so concurrent refreshes by one client all succeed and leave
exactly one live refresh token. After the window, or once the new token has been used, the old
one counts as reuse and revokes the grant.
"""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .. import crypto
from ..config import decode_key
from ..credentials.pats import hash_token
from ..ids import new_id
from ..scopes import effective_scopes
from ..tenancy import Tenant
from . import access_tokens
from .clients import OAuthClient
from .endpoint_base import OAuthError

CODE_LIFETIME = timedelta(seconds=60)
CODE_KEPT = timedelta(minutes=10)        # used codes are remembered this long to catch replays
REFRESH_LIFETIME = timedelta(days=30)    # sliding: every refresh extends it
GRACE = timedelta(seconds=30)
VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
PENDING_PURPOSE = "oauth-refresh-pending"


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_in: int
    scopes: tuple[str, ...]
    refresh_token: str | None

    def body(self) -> dict:
        out = {"access_token": self.access_token, "token_type": "Bearer",
               "expires_in": self.expires_in, "scope": " ".join(self.scopes)}
        if self.refresh_token:
            out["refresh_token"] = self.refresh_token
        return out


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def _invalid_grant(description: str = "The authorization grant is invalid, expired or revoked.") -> OAuthError:
    return OAuthError("invalid_grant", description)


class Grants:
    def __init__(self, services):
        self._services = services
        self._pepper = services.config.token_pepper
        self._key = decode_key(services.config.encryption_key)

    @property
    def _storage(self):
        return self._services.storage

    def _hash(self, kind: str, token: str) -> str:
        return hash_token(self._pepper, f"{kind}:{token}")

    async def issue_code(self, tenant: Tenant, *, client: OAuthClient, user: dict,
                         redirect_uri_param: str, code_challenge: str,
                         scopes: tuple[str, ...]) -> str:
        code = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        await self._storage.oauth_codes.insert(tenant.slug, {
            "_id": self._hash("code", code), "client_id": client.client_id,
            "redirect_uri": redirect_uri_param, "code_challenge": code_challenge,
            "resource": tenant.mcp_resource, "scopes": list(scopes), "user_id": user["_id"],
            "created_at": now, "expires_at": now + CODE_LIFETIME, "purge_at": now + CODE_KEPT,
            "consumed_at": None, "grant_id": None,
        })
        return code

    async def redeem_code(self, tenant: Tenant, client: OAuthClient, form: dict) -> TokenSet:
        code, verifier = form.get("code"), form.get("code_verifier")
        if not code:
            raise OAuthError("invalid_request", "code is required.")
        if not verifier:
            raise OAuthError("invalid_request", "code_verifier is required (PKCE S256).")
        if not VERIFIER_RE.match(verifier):
            raise OAuthError("invalid_request", "code_verifier must be 43-128 unreserved characters.")
        code_hash = self._hash("code", code[:512])
        now = datetime.now(UTC)
        grant_id = new_id("gra")
        used = await self._storage.oauth_codes.consume(
            tenant.slug, code_hash, client_id=client.client_id,
            redirect_uri=form.get("redirect_uri", ""), code_challenge=s256(verifier), now=now,
            grant_id=grant_id)
        if used is None:
            await self._explain_failed_redemption(tenant, client, code_hash, form, verifier)
        user = await self._storage.users.by_id(tenant.slug, used["user_id"])
        if user is None or user.get("disabled"):
            await self._storage.oauth_grants.revoke(tenant.slug, grant_id, "user disabled")
            raise _invalid_grant()
        scopes = tuple(s for s in used["scopes"] if s in effective_scopes(used["scopes"], user["role"]))
        refresh = secrets.token_urlsafe(32) if client.refreshes else None
        lifetime = REFRESH_LIFETIME if refresh else access_tokens.LIFETIME
        # The insert fails when a replay of this code, seen while we were here, already revoked
        # the grant (leaving a revoked placeholder under its id). This request won the code, so it is
        # answered with tokens, dead on arrival: exactly one redemption of a code gets a 200
        # whatever order the requests were seen in, and a replay always kills what it produced.
        await self._storage.oauth_grants.insert(tenant.slug, {
            "_id": grant_id, "client_id": client.client_id, "client_name": client.name,
            "client_host": client.host, "client_kind": client.kind, "user_id": user["_id"],
            "scopes": list(scopes), "resource": used["resource"], "created_at": now,
            "last_used_at": now, "revoked_at": None, "elevated_until": None,
            "expires_at": now + lifetime,
            "refresh": {"current": self._hash("refresh", refresh) if refresh else None,
                        "previous": None, "retired": [], "pending": None, "grace_until": None},
        })
        if client.kind == "registered":
            await self._storage.oauth_clients.mark_used(tenant.slug, client.client_id)
        access, expires_in = await access_tokens.mint(
            self._services.signing_keys, tenant, user_id=user["_id"], grant_id=grant_id,
            client_id=client.client_id, scopes=scopes)
        return TokenSet(access, expires_in, scopes, refresh)

    async def _explain_failed_redemption(self, tenant: Tenant, client: OAuthClient,
                                         code_hash: str, form: dict, verifier: str) -> None:
        """Always raises invalid_grant. A used code presented again with its full proof (same
        client, redirect URI and PKCE verifier) is a replay: the grant it produced is revoked.
        Without the verifier it proves nothing, so someone who merely saw the code cannot end
        the user's connection. Another client's code is answered as if it did not exist."""
        code = await self._storage.oauth_codes.get(tenant.slug, code_hash)
        if (code is not None and code["client_id"] == client.client_id and code.get("consumed_at")
                and code["redirect_uri"] == form.get("redirect_uri", "")
                and code["code_challenge"] == s256(verifier)):
            await self.revoke_grant(tenant, code["grant_id"], "authorization code replayed")
        raise _invalid_grant("The authorization code is invalid, expired or already used.")

    async def refresh(self, tenant: Tenant, client: OAuthClient, form: dict) -> TokenSet:
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is required.")
        if not client.refreshes:
            raise OAuthError("unauthorized_client", "This client did not register for refresh_token.")
        token_hash = self._hash("refresh", token[:512])
        now = datetime.now(UTC)
        grant = await self._storage.oauth_grants.by_refresh_hash(tenant.slug, token_hash)
        if grant is None or grant.get("client_id") != client.client_id:
            raise _invalid_grant()
        if grant.get("revoked_at") is not None or _aware(grant["expires_at"]) <= now:
            raise _invalid_grant()
        scopes = self._narrowed_scopes(grant, form.get("scope"))
        refresh = grant["refresh"]
        new_token = None
        if refresh["current"] == token_hash:
            new_token = secrets.token_urlsafe(32)
            rotated = await self._storage.oauth_grants.rotate(
                tenant.slug, grant["_id"], token_hash, self._hash("refresh", new_token),
                pending=crypto.encrypt(self._key, tenant.slug, PENDING_PURPOSE, new_token),
                grace_until=now + GRACE, expires_at=now + REFRESH_LIFETIME, now=now)
            if rotated is None:   # a concurrent request rotated it first
                grant = await self._storage.oauth_grants.get(tenant.slug, grant["_id"])
                refresh = grant["refresh"] if grant else {}
                new_token = None
        if new_token is None:
            new_token = self._within_grace(tenant, refresh, token_hash, now)
            if new_token is None:
                await self.revoke_grant(tenant, grant["_id"], "rotated refresh token reused")
                raise _invalid_grant()
        user = await self._storage.users.by_id(tenant.slug, grant["user_id"])
        if user is None or user.get("disabled"):
            raise _invalid_grant()
        scopes = tuple(s for s in scopes if s in effective_scopes(scopes, user["role"]))
        access, expires_in = await access_tokens.mint(
            self._services.signing_keys, tenant, user_id=user["_id"], grant_id=grant["_id"],
            client_id=client.client_id, scopes=scopes)
        return TokenSet(access, expires_in, scopes, new_token)

    def _within_grace(self, tenant: Tenant, refresh: dict, token_hash: str,
                      now: datetime) -> str | None:
        grace_until = refresh.get("grace_until")
        if (refresh.get("previous") == token_hash and refresh.get("pending")
                and grace_until is not None and now < _aware(grace_until)):
            return crypto.decrypt_text(self._key, tenant.slug, PENDING_PURPOSE, refresh["pending"])
        return None

    @staticmethod
    def _narrowed_scopes(grant: dict, requested: str | None) -> tuple[str, ...]:
        granted = tuple(grant["scopes"])
        if requested is None:
            return granted
        asked = tuple(dict.fromkeys(requested.split()))
        if not asked or not set(asked) <= set(granted):
            raise OAuthError("invalid_scope", "A refresh may only narrow the granted scopes.")
        return tuple(s for s in granted if s in asked)

    async def revoke_grant(self, tenant: Tenant, grant_id: str | None, reason: str) -> None:
        if not grant_id:
            return
        await self._storage.oauth_grants.revoke(tenant.slug, grant_id, reason)
        self._services.authenticator.forget_credential(tenant.slug, grant_id)

    async def grant_of_token(self, tenant: Tenant, client: OAuthClient, token: str) -> str | None:
        """The grant a refresh or access token of this client belongs to (for revocation)."""
        if access_tokens.looks_like_jwt(token):
            claims = await access_tokens.verify(self._services.signing_keys, tenant, token)
            if claims is not None and claims.client_id == client.client_id:
                return claims.grant_id
            return None
        grant = await self._storage.oauth_grants.by_refresh_hash(
            tenant.slug, self._hash("refresh", token[:512]))
        if grant is not None and grant.get("client_id") == client.client_id:
            return grant["_id"]
        return None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
