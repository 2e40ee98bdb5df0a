"""Connected PSA / RMM / backup tools of a tenant. Vendor credentials are stored only encrypted
(`vectis.vendors.connections`); they never leave this repository in list views."""
from __future__ import annotations

from datetime import UTC, datetime

from .core import Database

PUBLIC_PROJECTION = {"credentials_encrypted": 0}


class SourceRepository:
    def __init__(self, db: Database):
        self._db = db

    def _sources(self, slug: str):
        return self._db.tenant(slug)["sources"]

    async def get(self, slug: str, source_id: str, *, with_credentials: bool = False) -> dict | None:
        projection = None if with_credentials else PUBLIC_PROJECTION
        return await self._sources(slug).find_one({"_id": source_id}, projection)

    async def list(self, slug: str) -> list[dict]:
        return await self._sources(slug).find({}, PUBLIC_PROJECTION).sort("_id", 1).to_list()

    async def connected_vendors(self, slug: str) -> frozenset[str]:
        """Vendors with a source that is connected and has credentials: what tools/list shows."""
        docs = await self._sources(slug).find(
            {"status": "connected", "credentials_encrypted": {"$type": "string"},
             "base_url": {"$type": "string"}}, {"vendor": 1}).to_list()
        return frozenset(d["vendor"] for d in docs)

    async def set_connection(self, slug: str, source_id: str, *, base_url: str,
                             credentials_encrypted: str) -> bool:
        result = await self._sources(slug).update_one(
            {"_id": source_id},
            {"$set": {"base_url": base_url, "credentials_encrypted": credentials_encrypted,
                      "status": "connected", "updated_at": datetime.now(UTC)}})
        return result.matched_count == 1

    async def set_settings(self, slug: str, source_id: str, changes: dict) -> dict | None:
        """Apply `changes` to the source's vendor settings in one update: a value sets a setting,
        None puts it back to its default. Returns the source after the update."""
        sets = {f"settings.{k}": v for k, v in changes.items() if v is not None}
        unsets = {f"settings.{k}": "" for k, v in changes.items() if v is None}
        update: dict = {"$set": {"updated_at": datetime.now(UTC), **sets}}
        if unsets:
            update["$unset"] = unsets
        result = await self._sources(slug).update_one({"_id": source_id}, update)
        return await self.get(slug, source_id) if result.matched_count == 1 else None

    async def insert(self, slug: str, doc: dict) -> None:
        await self._sources(slug).insert_one(doc)
