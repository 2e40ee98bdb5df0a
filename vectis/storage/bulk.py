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
        # No look-up of which ids exist first: SecantusDB checks a found document against an
        # `{_id: {$in: ids}}` list one id at a time (a million comparisons for a batch of 1,000
        # present ids), and a unique _id already says which documents exist. insert_many is also
        # an order of magnitude faster than upserts; a present id (from an earlier run, or a
        # concurrent loader) is a duplicate-key error to ignore.
        try:
            result = await coll.insert_many([with_search_terms(collection, d) for d in docs],
                                            ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return exc.details.get("nInserted", len(docs) - len(errors))

    async def count(self, slug: str, collection: str, query: dict | None = None) -> int:
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        return await self._db.tenant(slug)[collection].count_documents(query or {})

    async def get_meta(self, key: str) -> dict | None:
        return await self._db.control["meta"].find_one({"_id": key})

    async def set_meta(self, key: str, value: dict) -> None:
        await self._db.control["meta"].update_one({"_id": key}, {"$set": value}, upsert=True)
