"""Writes waiting for a person's approval (vectis.approvals.queue), one document each.

A pending write is claimed by exactly one approver and one process: the claim is a conditional
update from `pending` (not expired) to `dispatching`. A claim whose process died is taken over
once its lease has passed; the write's idempotency key keeps the vendor call single.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ReturnDocument

from .core import Database

OPEN = ("pending", "dispatching")
FINAL = ("succeeded", "failed", "rejected", "expired")


class ApprovalRepository:
    def __init__(self, db: Database):
        self._db = db

    def _approvals(self, slug: str):
        return self._db.tenant(slug)["approvals"]

    async def create(self, slug: str, doc: dict) -> dict:
        await self._approvals(slug).insert_one(doc)
        return doc

    async def get(self, slug: str, approval_id: str) -> dict | None:
        return await self._approvals(slug).find_one({"_id": approval_id})

    async def pending(self, slug: str, now: datetime, *, user_id: str | None = None,
                      limit: int = 200) -> list[dict]:
        """Writes still waiting, oldest first (the first asked is the first to go stale)."""
        query: dict = {"status": "pending", "expires_at": {"$gt": now}}
        if user_id is not None:
            query["user_id"] = user_id
        return await self._approvals(slug).find(query).sort([("requested_at", 1), ("_id", 1)]).to_list(limit)

    async def recent(self, slug: str, *, user_id: str | None = None, limit: int = 50) -> list[dict]:
        query: dict = {} if user_id is None else {"user_id": user_id}
        return await self._approvals(slug).find(query).sort([("requested_at", -1), ("_id", -1)]).to_list(limit)

    async def claim(self, slug: str, approval_id: str, decider: dict, now: datetime,
                    lease: timedelta) -> dict | None:
        """Take a pending (or abandoned) write for dispatch; None when someone else has it, it
        was decided already, or it expired."""
        coll = self._approvals(slug)
        taken = await coll.find_one_and_update(
            {"_id": approval_id, "status": "pending", "expires_at": {"$gt": now}},
            {"$set": {"status": "dispatching", "decided_by": decider, "decided_at": now,
                      "lease_until": now + lease}},
            return_document=ReturnDocument.AFTER)
        if taken is not None:
            return taken
        return await coll.find_one_and_update(
            {"_id": approval_id, "status": "dispatching", "lease_until": {"$lt": now}},
            {"$set": {"decided_by": decider, "decided_at": now, "lease_until": now + lease}},
            return_document=ReturnDocument.AFTER)

    async def finish(self, slug: str, approval_id: str, status: str, outcome: dict, now: datetime) -> None:
        await self._approvals(slug).update_one(
            {"_id": approval_id, "status": "dispatching"},
            {"$set": {"status": status, "outcome": outcome, "finished_at": now, "lease_until": None}})

    async def reject(self, slug: str, approval_id: str, decider: dict, now: datetime,
                     reason: str | None) -> dict | None:
        return await self._approvals(slug).find_one_and_update(
            {"_id": approval_id, "status": "pending"},
            {"$set": {"status": "rejected", "decided_by": decider, "decided_at": now, "finished_at": now,
                      "outcome": {"status": "rejected", "reason": reason}}},
            return_document=ReturnDocument.AFTER)

    async def expire_due(self, slug: str, now: datetime) -> int:
        result = await self._approvals(slug).update_many(
            {"status": "pending", "expires_at": {"$lte": now}},
            {"$set": {"status": "expired", "finished_at": now, "outcome": {"status": "expired"}}})
        return result.modified_count
