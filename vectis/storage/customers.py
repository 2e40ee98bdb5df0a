"""Customers, their contacts and the sources connected to the tenant."""
from __future__ import annotations

import asyncio
import re

from .core import Database
from .pages import find_page

OPEN_TICKET_STATUSES = ("new", "open", "in_progress", "waiting")
OPEN_ALERT_STATUSES = ("open", "acknowledged")
CUSTOMER_SORT = [("name", 1), ("_id", 1)]


class CustomerRepository:
    def __init__(self, db: Database):
        self._db = db

    async def page(self, slug: str, *, name: str | None, status: str | None, limit: int,
                   after: list | None) -> tuple[list[dict], list | None]:
        query: dict = {}
        if name:
            query["name"] = {"$regex": re.escape(name), "$options": "i"}
        if status:
            query["status"] = status
        projection = {"search_tg": 0, "refs": 0}
        return await find_page(self._db.tenant(slug)["customers"], query, CUSTOMER_SORT, limit, after, projection)

    async def get(self, slug: str, customer_id: str) -> dict | None:
        return await self._db.tenant(slug)["customers"].find_one({"_id": customer_id}, {"search_tg": 0})

    async def names(self, slug: str, customer_ids: list[str]) -> dict[str, str]:
        """Names by id of the customers that exist (for scope notices: a few ids, never a page)."""
        if not customer_ids:
            return {}
        docs = await self._db.tenant(slug)["customers"].find(
            {"_id": {"$in": list(customer_ids)}}, {"name": 1}).to_list(len(customer_ids))
        return {doc["_id"]: doc.get("name", "") for doc in docs}

    async def contact(self, slug: str, contact_id: str | None) -> dict | None:
        if not contact_id:
            return None
        return await self._db.tenant(slug)["contacts"].find_one({"_id": contact_id})

    async def open_counts(self, slug: str, customer_id: str) -> dict[str, int]:
        db = self._db.tenant(slug)
        # Each count is one index range (customer_status): a customer's open items only.
        tickets, alerts = await asyncio.gather(
            db["tickets"].count_documents(
                {"customer_id": customer_id, "status": {"$in": list(OPEN_TICKET_STATUSES)}}),
            db["alerts"].count_documents(
                {"customer_id": customer_id, "status": {"$in": list(OPEN_ALERT_STATUSES)}}))
        return {"open_tickets": tickets, "open_alerts": alerts}

    async def sources(self, slug: str, source_ids: list[str] | None = None) -> list[dict]:
        query = {"_id": {"$in": source_ids}} if source_ids is not None else {}
        return await self._db.tenant(slug)["sources"].find(
            query, {"credentials_encrypted": 0}).sort("_id", 1).to_list()

    async def source_ids_for(self, slug: str, customer: dict) -> list[str]:
        """Sources this customer's data comes from: its refs plus its primary PSA."""
        ids = {r["source_id"] for r in customer.get("refs") or [] if r.get("source_id")}
        if customer.get("primary_psa_source_id"):
            ids.add(customer["primary_psa_source_id"])
        return sorted(ids)
