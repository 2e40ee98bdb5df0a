"""The audit log: one row per tool call or credential event, in the tenant's database."""
from __future__ import annotations

import asyncio
from datetime import datetime

from pymongo.errors import BulkWriteError

from .core import Database

DUPLICATE_KEY = 11000


class AuditRepository:
    def __init__(self, db: Database):
        self._db = db

    def _rows(self, slug: str):
        return self._db.tenant(slug)["audit_log"]

    async def insert(self, slug: str, rows: list[dict]) -> None:
        """Idempotent: rows carry their ids, so a batch sent again after an interrupted attempt
        (some rows may have landed) writes the rest and counts the others as written."""
        if not rows:
            return
        try:
            await self._rows(slug).insert_many(rows, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])) \
                    or exc.details.get("writeConcernErrors"):
                raise

    async def finalize(self, slug: str, row_id: str, changes: dict) -> None:
        """Complete a write's row, written before its dispatch, with the outcome."""
        await self._rows(slug).update_one({"_id": row_id}, {"$set": changes})

    async def for_ticket(self, slug: str, ticket_id: str | None, uuid_prefix: str | None,
                         limit: int) -> list[dict]:
        """Rows about the ticket by id or by uuid prefix, newest first.

        One query per clause, merged here: SecantusDB answers a top-level `$or` by scanning the
        whole log, while each clause alone is an index range (the prefix as a string range)."""
        clauses = []
        if ticket_id:
            clauses.append({"target.kind": "ticket", "target.id": ticket_id})
        if uuid_prefix:
            prefix = uuid_prefix.lower()
            clauses.append({"target.kind": "ticket",
                            "target.uuid": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}})
        if not clauses:
            return []
        order = [("at", -1), ("_id", -1)]
        parts = await asyncio.gather(*(self._rows(slug).find(c).sort(order).limit(limit).to_list()
                                       for c in clauses))
        rows = {row["_id"]: row for part in parts for row in part}
        return sorted(rows.values(), key=lambda r: (r["at"], r["_id"]), reverse=True)[:limit]

    async def count_for_credential(self, slug: str, credential_id: str, since: datetime) -> int:
        """Rows of one credential at or after `since`: a range of the `actor` index."""
        return await self._rows(slug).count_documents(
            {"actor.credential_id": credential_id, "at": {"$gte": since}})

    async def recent(self, slug: str, limit: int = 100) -> list[dict]:
        return await self._rows(slug).find({}).sort([("at", -1), ("_id", -1)]).limit(limit).to_list()
