"""Shared counters for rate limiting: one document per (bucket, window), expired by a TTL index."""
from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument

from .core import Database


class CounterRepository:
    def __init__(self, db: Database):
        self._db = db

    async def add(self, slug: str, key: str, amount: int, expires_at: datetime) -> int:
        """Atomically add `amount` to the counter and return the new total."""
        doc = await self._db.tenant(slug)["ratelimits"].find_one_and_update(
            {"_id": key},
            {"$inc": {"n": amount}, "$setOnInsert": {"expires_at": expires_at}},
            upsert=True, return_document=ReturnDocument.AFTER, projection={"n": 1},
        )
        return int(doc["n"])
