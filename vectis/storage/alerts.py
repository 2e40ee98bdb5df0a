"""Monitoring alerts (RMM and backup tools)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .core import Database
from .customers import OPEN_ALERT_STATUSES
from .pages import find_page, find_recent_page

SEVERITIES_MOST_SEVERE_FIRST = ("critical", "major", "moderate", "minor", "info")
ALERT_SORT = [("created_at", -1), ("_id", -1)]  # newest first
SUMMARY_PROJECTION = {"search_tg": 0, "refs": 0, "history": 0}
MAX_INCIDENT_ALERTS = 50
RECENT_WINDOW = timedelta(days=1)  # the first window a tenant-wide newest-first page reads
CUSTOMER_OPEN_READ = 500           # a customer's open alerts read whole up to this many
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def alert_query(*, customer_id: str | None = None, severity: str | None = None,
                status: str | None = None) -> dict:
    """Alerts matching the filters; without a status, the open ones (open or acknowledged)."""
    query: dict = {"status": status or {"$in": list(OPEN_ALERT_STATUSES)}}
    if customer_id:
        query["customer_id"] = customer_id
    if severity:
        query["severity"] = severity
    return query


class AlertRepository:
    def __init__(self, db: Database):
        self._db = db

    def _alerts(self, slug: str):
        return self._db.tenant(slug)["alerts"]

    async def page(self, slug: str, *, customer_id: str | None = None, severity: str | None = None,
                   status: str | None = None, limit: int,
                   after: list | None) -> tuple[list[dict], list | None]:
        query = alert_query(customer_id=customer_id, severity=severity, status=status)
        if customer_id:     # a customer's alerts are few: one index range holds them
            return await find_page(self._alerts(slug), query, ALERT_SORT, limit, after, SUMMARY_PROJECTION)
        # Tenant-wide: one query per status (an index range each), newest windows first.
        queries = [{**query, "status": s} for s in ([status] if status else OPEN_ALERT_STATUSES)]
        return await find_recent_page(self._alerts(slug), queries, ALERT_SORT, limit, after,
                                      SUMMARY_PROJECTION, RECENT_WINDOW, datetime.now(UTC))

    async def get(self, slug: str, alert_id: str) -> dict | None:
        return await self._alerts(slug).find_one({"_id": alert_id}, {"search_tg": 0})

    async def same_incident(self, slug: str, incident_id: str, *, except_id: str) -> list[dict]:
        """The other alerts correlated into an incident, oldest first."""
        return await self._alerts(slug).find(
            {"incident_id": incident_id, "_id": {"$ne": except_id}}, SUMMARY_PROJECTION).sort(
            [("created_at", 1), ("_id", 1)]).limit(MAX_INCIDENT_ALERTS).to_list()

    async def open_count(self, slug: str, customer_id: str) -> int:
        return await self._alerts(slug).count_documents(alert_query(customer_id=customer_id))

    async def open_summary(self, slug: str, customer_id: str, top: int) -> tuple[int, list[dict]]:
        """How many open alerts a customer has, and the `top` most severe (as most_severe_open),
        from one read of them; a customer with more than CUSTOMER_OPEN_READ goes to the database."""
        docs = await self._alerts(slug).find(alert_query(customer_id=customer_id),
                                             SUMMARY_PROJECTION).limit(CUSTOMER_OPEN_READ + 1).to_list()
        if len(docs) > CUSTOMER_OPEN_READ:
            return await self.open_count(slug, customer_id), await self.most_severe_open(slug, customer_id, top)
        rank = {s: i for i, s in enumerate(SEVERITIES_MOST_SEVERE_FIRST)}
        docs.sort(key=lambda d: (d.get("created_at") or _EPOCH, d["_id"]), reverse=True)
        docs.sort(key=lambda d: rank.get(d.get("severity"), len(rank)))
        return len(docs), [d for d in docs if d.get("severity") in rank][:top]

    async def most_severe_open(self, slug: str, customer_id: str, limit: int) -> list[dict]:
        """A customer's open alerts, most severe first, then newest (one query per severity)."""
        found: list[dict] = []
        for severity in SEVERITIES_MOST_SEVERE_FIRST:
            if len(found) >= limit:
                break
            query = {"customer_id": customer_id, **alert_query(severity=severity)}
            found += await self._alerts(slug).find(query, SUMMARY_PROJECTION).sort(ALERT_SORT).limit(
                limit - len(found)).to_list()
        return found

    async def source_ids(self, slug: str, customer_id: str) -> list[str]:
        ids = await self._alerts(slug).distinct("source_id", {"customer_id": customer_id})
        return [i for i in ids if i]
