"""Tickets and their conversation threads."""
from __future__ import annotations

from .core import Database
from .customers import OPEN_TICKET_STATUSES
from .pages import find_page

PRIORITIES_MOST_URGENT_FIRST = ("critical", "high", "medium", "low")
TICKET_SORT = [("updated_at", -1), ("_id", -1)]  # most recently active first
# List views leave out the long text; get_ticket reads the whole document.
SUMMARY_PROJECTION = {"search_tg": 0, "refs": 0, "description": 0}


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
        return await find_page(self._tickets(slug), query, TICKET_SORT, limit, after, SUMMARY_PROJECTION)

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

    async def most_urgent_open(self, slug: str, customer_id: str, limit: int) -> list[dict]:
        """A customer's open tickets, highest priority first, then most recently updated.

        One query per priority (at most four), each served by the customer_status index.
        """
        found: list[dict] = []
        for priority in PRIORITIES_MOST_URGENT_FIRST:
            if len(found) >= limit:
                break
            query = open_ticket_query(customer_id=customer_id, priority=priority)
            found += await self._tickets(slug).find(query, SUMMARY_PROJECTION).sort(TICKET_SORT).limit(
                limit - len(found)).to_list()
        return found
