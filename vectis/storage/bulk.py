"""Bulk loading of generated or imported documents, idempotently."""
from __future__ import annotations

from pymongo import UpdateOne

from .core import Database
from .indexes import TENANT_INDEXES


class BulkRepository:
    def __init__(self, db: Database):
        self._db = db

    async def insert_missing(self, slug: str, collection: str, docs: list[dict]) -> int:
        """Insert the documents whose _id is absent; never change one that exists. Returns inserts."""
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        if not docs:
            return 0
        ops = [UpdateOne({"_id": d["_id"]}, {"$setOnInsert": d}, upsert=True) for d in docs]
        result = await self._db.tenant(slug)[collection].bulk_write(ops, ordered=False)
        return result.upserted_count

    async def count(self, slug: str, collection: str, query: dict | None = None) -> int:
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        return await self._db.tenant(slug)[collection].count_documents(query or {})

    async def get_meta(self, key: str) -> dict | None:
        return await self._db.control["meta"].find_one({"_id": key})

    async def set_meta(self, key: str, value: dict) -> None:
        await self._db.control["meta"].update_one({"_id": key}, {"$set": value}, upsert=True)
