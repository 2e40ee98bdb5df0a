"""Idempotency records of write calls: one document per (credential owner, tool, key), kept 24 h
by a TTL index. Reserving is an insert on a unique `_id`, so exactly one caller, in any process,
owns a key at a time; the others see its state."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .core import Database

RETENTION = timedelta(hours=24)


class IdempotencyRepository:
    def __init__(self, db: Database):
        self._db = db

    def _records(self, slug: str):
        return self._db.tenant(slug)["idempotency"]

    async def reserve(self, slug: str, record_id: str, args_hash: str, owner: str,
                      lease: timedelta) -> dict | None:
        """Claim the key; None when it is new and now ours, else the existing record."""
        now = datetime.now(UTC)
        try:
            await self._records(slug).insert_one({
                "_id": record_id, "args_hash": args_hash, "state": "pending", "owner": owner,
                "started_at": now, "lease_until": now + lease, "result": None,
                "created_at": now, "expires_at": now + RETENTION})
        except DuplicateKeyError:
            return await self._records(slug).find_one({"_id": record_id})
        return None

    async def take_over(self, slug: str, record: dict, owner: str, lease: timedelta) -> dict | None:
        """Claim a pending record whose owner's lease ran out (it crashed or gave up); None if
        someone else got there first."""
        now = datetime.now(UTC)
        return await self._records(slug).find_one_and_update(
            {"_id": record["_id"], "state": "pending", "owner": record["owner"],
             "lease_until": record["lease_until"]},
            {"$set": {"owner": owner, "lease_until": now + lease}},
            return_document=ReturnDocument.AFTER)

    async def get(self, slug: str, record_id: str) -> dict | None:
        return await self._records(slug).find_one({"_id": record_id})

    async def complete(self, slug: str, record_id: str, owner: str, result: dict,
                       request_id: str) -> None:
        await self._records(slug).update_one(
            {"_id": record_id, "owner": owner},
            {"$set": {"state": "done", "result": result, "request_id": request_id,
                      "finished_at": datetime.now(UTC)}})

    async def release(self, slug: str, record_id: str, owner: str) -> None:
        """Forget a reservation whose call certainly had no effect, so a retry dispatches."""
        await self._records(slug).delete_one({"_id": record_id, "owner": owner, "state": "pending"})

    async def mark_uncertain(self, slug: str, record_id: str, owner: str) -> None:
        """The vendor may have acted: end the lease now, so the next retry looks the effect up
        at the vendor before dispatching again."""
        await self._records(slug).update_one(
            {"_id": record_id, "owner": owner, "state": "pending"},
            {"$set": {"lease_until": datetime.now(UTC), "uncertain": True}})
