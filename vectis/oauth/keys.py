"""Per-tenant token signing keys: ES256, private half stored encrypted (bound to the tenant),
selected by `kid`. Rotation makes a new key active at once; the previous keys keep verifying
the tokens they signed for OVERLAP (longer than an access token lives), then are deleted.

Keys are cached in memory, so verifying an access token costs no database round trip; a `kid`
this process has not seen (another process rotated) triggers one reload, at most every
RELOAD_INTERVAL per tenant, so a flood of made-up `kid`s cannot flood the database.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cachetools import TTLCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .. import crypto
from ..ids import new_id
from ..storage import Storage

ALGORITHM = "ES256"
PURPOSE = "oauth-signing-key"
OVERLAP = timedelta(hours=2)
CACHE_SECONDS = 300.0
RELOAD_INTERVAL = 5.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: ec.EllipticCurvePrivateKey | None   # None for retired keys: verify only
    public: ec.EllipticCurvePublicKey
    created_at: datetime


class SigningKeys:
    def __init__(self, storage: Storage, encryption_key: bytes):
        self._storage = storage
        self._encryption_key = encryption_key
        self._cache: TTLCache = TTLCache(maxsize=10_000, ttl=CACHE_SECONDS)
        self._reloaded_at: TTLCache = TTLCache(maxsize=10_000, ttl=RELOAD_INTERVAL)
        self._locks: dict[str, asyncio.Lock] = {}

    async def active(self, slug: str) -> SigningKey:
        keys = await self._keys(slug)
        live = [k for k in keys if k.private is not None]
        if not live:
            async with self._locks.setdefault(slug, asyncio.Lock()):
                keys = await self._load(slug)
                live = [k for k in keys if k.private is not None]
                if not live:
                    await self.rotate(slug)
                    live = [k for k in await self._load(slug) if k.private is not None]
        return live[0]

    async def public_key(self, slug: str, kid: str) -> ec.EllipticCurvePublicKey | None:
        for key in await self._keys(slug):
            if key.kid == kid:
                return key.public
        if slug in self._reloaded_at:
            return None
        self._reloaded_at[slug] = time.monotonic()
        for key in await self._load(slug):
            if key.kid == kid:
                return key.public
        return None

    async def rotate(self, slug: str) -> str:
        """Make a new key active; older keys verify for OVERLAP more, then are deleted."""
        now = datetime.now(UTC)
        private = ec.generate_private_key(ec.SECP256R1())
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        kid = new_id("key")
        await self._storage.signing_keys.insert(slug, {
            "_id": kid, "alg": ALGORITHM, "created_at": now, "retired_at": None,
            "public_pem": public_pem.decode(),
            "private_encrypted": crypto.encrypt(self._encryption_key, slug, PURPOSE, pem),
        })
        await self._storage.signing_keys.retire_others(slug, kid, now)
        await self._storage.signing_keys.delete_retired_before(slug, now - OVERLAP)
        self.forget(slug)
        return kid

    def forget(self, slug: str) -> None:
        self._cache.pop(slug, None)

    async def _keys(self, slug: str) -> list[SigningKey]:
        keys = self._cache.get(slug)
        return keys if keys is not None else await self._load(slug)

    async def _load(self, slug: str) -> list[SigningKey]:
        now = datetime.now(UTC)
        keys = []
        for doc in await self._storage.signing_keys.all(slug):
            retired = doc.get("retired_at")
            if retired is not None and retired < now - OVERLAP:
                continue
            public = serialization.load_pem_public_key(doc["public_pem"].encode())
            private = None
            if retired is None:
                pem = crypto.decrypt(self._encryption_key, slug, PURPOSE, doc["private_encrypted"])
                private = serialization.load_pem_private_key(pem, password=None)
            keys.append(SigningKey(kid=doc["_id"], private=private, public=public,
                                   created_at=doc["created_at"]))
        self._cache[slug] = keys
        return keys
