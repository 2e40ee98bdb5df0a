"""Tickets and their conversation threads."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from .core import Database
from .customers import OPEN_TICKET_STATUSES
from .pages import find_page, find_recent_page

PRIORITIES_MOST_URGENT_FIRST = ("critical", "high", "medium", "low")
TICKET_SORT = [("updated_at", -1), ("_id", -1)]  # most recently active first
# List views leave out the long text; get_ticket reads the whole document.
SUMMARY_PROJECTION = {"search_tg": 0, "refs": 0, "description": 0}
RECENT_WINDOW = timedelta(hours=1)  # the first window a tenant-wide newest-first page reads
# A customer's open tickets are read whole (count and most urgent from one read) up to this many.
CUSTOMER_OPEN_READ = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def open_ticket_query(*, customer_id: str | None = None, status: str | None = None,
                      priority: str | None = None, assignee_email: str | None = None) -> dict:
    """Open tickets (status new/open/in_progress/waiting), narrowed by the filters given."""
    if status is not None and status not in OPEN_TICKET_STATUSES:
        raise ValueError(f"{status!r} is not an open status")
    query: dict = {"status": status or {"$in": list(OPEN_TICKET_STATUSES)}}
    if customer_id:
        query["customer_id"] = customer_id
    if priority:
        query["priority"] = priority
    if assignee_email:
        query["assignee.email"] = assignee_email.lower()
    return query


class TicketRepository:
    def __init__(self, db: Database):
        self._db = db

    def _tickets(self, slug: str):
        return self._db.tenant(slug)["tickets"]

    async def open_page(self, slug: str, *, customer_id: str | None = None, status: str | None = None,
                        priority: str | None = None, assignee_email: str | None = None, limit: int,
                        after: list | None) -> tuple[list[dict], list | None]:
        query = open_ticket_query(customer_id=customer_id, status=status, priority=priority,
                                  assignee_email=assignee_email)
        if customer_id:     # a customer's open tickets are few: one index range holds them
            return await find_page(self._tickets(slug), query, TICKET_SORT, limit, after, SUMMARY_PROJECTION)
        # Tenant-wide: one query per open status (an index range each), newest windows first.
        queries = [{**query, "status": s} for s in ([status] if status else OPEN_TICKET_STATUSES)]
        return await find_recent_page(self._tickets(slug), queries, TICKET_SORT, limit, after,
                                      SUMMARY_PROJECTION, RECENT_WINDOW, datetime.now(UTC))

    async def get(self, slug: str, ticket_id: str) -> dict | None:
        return await self._tickets(slug).find_one({"_id": ticket_id}, {"search_tg": 0})

    async def by_uuid(self, slug: str, ticket_uuid: str) -> dict | None:
        return await self._tickets(slug).find_one({"uuid": ticket_uuid.lower()}, {"search_tg": 0})

    async def by_number(self, slug: str, number: str, limit: int = 5) -> list[dict]:
        """Numbers are unique per source only: two PSAs (or a PSA and the portal) may share one."""
        return await self._tickets(slug).find({"number": number}, {"search_tg": 0}).sort(
            "_id", 1).limit(limit).to_list()

    async def thread(self, slug: str, ticket_id: str, limit: int) -> tuple[list[dict], int]:
        """The newest `limit` messages, newest first, and how many the thread has in all."""
        messages = self._db.tenant(slug)["ticket_messages"]
        newest = await messages.find({"ticket_id": ticket_id}, {"refs": 0}).sort(
            [("created_at", -1), ("_id", -1)]).limit(limit).to_list()
        if len(newest) < limit:
            return newest, len(newest)
        return newest, await messages.count_documents({"ticket_id": ticket_id})

    async def open_count(self, slug: str, customer_id: str) -> int:
        return await self._tickets(slug).count_documents(open_ticket_query(customer_id=customer_id))

    async def open_summary(self, slug: str, customer_id: str, top: int) -> tuple[int, list[dict]]:
        """How many open tickets a customer has, and the `top` most urgent (as most_urgent_open).

        One read of the customer's open tickets (the customer_status index) gives both; only a
        customer with more than CUSTOMER_OPEN_READ of them is counted and ranked by the database.
        """
        docs = await self._tickets(slug).find(open_ticket_query(customer_id=customer_id),
                                              SUMMARY_PROJECTION).limit(CUSTOMER_OPEN_READ + 1).to_list()
        if len(docs) > CUSTOMER_OPEN_READ:
            count, urgent = await asyncio.gather(self.open_count(slug, customer_id),
                                                 self.most_urgent_open(slug, customer_id, top))
            return count, urgent
        rank = {p: i for i, p in enumerate(PRIORITIES_MOST_URGENT_FIRST)}
        docs.sort(key=lambda d: (d.get("updated_at") or _EPOCH, d["_id"]), reverse=True)
        docs.sort(key=lambda d: rank.get(d.get("priority"), len(rank)))
        return len(docs), [d for d in docs if d.get("priority") in rank][:top]

    async def most_urgent_open(self, slug: str, customer_id: str, limit: int) -> list[dict]:
        """A customer's open tickets, highest priority first, then most recently updated.

        One query per priority (at most four), each served by the customer_status index.
        """
        found: list[dict] = []
        for priority in PRIORITIES_MOST_URGENT_FIRST:
            if len(found) >= limit:
                break
            # customer_id first: SecantusDB serves a filter no index covers whole by its first
            # field that has an index, and the open statuses would be every open ticket.
            query = {"customer_id": customer_id, **open_ticket_query(priority=priority)}
            found += await self._tickets(slug).find(query, SUMMARY_PROJECTION).sort(TICKET_SORT).limit(
                limit - len(found)).to_list()
        return found
