"""Rules-engine definitions and their execution history (including the dead-letter queue)."""
from __future__ import annotations

from datetime import datetime

from .core import Database
from .pages import find_page

RULE_SORT = [("name", 1), ("_id", 1)]
EXECUTION_SORT = [("created_at", -1), ("_id", -1)]  # newest first


class RuleRepository:
    def __init__(self, db: Database):
        self._db = db

    async def page(self, slug: str, *, enabled: bool | None = None, limit: int,
                   after: list | None) -> tuple[list[dict], list | None]:
        query = {} if enabled is None else {"enabled": enabled}
        return await find_page(self._db.tenant(slug)["rules"], query, RULE_SORT, limit, after)

    async def get(self, slug: str, rule_id: str) -> dict | None:
        return await self._db.tenant(slug)["rules"].find_one({"_id": rule_id})

    async def executions_page(self, slug: str, *, rule_id: str | None = None, status: str | None = None,
                              since: datetime | None = None, limit: int,
                              after: list | None) -> tuple[list[dict], list | None]:
        query: dict = {}
        if rule_id:
            query["rule_id"] = rule_id
        if status:
            query["status"] = status
        if since:
            query["created_at"] = {"$gte": since}
        return await find_page(self._db.tenant(slug)["rule_executions"], query, EXECUTION_SORT, limit, after)
