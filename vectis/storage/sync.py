"""What sync needs from the database: find vendor objects by their refs, write batches, the
per-source lease and status, and the events collection (one document per real change)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from ..search import with_search_terms
from .core import Database

EVENT_RETENTION = timedelta(days=7)
DUPLICATE_KEY = 11000


class SyncRepository:
    def __init__(self, db: Database):
        self._db = db

    def _coll(self, slug: str, collection: str):
        return self._db.tenant(slug)[collection]

    async def by_refs(self, slug: str, collection: str, source_id: str,
                      external_ids: list[str]) -> dict[str, dict]:
        """Documents of this source's objects, by the vendor's id (served by the refs index).

        Dotted conditions rather than `$elemMatch`: SecantusDB answers `$elemMatch` with a
        collection scan (250 ms at 13k messages) but the dotted form from the index (0.6 ms). The
        two may match a document whose other ref has the id; the loop below keeps only the ref of
        this source, so that cannot mislead."""
        if not external_ids:
            return {}
        docs = await self._coll(slug, collection).find(
            {"refs.source_id": source_id, "refs.external_id": {"$in": external_ids}},
            {"search_tg": 0}).to_list()
        found = {}
        for doc in docs:
            for ref in doc.get("refs") or []:
                if ref.get("source_id") == source_id:
                    found[str(ref["external_id"])] = doc
        return found

    async def find_one(self, slug: str, collection: str, query: dict) -> dict | None:
        return await self._coll(slug, collection).find_one(query, {"search_tg": 0})

    async def insert(self, slug: str, collection: str, docs: list[dict]) -> None:
        if docs:
            await self._coll(slug, collection).insert_many(
                [with_search_terms(collection, d) for d in docs], ordered=False)

    async def update(self, slug: str, collection: str, updates: list[tuple[str, dict]]) -> None:
        """Apply `$set`/`$push`-style updates, one per document, in one round trip."""
        if updates:
            await self._coll(slug, collection).bulk_write(
                [UpdateOne({"_id": doc_id}, update) for doc_id, update in updates], ordered=False)

    async def source_external_ids(self, slug: str, collection: str, source_id: str,
                                  query: dict | None = None) -> dict[str, dict]:
        """Every object of this source in a collection (for closing what a snapshot lacks)."""
        docs = await self._coll(slug, collection).find(
            {"refs.source_id": source_id, **(query or {})}, {"search_tg": 0}).to_list()
        return {str(r["external_id"]): d for d in docs for r in d.get("refs") or []
                if r.get("source_id") == source_id}

    async def messages_of(self, slug: str, ticket_ids: list[str]) -> list[dict]:
        """The messages of some tickets (what sync compares new vendor messages with)."""
        return await self._coll(slug, "ticket_messages").find(
            {"ticket_id": {"$in": ticket_ids}},
            {"ticket_id": 1, "body": 1, "is_internal": 1, "refs": 1}).to_list(None)

    # --- lease and status, on the source document ---------------------------------------------
    async def acquire(self, slug: str, source_id: str, owner: str, lease: timedelta) -> bool:
        """Take the source's sync lease unless another live run holds it (any process)."""
        now = datetime.now(UTC)
        doc = await self._coll(slug, "sources").find_one_and_update(
            {"_id": source_id, "$or": [{"sync_lease": None}, {"sync_lease.until": {"$lt": now}},
                                       {"sync_lease.owner": owner}]},
            {"$set": {"sync_lease": {"owner": owner, "until": now + lease}}},
            return_document=ReturnDocument.AFTER, projection={"_id": 1})
        return doc is not None

    async def renew(self, slug: str, source_id: str, owner: str, lease: timedelta) -> bool:
        result = await self._coll(slug, "sources").update_one(
            {"_id": source_id, "sync_lease.owner": owner},
            {"$set": {"sync_lease.until": datetime.now(UTC) + lease}})
        return result.matched_count == 1

    async def release(self, slug: str, source_id: str, owner: str) -> None:
        await self._coll(slug, "sources").update_one(
            {"_id": source_id, "sync_lease.owner": owner}, {"$set": {"sync_lease": None}})

    async def record_entity(self, slug: str, source_id: str, entity: str, state: dict) -> None:
        await self._coll(slug, "sources").update_one(
            {"_id": source_id}, {"$set": {f"sync.{entity}": state}})

    async def record_outcome(self, slug: str, source_id: str, *, finished_at: datetime,
                             error: str | None) -> None:
        """The end of a run of every entity of a source, whoever ran it (scheduler or admin)."""
        changes: dict = {"last_sync_error": error}
        if error is None:
            changes["last_sync_at"] = finished_at
            changes["status"] = "connected"
        await self._coll(slug, "sources").update_one({"_id": source_id}, {"$set": changes})

    async def schedule(self, slug: str, source_id: str, *, next_run_at: datetime, failures: int) -> None:
        await self._coll(slug, "sources").update_one(
            {"_id": source_id}, {"$set": {"sync_next_run_at": next_run_at, "sync_failures": failures}})

    # --- events ---------------------------------------------------------------------------------
    async def add_events(self, slug: str, events: list[dict]) -> int:
        """Insert events whose id (a digest of the change) is new; returns how many were new.
        A change seen twice (an overlapping incremental window, two processes) is one event."""
        if not events:
            return 0
        now = datetime.now(UTC)
        docs = [{**e, "expires_at": now + EVENT_RETENTION} for e in events]
        try:
            result = await self._coll(slug, "events").insert_many(docs, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return exc.details.get("nInserted", 0)
        except DuplicateKeyError:
            return 0

    async def events(self, slug: str, *, since: datetime | None = None, limit: int = 500) -> list[dict]:
        query = {"at": {"$gte": since}} if since else {}
        return await self._coll(slug, "events").find(query).sort([("at", 1), ("_id", 1)]).limit(
            limit).to_list()
