"""Encryption of small stored secrets (TOTP secrets, signing keys) with the configured key.

AES-256-GCM with a random 96-bit nonce. The tenant slug and a purpose string are bound in as
associated data, so a ciphertext copied into another tenant or another field does not decrypt.
Stored form: URL-safe base64 of nonce || ciphertext+tag, prefixed with a version marker.
"""
from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1:"
NONCE_BYTES = 12


class DecryptionError(Exception):
    """The ciphertext is malformed, was made with another key, tenant or purpose, or was altered."""


def _aad(slug: str, purpose: str) -> bytes:
    if not slug or not purpose or "|" in slug or "|" in purpose:
        raise ValueError("slug and purpose must be non-empty and contain no '|'")
    return f"vectis|{slug}|{purpose}".encode()


def encrypt(key: bytes, slug: str, purpose: str, plaintext: str | bytes) -> str:
    if len(key) != 32:
        raise ValueError("the encryption key must be 32 bytes")
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, data, _aad(slug, purpose))
    return VERSION + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(key: bytes, slug: str, purpose: str, token: str) -> bytes:
    if len(key) != 32:
        raise ValueError("the encryption key must be 32 bytes")
    if not isinstance(token, str) or not token.startswith(VERSION):
        raise DecryptionError("unknown ciphertext format")
    try:
        raw = base64.urlsafe_b64decode(token[len(VERSION):].encode())
    except (ValueError, TypeError):
        raise DecryptionError("malformed ciphertext") from None
    if len(raw) < NONCE_BYTES + 16:
        raise DecryptionError("malformed ciphertext")
    try:
        return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(slug, purpose))
    except InvalidTag:
        raise DecryptionError("ciphertext does not decrypt with this key, tenant and purpose") from None


def decrypt_text(key: bytes, slug: str, purpose: str, token: str) -> str:
    return decrypt(key, slug, purpose, token).decode()
