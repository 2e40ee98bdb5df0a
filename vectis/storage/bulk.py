"""Bulk loading of generated or imported documents, idempotently."""
from __future__ import annotations

from pymongo.errors import BulkWriteError

from ..search import with_search_terms
from ..search.fields import SEARCH_TERMS_FIELD
from .core import Database
from .indexes import TENANT_INDEXES

DUPLICATE_KEY = 11000
# Index entries one insert_many may write. SecantusDB writes an insert_many of up to 1,000
# documents as one WiredTiger transaction, and an open transaction's writes cannot be evicted
# from the cache: 1,000 tickets (about 95 index entries each, 85 of them search trigrams) under
# the embedded database's 256 MB cache drove WiredTiger into a livelock (the writing thread
# drafted into evicting pages that only its own commit could free; 100 % CPU for 10 minutes and
# more, measured 2026-12-07). Capped here, a call holds at most ~200 tickets or 1,000 messages.
MAX_INDEX_ENTRIES_PER_CALL = 20_000


def index_entries(collection: str, doc: dict) -> int:
    """About how many index entries inserting doc writes: one per index, one per trigram."""
    return 1 + len(TENANT_INDEXES[collection]) + len(doc.get(SEARCH_TERMS_FIELD) or ())


def split_by_index_entries(collection: str, docs: list[dict],
                           limit: int = MAX_INDEX_ENTRIES_PER_CALL) -> list[list[dict]]:
    """docs in order, cut into runs whose index entries stay under limit (each at least one)."""
    runs: list[list[dict]] = []
    run: list[dict] = []
    entries = 0
    for doc in docs:
        n = index_entries(collection, doc)
        if run and entries + n > limit:
            runs.append(run)
            run, entries = [], 0
        run.append(doc)
        entries += n
    if run:
        runs.append(run)
    return runs


def prepare_documents(collection: str, docs: list[dict]) -> list[dict]:
    """docs as insert_missing stores them (with their search trigrams); CPU only, no I/O, so a
    loader may run it in a thread while the database writes the previous batch."""
    return [with_search_terms(collection, d) for d in docs]


class BulkRepository:
    def __init__(self, db: Database):
        self._db = db

    async def insert_missing(self, slug: str, collection: str, docs: list[dict], *,
                             with_terms: bool = False) -> int:
        """Insert the documents whose _id is absent; never change one that exists. Returns inserts.

        Documents of searchable collections are stored with their search trigrams (vectis.search);
        with_terms=True says the caller already made them (prepare_documents).
        """
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        if not with_terms:
            docs = prepare_documents(collection, docs)
        inserted = 0
        for run in split_by_index_entries(collection, docs):
            inserted += await self._insert_run(slug, collection, run)
        return inserted

    async def _insert_run(self, slug: str, collection: str, docs: list[dict]) -> int:
        coll = self._db.tenant(slug)[collection]
        # No look-up of which ids exist first: SecantusDB checks a found document against an
        # `{_id: {$in: ids}}` list one id at a time (a million comparisons for a batch of 1,000
        # present ids), and a unique _id already says which documents exist. insert_many is also
        # an order of magnitude faster than upserts; a present id (from an earlier run, or a
        # concurrent loader) is a duplicate-key error to ignore.
        try:
            result = await coll.insert_many(docs, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return exc.details.get("nInserted", len(docs) - len(errors))

    async def count(self, slug: str, collection: str, query: dict | None = None) -> int:
        if collection not in TENANT_INDEXES:
            raise ValueError(f"unknown tenant collection {collection!r}")
        return await self._db.tenant(slug)[collection].count_documents(query or {})

    async def get_meta(self, key: str) -> dict | None:
        return await self._db.control["meta"].find_one({"_id": key})

    async def set_meta(self, key: str, value: dict) -> None:
        await self._db.control["meta"].update_one({"_id": key}, {"$set": value}, upsert=True)
