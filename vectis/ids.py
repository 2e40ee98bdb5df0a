"""Object ids: a type prefix and 16 lower-case base32 characters (80 random bits)."""
from __future__ import annotations

import base64
import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{base64.b32encode(secrets.token_bytes(10)).decode().lower()}"
