"""What a successful vendor write changes in the tenant database, so reads agree with the vendor
at once (sync later confirms the same state). Each change is keyed by the vendor's id, so applying
the same outcome twice (a retry, a recovered call) changes nothing more."""
from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument

from ..search.fields import search_terms_update, with_search_terms
from .core import Database


class VendorChangeRepository:
    def __init__(self, db: Database):
        self._db = db

    async def ticket_created(self, slug: str, ticket: dict, first_message: dict) -> dict:
        """Insert the ticket (unless the vendor id is already known) with its first message."""
        db = self._db.tenant(slug)
        ref = ticket["refs"][0]
        # Dotted conditions, not $elemMatch (see SyncRepository.by_refs), then an exact check.
        for existing in await db["tickets"].find(
                {"refs.source_id": ref["source_id"], "refs.external_id": ref["external_id"]},
                {"search_tg": 0}).to_list(10):
            if ref in [{"source_id": r.get("source_id"), "external_id": r.get("external_id")}
                       for r in existing.get("refs") or []]:
                return existing
        await db["tickets"].insert_one(with_search_terms("tickets", ticket))
        await db["ticket_messages"].insert_one(first_message)
        return ticket

    async def message_added(self, slug: str, ticket_id: str, message: dict, now: datetime) -> bool:
        db = self._db.tenant(slug)
        if message.get("refs"):
            ref = message["refs"][0]
            if await db["ticket_messages"].find_one(
                    {"ticket_id": ticket_id, "refs.source_id": ref["source_id"],
                     "refs.external_id": ref["external_id"]}, {"_id": 1}):
                return False
        await db["ticket_messages"].insert_one(message)
        await db["tickets"].update_one({"_id": ticket_id},
                                       {"$inc": {"message_count": 1}, "$set": {"updated_at": now}})
        return True

    async def ticket_closed(self, slug: str, ticket: dict, now: datetime) -> dict:
        changes = {"status": "closed", "closed_at": ticket.get("closed_at") or now, "updated_at": now}
        return await self._db.tenant(slug)["tickets"].find_one_and_update(
            {"_id": ticket["_id"]}, {"$set": search_terms_update("tickets", changes, ticket)},
            projection={"search_tg": 0}, return_document=ReturnDocument.AFTER)

    async def alert_changed(self, slug: str, alert_id: str, status: str, entry: dict,
                            now: datetime) -> dict | None:
        changes: dict = {"status": status, "updated_at": now}
        if status == "resolved":
            changes["resolved_at"] = now
        return await self._db.tenant(slug)["alerts"].find_one_and_update(
            {"_id": alert_id, "status": {"$ne": status}},
            {"$set": changes, "$push": {"history": entry}},
            projection={"search_tg": 0}, return_document=ReturnDocument.AFTER)
