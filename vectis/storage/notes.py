"""Operator-authored notes (never overwritten by sync)."""
from __future__ import annotations

from datetime import datetime

from .core import Database
from .pages import find_page

NOTE_SORT = [("created_at", -1), ("_id", -1)]  # newest first


class NoteRepository:
    def __init__(self, db: Database):
        self._db = db

    async def recent_page(self, slug: str, *, customer_id: str | None = None,
                          since: datetime | None = None, limit: int,
                          after: list | None) -> tuple[list[dict], list | None]:
        query: dict = {}
        if customer_id:
            query["customer_id"] = customer_id
        if since:
            query["created_at"] = {"$gte": since}
        return await find_page(self._db.tenant(slug)["notes"], query, NOTE_SORT, limit, after,
                               {"search_tg": 0})
