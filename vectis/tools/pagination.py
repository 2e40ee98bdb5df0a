"""Opaque, tenant-bound pagination cursors.

A cursor is the last row's sort key, signed with HMAC over (tenant, tool, filters): a cursor of one
tenant, tool or filter set is refused anywhere else, and it cannot be forged or edited.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime


class InvalidCursor(ValueError):
    pass


def _encode_value(v):
    if isinstance(v, datetime):
        return {"$d": v.isoformat()}
    return v


def _decode_value(v):
    if isinstance(v, dict) and set(v) == {"$d"}:
        return datetime.fromisoformat(v["$d"])
    return v


class CursorCodec:
    def __init__(self, secret: str):
        self._key = hashlib.sha256(b"vectis-cursor\x00" + secret.encode()).digest()

    def _sign(self, tenant: str, scope: str, payload: bytes) -> bytes:
        msg = tenant.encode() + b"\x00" + scope.encode() + b"\x00" + payload
        return hmac.new(self._key, msg, hashlib.sha256).digest()[:16]

    @staticmethod
    def scope(tool: str, filters: dict) -> str:
        canonical = json.dumps(filters, sort_keys=True, default=str, separators=(",", ":"))
        return tool + ":" + hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def encode(self, tenant: str, scope: str, key: list) -> str:
        payload = json.dumps([_encode_value(v) for v in key], separators=(",", ":")).encode()
        token = self._sign(tenant, scope, payload) + payload
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def decode(self, tenant: str, scope: str, cursor: str) -> list:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (ValueError, TypeError):
            raise InvalidCursor("cursor is not valid") from None
        signature, payload = raw[:16], raw[16:]
        if len(signature) < 16 or not hmac.compare_digest(signature, self._sign(tenant, scope, payload)):
            raise InvalidCursor("cursor is not valid for this query")
        try:
            key = json.loads(payload)
        except ValueError:
            raise InvalidCursor("cursor is not valid") from None
        if not isinstance(key, list):
            raise InvalidCursor("cursor is not valid")
        return [_decode_value(v) for v in key]
