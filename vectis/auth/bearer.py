"""Bearer authentication for the MCP endpoint: token from the Authorization header only.

Two kinds of bearer are accepted: personal access tokens (`vct_pat_…`, looked up by keyed hash)
and OAuth access tokens (JWTs of this tenant, whose grant must still be live). Verification is cached in memory per (tenant, token hash) for `auth_cache_seconds`, so a hot
token costs one HMAC and a dictionary lookup: no database round trip and no slow hash; when it
expires, the requests in flight for it share one lookup. Revoking in this process calls
`forget()` and takes effect at once (a lookup that overlapped it is not cached); other processes
see it within the bound.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from datetime import UTC, datetime

from cachetools import TTLCache

from ..credentials.pats import hash_token, looks_like_pat
from ..customer_scope import narrow
from ..oauth import access_tokens
from ..oauth.keys import SigningKeys
from ..scopes import effective_scopes
from ..singleflight import SingleFlight
from ..storage import Storage
from ..tenancy import Tenant
from .principal import Principal

log = logging.getLogger("vectis.auth")
CACHE_SIZE = 50_000
LAST_USED_INTERVAL = 60.0  # seconds between last_used_at writes for one credential
MAX_CLIENT = 200           # characters of a User-Agent kept as a token's last client


class NoCredential(Exception):
    """No bearer token was presented (no header, or another scheme)."""


class InvalidCredential(Exception):
    """A bearer token was presented but is unknown, revoked, expired or of a disabled user."""


def bearer_token(header: str | None) -> str:
    if not header:
        raise NoCredential()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise NoCredential()
    token = token.strip()
    if not token or " " in token or len(token) > 4096:
        raise InvalidCredential()
    return token


class BearerAuthenticator:
    def __init__(self, storage: Storage, pepper: str, cache_seconds: float, keys: SigningKeys):
        self._storage = storage
        self._keys = keys
        self._pepper = pepper
        self._cache: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=cache_seconds)
        # Refusals apart, so a flood of made-up tokens can only evict other made-up tokens,
        # never the verified ones (which would send every real caller back to the database).
        self._unknown: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=cache_seconds)
        self._last_used: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=LAST_USED_INTERVAL)
        self._tasks: set[asyncio.Task] = set()
        self._loads = SingleFlight()
        self._forgets = 0   # a load that overlapped a forget() is used, never cached

    async def authenticate(self, tenant: Tenant, header: str | None,
                           client: str | None = None) -> Principal:
        """`client`: the caller's User-Agent, recorded with a token's last use (the token page
        shows which program used it)."""
        token = bearer_token(header)
        if looks_like_pat(token):
            key = (tenant.slug, hash_token(self._pepper, token))
        elif access_tokens.looks_like_jwt(token):
            key = (tenant.slug, "jwt:" + hashlib.sha256(token.encode()).hexdigest())
        else:
            raise InvalidCredential()
        if key in self._unknown:
            raise InvalidCredential()
        try:
            principal = self._cache[key]
        except KeyError:
            forgets = self._forgets
            if key[1].startswith("jwt:"):
                principal = await self._loads.run(key, lambda: self._load_access_token(tenant, token))
            else:
                principal = await self._loads.run(key, lambda: self._load_pat(tenant.slug, key[1]))
            if forgets == self._forgets:
                (self._cache if principal is not None else self._unknown)[key] = principal
        if principal is None or not principal.live():
            raise InvalidCredential()
        self._touch(principal, client)
        return principal

    async def _load_pat(self, tenant: str, token_hash: str) -> Principal | None:
        pat = await self._storage.pats.by_hash(tenant, token_hash)
        if pat is None or pat.get("revoked_at") is not None:
            return None
        user = await self._storage.users.by_id(tenant, pat["user_id"])
        if user is None or user.get("disabled"):
            return None
        return Principal(
            tenant=tenant, kind="pat", credential_id=pat["_id"], user_id=user["_id"],
            email=user["email"], name=user.get("name", ""), role=user["role"],
            scopes=effective_scopes(pat["scopes"], user["role"]), expires_at=pat.get("expires_at"),
            elevated_until=pat.get("elevated_until"),
            customers=narrow(user.get("customers"), pat.get("customers")),
            approval_policy=pat.get("approval_policy"),
        )

    async def _load_access_token(self, tenant: Tenant, token: str) -> Principal | None:
        claims = await access_tokens.verify(self._keys, tenant, token)
        if claims is None:
            return None
        grant = await self._storage.oauth_grants.get(tenant.slug, claims.grant_id)
        if (grant is None or grant.get("revoked_at") is not None or grant.get("placeholder")
                or grant.get("user_id") != claims.subject or grant.get("client_id") != claims.client_id):
            return None
        user = await self._storage.users.by_id(tenant.slug, claims.subject)
        if user is None or user.get("disabled"):
            return None
        scopes = set(claims.scopes) & set(grant["scopes"])
        return Principal(
            tenant=tenant.slug, kind="oauth", credential_id=grant["_id"], user_id=user["_id"],
            email=user["email"], name=user.get("name", ""), role=user["role"],
            scopes=effective_scopes(scopes, user["role"]), expires_at=claims.expires_at,
            elevated_until=grant.get("elevated_until"), client_id=claims.client_id,
            customers=narrow(user.get("customers"), grant.get("customers")),
        )

    def forget(self, tenant: str, token_hash: str | None = None) -> None:
        """Drop cached verifications: one token, or every token of a tenant."""
        self._forgets += 1
        self._loads.forget(lambda key: key[0] == tenant)
        for cache in (self._cache, self._unknown):
            for key in list(cache.keys()):
                if key[0] == tenant and (token_hash is None or key[1] == token_hash):
                    cache.pop(key, None)

    def forget_credential(self, tenant: str, credential_id: str) -> None:
        self._forgets += 1
        self._loads.forget(lambda key: key[0] == tenant)
        for key, principal in list(self._cache.items()):
            if key[0] == tenant and principal is not None and principal.credential_id == credential_id:
                self._cache.pop(key, None)

    def _touch(self, principal: Principal, client: str | None = None) -> None:
        """Record last use at most once a minute per credential, off the request path."""
        key = (principal.tenant, principal.credential_id)
        if key in self._last_used:
            return
        self._last_used[key] = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._write_last_used(principal, client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_last_used(self, principal: Principal, client: str | None = None) -> None:
        try:
            now = datetime.now(UTC)
            if principal.kind == "pat":
                # An OAuth grant already names its app; a PAT says nothing of who holds it.
                client = "".join(c for c in (client or "") if c.isprintable()).strip()[:MAX_CLIENT]
                await self._storage.pats.touch(principal.tenant, principal.credential_id, now,
                                               client=client or None)
            else:
                await self._storage.oauth_grants.touch(principal.tenant, principal.credential_id, now)
        except Exception:  # a missed last-used stamp must never fail or slow a call
            log.warning("could not record last use of %s", principal.credential_id, exc_info=True)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
