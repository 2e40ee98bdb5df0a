"""Shared counters for rate limiting: one document per (bucket, window), expired by a TTL index."""
from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import Database


class CounterRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add(self, slug: str, key: str, amount: int, expires_at: datetime) -> int:
        """Atomically add `amount` to the counter and return the new total."""
        # Not an upsert: two processes creating one window's counter race on it, and the loser
        # gets a duplicate key error from MongoDB, or from SecantusDB no document although its
        # increment was applied (so a retry would count it twice). An increment of an existing
        # counter, else an insert that only one creator wins, is exact on both.
        coll = self._db.tenant(slug)["ratelimits"]
        for _ in range(3):
            doc = await coll.find_one_and_update({"_id": key}, {"$inc": {"n": amount}},
                                                 return_document=ReturnDocument.AFTER,
                                                 projection={"n": 1})
            if doc is not None:
                return int(doc["n"])
            try:
                await coll.insert_one({"_id": key, "n": amount, "expires_at": expires_at})
                return amount
            except DuplicateKeyError:
                continue                   # created meanwhile by someone else: increment it
        raise RuntimeError(f"rate-limit counter {key!r} could not be updated")

    async def add_fields(self, slug: str, doc_id: str, amounts: dict[str, int],
                         expires_at: datetime, *, likely_new: bool = False) -> dict[str, int]:
        """Atomically add to several counters kept as fields of one document, in one round
        trip, and return their new totals. Field names must not contain '.' or start with '$'.
        `likely_new`: try creating the document first (one round trip instead of two when it
        does not exist yet; when it does, the duplicate key costs one more)."""
        coll = self._db.tenant(slug)["ratelimits"]
        projection = dict.fromkeys(amounts, 1)
        if likely_new:
            try:
                await coll.insert_one({"_id": doc_id, **amounts, "expires_at": expires_at})
                return dict(amounts)
            except DuplicateKeyError:
                pass
        for _ in range(3):   # not an upsert, for the reason given in add()
            doc = await coll.find_one_and_update({"_id": doc_id}, {"$inc": amounts},
                                                 return_document=ReturnDocument.AFTER, projection=projection)
            if doc is not None:
                return {field: int(doc.get(field, 0)) for field in amounts}
            try:
                await coll.insert_one({"_id": doc_id, **amounts, "expires_at": expires_at})
                return dict(amounts)
            except DuplicateKeyError:
                continue
        raise RuntimeError(f"rate-limit counters {doc_id!r} could not be updated")
