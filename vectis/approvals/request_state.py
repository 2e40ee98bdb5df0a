"""The `requestState` of a 2026-07-28 multi-round-trip call (MRTR), sealed.

The client echoes it back with the user's answer, so it is attacker-controlled: it is encrypted
and authenticated (AES-256-GCM, vectis.crypto) with the tenant as associated data, and its claims
bind it to the credential, the tool, the hash of the arguments, what was asked, and a short
expiry. A state that was altered, made for another tenant, credential, tool or arguments, or
that expired, is refused. Its nonce names the approval: the write it approves runs under an
idempotency key derived from it, so replaying one approved state writes once.
"""
from __future__ import annotations

import json
import secrets
import time

from .. import crypto

PURPOSE = "mcp-request-state"
LIFETIME_SECONDS = 600      # long enough to read a plan, short enough to go stale


class InvalidRequestState(Exception):
    """Refused; the reason is for the log, never for the caller."""


def seal(key: bytes, slug: str, *, credential_id: str, tool: str, args_hash: str, asks: str,
         now: float | None = None, lifetime: float = LIFETIME_SECONDS) -> tuple[str, str]:
    """(sealed state, its nonce)."""
    nonce = secrets.token_urlsafe(12)
    claims = {"v": 1, "cred": credential_id, "tool": tool, "args": args_hash, "asks": asks,
              "exp": int((now or time.time()) + lifetime), "n": nonce}
    return crypto.encrypt(key, slug, PURPOSE, json.dumps(claims, separators=(",", ":"))), nonce


def unseal(key: bytes, slug: str, state: object, *, credential_id: str, tool: str, args_hash: str,
           now: float | None = None) -> dict:
    """The claims of a state made for exactly this call, else InvalidRequestState."""
    if not isinstance(state, str) or len(state) > 4096:
        raise InvalidRequestState("not a string of a sane length")
    try:
        claims = json.loads(crypto.decrypt(key, slug, PURPOSE, state))
    except (crypto.DecryptionError, ValueError) as exc:
        raise InvalidRequestState(f"does not decrypt: {exc}") from None
    if not isinstance(claims, dict) or claims.get("v") != 1:
        raise InvalidRequestState("unknown claims")
    for name, expected in (("cred", credential_id), ("tool", tool), ("args", args_hash)):
        if claims.get(name) != expected:
            raise InvalidRequestState(f"made for another {name}")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < (now or time.time()):
        raise InvalidRequestState("expired")
    return claims
