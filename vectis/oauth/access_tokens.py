"""Access tokens: JWTs (RFC 9068 profile) signed with the tenant's key.

`aud` is the tenant's MCP resource URI and `iss` its origin, so a token minted for one tenant
fails verification at every other tenant three times over: unknown `kid`, wrong issuer, wrong
audience.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from ..tenancy import Tenant
from .keys import ALGORITHM, SigningKeys

LIFETIME = timedelta(hours=1)
TOKEN_TYPE = "at+jwt"
LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class AccessClaims:
    subject: str        # user id
    grant_id: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: datetime
    jti: str


async def mint(keys: SigningKeys, tenant: Tenant, *, user_id: str, grant_id: str, client_id: str,
               scopes: tuple[str, ...], lifetime: timedelta = LIFETIME) -> tuple[str, int]:
    """(token, lifetime in seconds)."""
    key = await keys.active(tenant.slug)
    now = datetime.now(UTC).replace(microsecond=0)
    claims = {"iss": tenant.origin, "aud": tenant.mcp_resource, "sub": user_id,
              "client_id": client_id, "gid": grant_id, "scope": " ".join(scopes),
              "jti": secrets.token_urlsafe(16), "iat": now, "nbf": now, "exp": now + lifetime}
    token = jwt.encode(claims, key.private, algorithm=ALGORITHM,
                       headers={"kid": key.kid, "typ": TOKEN_TYPE})
    return token, int(lifetime.total_seconds())


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


async def verify(keys: SigningKeys, tenant: Tenant, token: str) -> AccessClaims | None:
    """The claims of a valid token of this tenant; None for anything else."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        return None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str):
        return None
    public = await keys.public_key(tenant.slug, kid)
    if public is None:
        return None
    try:
        claims = jwt.decode(token, public, algorithms=[ALGORITHM], audience=tenant.mcp_resource,
                            issuer=tenant.origin, leeway=LEEWAY_SECONDS,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})
    except jwt.PyJWTError:
        return None
    fields = (claims.get("sub"), claims.get("gid"), claims.get("client_id"), claims.get("scope"))
    if not all(isinstance(f, str) for f in fields):
        return None
    return AccessClaims(subject=claims["sub"], grant_id=claims["gid"], client_id=claims["client_id"],
                        scopes=tuple(claims["scope"].split()), jti=claims["jti"],
                        expires_at=datetime.fromtimestamp(claims["exp"], UTC))
