"""TOTP second factor: secrets (stored encrypted), codes, replay protection, recovery codes.

A TOTP code is accepted for the current 30-second step or one step either side (pyotp's
`valid_window=1`), and only when its step is strictly later than the last step accepted for the
user. That check-and-set is one conditional update, so two concurrent submissions of one code
cannot both succeed. Recovery codes are stored as SHA-256 hashes and each is consumed atomically.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from datetime import UTC, datetime

import pyotp
import segno

from ..crypto import DecryptionError, decrypt_text, encrypt
from ..storage import Storage

PURPOSE = "totp"
ISSUER = "Vectis"
RECOVERY_CODES = 10
STEP_SECONDS = 30
ATTEMPT_WINDOW = 15 * 60   # seconds; fixed windows, counted in the shared `ratelimits` collection
MAX_ATTEMPTS = 10          # code checks per user and window (a success gives its attempt back)


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"too many codes tried, try again in {retry_after} s")
        self.retry_after = retry_after


def new_secret() -> str:
    return pyotp.random_base32()


def encrypt_secret(key: bytes, slug: str, secret: str) -> str:
    return encrypt(key, slug, PURPOSE, secret)


def decrypt_secret(key: bytes, slug: str, token: str) -> str | None:
    try:
        return decrypt_text(key, slug, PURPOSE, token)
    except DecryptionError:
        return None


def provisioning_uri(secret: str, email: str, tenant_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=f"{ISSUER} {tenant_name}")


def qr_svg(uri: str) -> str:
    """Inline SVG made of attributes only (no style attribute or element: CSP style-src 'self')."""
    return segno.make(uri, error="m").svg_inline(scale=4, omitsize=False, title="TOTP QR code")


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step (current ±1) whose code equals `code`, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP_SECONDS)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    return [f"{c[:5]}-{c[5:]}" for c in (secrets.token_hex(5) for _ in range(RECOVERY_CODES))]


def recovery_hash(code: str) -> str:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalized.encode()).hexdigest()


def looks_like_recovery(code: str) -> bool:
    normalized = code.strip().lower().replace("-", "").replace(" ", "")
    return len(normalized) == 10 and all(c in "0123456789abcdef" for c in normalized)


def enrollment(key: bytes, slug: str, secret: str, step: int, codes: list[str]) -> dict:
    return {"secret_encrypted": encrypt_secret(key, slug, secret), "enrolled_at": datetime.now(UTC),
            "last_used_step": step, "recovery_hashes": [recovery_hash(c) for c in codes]}


async def verify(storage: Storage, key: bytes, slug: str, user: dict, code: str, *,
                 allow_recovery: bool = False) -> str | None:
    """Check and consume a code of an enrolled user: "totp", "recovery", or None (refused)."""
    mfa = user.get("mfa")
    if not mfa:
        return None
    # Counted before the check, like sign-in, so parallel guesses cannot exceed the limit.
    now = time.time()
    window = int(now // ATTEMPT_WINDOW)
    expires_at = datetime.fromtimestamp((window + 1) * ATTEMPT_WINDOW, UTC)
    counter = f"mfa:{user['_id']}:{window}"
    if await storage.counters.add(slug, counter, 1, expires_at) > MAX_ATTEMPTS:
        raise TooManyAttempts(max(1, math.ceil((window + 1) * ATTEMPT_WINDOW - now)))
    used = await _check(storage, key, slug, user, mfa, code, allow_recovery)
    if used is not None:
        await storage.counters.add(slug, counter, -1, expires_at)
    return used


async def _check(storage: Storage, key: bytes, slug: str, user: dict, mfa: dict, code: str,
                 allow_recovery: bool) -> str | None:
    secret = decrypt_secret(key, slug, mfa["secret_encrypted"])
    if secret is not None:
        step = matching_step(secret, code)
        if step is not None:
            return "totp" if await storage.users.use_totp_step(slug, user["_id"], step) else None
    if allow_recovery and looks_like_recovery(code):
        if await storage.users.use_recovery_hash(slug, user["_id"], recovery_hash(code)):
            return "recovery"
    return None
