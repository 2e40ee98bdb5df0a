"""Monitoring alerts (RMM and backup tools)."""
from __future__ import annotations

from .core import Database
from .customers import OPEN_ALERT_STATUSES
from .pages import find_page

SEVERITIES_MOST_SEVERE_FIRST = ("critical", "major", "moderate", "minor", "info")
ALERT_SORT = [("created_at", -1), ("_id", -1)]  # newest first
SUMMARY_PROJECTION = {"search_tg": 0, "refs": 0, "history": 0}
MAX_INCIDENT_ALERTS = 50


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
        return await find_page(self._alerts(slug), query, ALERT_SORT, limit, after, SUMMARY_PROJECTION)

    async def get(self, slug: str, alert_id: str) -> dict | None:
        return await self._alerts(slug).find_one({"_id": alert_id}, {"search_tg": 0})

    async def same_incident(self, slug: str, incident_id: str, *, except_id: str) -> list[dict]:
        """The other alerts correlated into an incident, oldest first."""
        return await self._alerts(slug).find(
            {"incident_id": incident_id, "_id": {"$ne": except_id}}, SUMMARY_PROJECTION).sort(
            [("created_at", 1), ("_id", 1)]).limit(MAX_INCIDENT_ALERTS).to_list()

    async def open_count(self, slug: str, customer_id: str) -> int:
        return await self._alerts(slug).count_documents(alert_query(customer_id=customer_id))

    async def most_severe_open(self, slug: str, customer_id: str, limit: int) -> list[dict]:
        """A customer's open alerts, most severe first, then newest (one query per severity)."""
        found: list[dict] = []
        for severity in SEVERITIES_MOST_SEVERE_FIRST:
            if len(found) >= limit:
                break
            query = alert_query(customer_id=customer_id, severity=severity)
            found += await self._alerts(slug).find(query, SUMMARY_PROJECTION).sort(ALERT_SORT).limit(
                limit - len(found)).to_list()
        return found

    async def source_ids(self, slug: str, customer_id: str) -> list[str]:
        ids = await self._alerts(slug).distinct("source_id", {"customer_id": customer_id})
        return [i for i in ids if i]
