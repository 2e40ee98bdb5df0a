"""OAuth clients registered through dynamic client registration, and the tenant's token signing
keys. Client secrets are stored only as keyed hashes; signing keys only encrypted."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo.errors import DuplicateKeyError

from .core import Database

# A registered client that never completes an authorization is forgotten after this long, so
# abandoned registrations cannot grow storage without bound; the first grant clears the expiry.
UNUSED_CLIENT_LIFETIME = timedelta(days=1)


class OAuthClientRepository:
    def __init__(self, db: Database):
        self._db = db

    def _clients(self, slug: str):
        return self._db.tenant(slug)["oauth_clients"]

    async def register(self, slug: str, doc: dict) -> tuple[dict, bool]:
        """Insert a client. A public client whose normalized metadata matches an existing one
        gets that client back instead (returns (doc, False)), so identical re-registrations
        do not pile up."""
        now = datetime.now(UTC)
        doc = {**doc, "created_at": now, "last_used_at": None,
               "expires_at": now + UNUSED_CLIENT_LIFETIME}
        if doc.get("metadata_hash"):
            existing = await self._clients(slug).find_one({"metadata_hash": doc["metadata_hash"]})
            if existing is not None:
                return existing, False
        try:
            await self._clients(slug).insert_one(doc)
        except DuplicateKeyError:
            existing = await self._clients(slug).find_one({"metadata_hash": doc["metadata_hash"]})
            if existing is None:
                raise
            return existing, False
        return doc, True

    async def get(self, slug: str, client_id: str) -> dict | None:
        return await self._clients(slug).find_one({"_id": client_id})

    async def mark_used(self, slug: str, client_id: str) -> None:
        await self._clients(slug).update_one(
            {"_id": client_id}, {"$set": {"last_used_at": datetime.now(UTC), "expires_at": None}})


class SigningKeyRepository:
    def __init__(self, db: Database):
        self._db = db

    def _keys(self, slug: str):
        return self._db.tenant(slug)["oauth_keys"]

    async def all(self, slug: str) -> list[dict]:
        return await self._keys(slug).find({}).sort("created_at", -1).to_list()

    async def insert(self, slug: str, doc: dict) -> None:
        await self._keys(slug).insert_one(doc)

    async def retire_others(self, slug: str, keep_kid: str, when: datetime) -> None:
        # A retired key only verifies: its private half is not kept.
        await self._keys(slug).update_many({"_id": {"$ne": keep_kid}, "retired_at": None},
                                           {"$set": {"retired_at": when, "private_encrypted": None}})

    async def delete_retired_before(self, slug: str, when: datetime) -> int:
        result = await self._keys(slug).delete_many({"retired_at": {"$ne": None, "$lt": when}})
        return result.deleted_count
