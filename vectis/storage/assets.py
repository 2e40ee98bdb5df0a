"""Assets (devices) and the backup jobs that protect them."""
from __future__ import annotations

from datetime import datetime

from .core import Database
from .name_pages import find_name_page
from .pages import find_page

ASSET_SORT = [("name", 1), ("_id", 1)]
ASSET_SUMMARY_PROJECTION = {"search_tg": 0, "refs": 0, "hardware": 0, "lifecycle": 0}
FAILING_BACKUP_STATUSES = ("failed", "warning")
BACKUP_SORT = [("last_run_at", -1), ("_id", -1)]  # most recent run first


def failing_backup_query(*, since: datetime, customer_id: str | None = None,
                         status: str | None = None) -> dict:
    """Jobs whose last run, at or after `since`, failed or ended with a warning."""
    if status is not None and status not in FAILING_BACKUP_STATUSES:
        raise ValueError(f"{status!r} is not a failing backup status")
    # customer_id first: SecantusDB serves a filter no one index covers by the first of its fields
    # that has an index, and a customer's jobs are far fewer than all failing ones.
    query: dict = {"customer_id": customer_id} if customer_id else {}
    query.update({"last_status": status or {"$in": list(FAILING_BACKUP_STATUSES)},
                  "last_run_at": {"$gte": since}})
    return query


class AssetRepository:
    def __init__(self, db: Database):
        self._db = db

    def _assets(self, slug: str):
        return self._db.tenant(slug)["assets"]

    def _backups(self, slug: str):
        return self._db.tenant(slug)["backup_jobs"]

    async def page(self, slug: str, *, customer_id: str | None = None, kind: str | None = None,
                   status: str | None = None, limit: int,
                   after: list | None) -> tuple[list[dict], list | None]:
        query = {k: v for k, v in (("customer_id", customer_id), ("kind", kind), ("status", status)) if v}
        # One customer's devices are few: read as one range, not in windows of names.
        return await find_name_page(self._assets(slug), query, "name", limit, after, ASSET_SUMMARY_PROJECTION,
                                    windows=customer_id is None)

    async def get(self, slug: str, asset_id: str) -> dict | None:
        return await self._assets(slug).find_one({"_id": asset_id}, {"search_tg": 0})

    async def failing_backups_page(self, slug: str, *, since: datetime, customer_id: str | None = None,
                                   status: str | None = None, limit: int,
                                   after: list | None) -> tuple[list[dict], list | None]:
        query = failing_backup_query(since=since, customer_id=customer_id, status=status)
        return await find_page(self._backups(slug), query, BACKUP_SORT, limit, after, {"refs": 0})

    async def failing_backup_count(self, slug: str, *, since: datetime, customer_id: str) -> int:
        return await self._backups(slug).count_documents(
            failing_backup_query(since=since, customer_id=customer_id))

    async def source_ids(self, slug: str, customer_id: str) -> list[str]:
        """Sources that report this customer's devices or backup jobs."""
        ids = set(await self._assets(slug).distinct("source_id", {"customer_id": customer_id}))
        ids |= set(await self._backups(slug).distinct("source_id", {"customer_id": customer_id}))
        return sorted(i for i in ids if i)
