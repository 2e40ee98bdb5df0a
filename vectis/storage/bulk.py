"""Bulk loading of generated or imported documents, idempotently."""
from __future__ import annotations

from pymongo.errors import BulkWriteError

from ..search import with_search_terms
from .core import Database
from .indexes import TENANT_INDEXES

DUPLICATE_KEY = 11000


class BulkRepository:
    def __init__(self, db: Database):
        self._db = db

    async def insert_missing(self, slug: str, collection: str, docs: list[dict]) -> int:
        """Insert the documents whose _id is absent; never change one that exists. Returns inserts.

        Documents of searchable collections are stored with their search trigrams (vectis.search).
        """
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        if not docs:
            return 0
        coll = self._db.tenant(slug)[collection]
        ids = [d["_id"] for d in docs]
        present = {d["_id"] for d in await coll.find({"_id": {"$in": ids}}, {"_id": 1}).to_list()}
        missing = [with_search_terms(collection, d) for d in docs if d["_id"] not in present]
        if not missing:
            return 0
        # insert_many is an order of magnitude faster than upserts; a concurrent loader may insert
        # the same ids in between, which the unique _id turns into ignorable duplicate-key errors.
        try:
            result = await coll.insert_many(missing, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return exc.details.get("nInserted", len(missing) - len(errors))

    async def count(self, slug: str, collection: str, query: dict | None = None) -> int:
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        return await self._db.tenant(slug)[collection].count_documents(query or {})

    async def get_meta(self, key: str) -> dict | None:
        return await self._db.control["meta"].find_one({"_id": key})

    async def set_meta(self, key: str, value: dict) -> None:
        await self._db.control["meta"].update_one({"_id": key}, {"$set": value}, upsert=True)
