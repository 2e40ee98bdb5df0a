"""Contracts and invoices."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .core import Database
from .pages import find_page, find_recent_page

CONTRACT_SORT = [("end_date", 1), ("_id", 1)]  # the soonest to end first
INVOICE_SORT = [("issued_at", -1), ("_id", -1)]  # newest first
PROJECTION = {"refs": 0}
INVOICE_WINDOW = timedelta(days=31)     # about one billing run


def contract_query(*, status: str | None, customer_id: str | None = None,
                   ends_from: datetime | None = None, ends_until: datetime | None = None) -> dict:
    # customer_id first: SecantusDB serves a filter no one index covers by the first of its fields
    # that has an index, and one customer's contracts are far fewer than all active ones.
    query: dict = {"customer_id": customer_id} if customer_id else {}
    if status:
        query["status"] = status
    window = {op: moment for op, moment in (("$gte", ends_from), ("$lte", ends_until)) if moment}
    if window:
        query["end_date"] = window
    return query


class FinanceRepository:
    def __init__(self, db: Database):
        self._db = db

    async def contracts_page(self, slug: str, *, status: str | None, customer_id: str | None = None,
                             ends_from: datetime | None = None, ends_until: datetime | None = None,
                             limit: int, after: list | None) -> tuple[list[dict], list | None]:
        query = contract_query(status=status, customer_id=customer_id, ends_from=ends_from,
                               ends_until=ends_until)
        return await find_page(self._db.tenant(slug)["contracts"], query, CONTRACT_SORT, limit, after,
                               PROJECTION)

    async def contract_count(self, slug: str, *, status: str | None, customer_id: str | None = None,
                             ends_from: datetime | None = None, ends_until: datetime | None = None) -> int:
        return await self._db.tenant(slug)["contracts"].count_documents(contract_query(
            status=status, customer_id=customer_id, ends_from=ends_from, ends_until=ends_until))

    async def invoices_page(self, slug: str, *, customer_id: str | None = None, status: str | None = None,
                            issued_since: datetime | None = None, limit: int,
                            after: list | None) -> tuple[list[dict], list | None]:
        query: dict = {}
        if customer_id:
            query["customer_id"] = customer_id
        if status:
            query["status"] = status
        if issued_since:
            query["issued_at"] = {"$gte": issued_since}
        # Newest windows of time first, not the whole index (storage.pages); this also keeps
        # invoices without an issue date, which find_page's {$lt: time} branch would skip.
        return await find_recent_page(self._db.tenant(slug)["invoices"], [query], INVOICE_SORT, limit, after,
                                      PROJECTION, INVOICE_WINDOW, datetime.now(UTC))
