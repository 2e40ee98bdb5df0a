"""Personal access tokens: `vct_pat_` + 43 base62 characters (about 256 bits).

Stored only as HMAC-SHA-256 under the server pepper: a token is high-entropy, so a fast keyed
hash is safe and keeps verification on the hot path cheap, unlike a password hash.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

PAT_PREFIX = "vct_pat_"
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 43
DISPLAY_PREFIX_LENGTH = 12
PAT_RE = re.compile(r"^vct_pat_[A-Za-z0-9]{40,64}$")


def generate_pat() -> str:
    return PAT_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))


def looks_like_pat(token: str) -> bool:
    return bool(PAT_RE.match(token))


def hash_token(pepper: str, token: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def display_prefix(token: str) -> str:
    return token[:DISPLAY_PREFIX_LENGTH]
