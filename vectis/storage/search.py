"""Trigram search over a tenant's searchable collections, served by the `search_tg` index.

A document can only reach the threshold if it shares min_shared(q, threshold) of the query's q
trigrams, so it must hold one of any q - needed + 1 of them (the probe). The probe is read
through the multikey index in batches of trigrams, rarest first, and every document read is
scored exactly in Python. A document not read yet holds none of the trigrams read so
far, which caps its score (similarity <= shared / q); once `limit` hits beat that cap, nothing
left can change the answer and the reading stops. Common words thus stop after their rarest
trigram, and queries that match nothing read almost nothing.

Document frequencies for "rarest" are estimated from a small random sample, cached per tenant
and collection; they only decide the reading order, never the results.
"""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from cachetools import TTLCache
from pymongo import UpdateOne

from ..search import (
    DEFAULT_THRESHOLD,
    SEARCH_CATEGORIES,
    SEARCH_FIELDS,
    SEARCH_TERMS_FIELD,
    best_similarity,
    min_shared,
    rarest_first,
    search_terms,
    searchable_texts,
    trigrams,
)
from .core import Database

# Bounds the work of one search: past this many documents read, the best hits so far are
# returned (SearchOutcome.complete is then False).
MAX_DOCUMENTS_READ = 5000
FREQUENCY_SAMPLE_SIZE = 500
FREQUENCY_TTL_SECONDS = 600
# Trigrams this common in the sample (5 %) or less may share one index read.
BATCH_FLOOR = FREQUENCY_SAMPLE_SIZE // 20


@dataclass
class SearchOutcome:
    results: list[tuple[dict, float]]
    documents_read: int = 0
    index_reads: int = 0        # aggregations reading the search_tg index
    complete: bool = True       # False when max_documents_read cut the reading short
    hits: dict = field(default_factory=dict, repr=False)  # _id -> score of every hit read


def probe_pipeline(collection: str, trigram_batch: list[str], filters: dict | None = None,
                   limit: int = MAX_DOCUMENTS_READ, id_range: dict | None = None) -> list[dict]:
    """The aggregation that reads, through the `search_tg` index, the documents holding any of
    trigram_batch that pass filters, with the fields scoring needs."""
    # filters get a $match of their own: SecantusDB routes a query through one index only when
    # the index covers every field of it, so {status, search_tg} in one $match is a collection
    # scan there; MongoDB merges the two stages and plans them together.
    return [
        {"$match": {SEARCH_TERMS_FIELD: trigram_batch[0], "_id": id_range} if id_range and len(trigram_batch) == 1
         else {SEARCH_TERMS_FIELD: {"$in": trigram_batch}, **({"_id": id_range} if id_range else {})}},
        *([{"$match": filters}] if filters else []),
        {"$project": {SEARCH_TERMS_FIELD: 1, **dict.fromkeys(SEARCH_FIELDS[collection], 1)}},
        {"$limit": limit},
    ]


# Ids are "<prefix>_" and base32 (vectis.ids): the ranges the holders of a trigram are read in.
ID_PREFIXES = {"tickets": "tkt_", "customers": "cus_", "assets": "ast_", "alerts": "alr_", "notes": "not_"}
ID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def _doubling(bounds: list[str]) -> list[str]:
    """Bounds 1, 2, 4, 8 ... ranges in: the first ranges small, few ranges in all."""
    picked, i, stride = [], 0, 1
    while i < len(bounds):
        picked.append(bounds[i])
        i, stride = i + stride, stride * 2
    return picked


def _score(outcome: SearchOutcome, seen: set, collection: str, query_trigrams: frozenset, needed: int,
           threshold: float, doc: dict) -> None:
    outcome.documents_read += 1
    if doc["_id"] in seen:
        return
    seen.add(doc["_id"])
    if len(query_trigrams.intersection(doc.get(SEARCH_TERMS_FIELD) or ())) < needed:
        return
    value = best_similarity(query_trigrams, searchable_texts(collection, doc))
    if value >= threshold:
        outcome.hits[doc["_id"]] = round(value, 3)


def reading_batches(probe: list[str], frequencies: Mapping[str, int],
                    floor: int = BATCH_FLOOR) -> Iterator[list[str]]:
    """probe (rarest first) cut into consecutive batches, one index read each, where a batch's
    estimated cost at most doubles what was read before it (or stays under floor): few round
    trips, yet a common trigram is read only once the rarer ones could not settle the answer."""
    batch: list[str] = []
    batch_cost = read_cost = 0
    for trigram in probe:
        cost = frequencies.get(trigram, 0)
        if batch and batch_cost + cost > max(read_cost, floor):
            yield batch
            read_cost += batch_cost
            batch, batch_cost = [], 0
        batch.append(trigram)
        batch_cost += cost
    if batch:
        yield batch


def _nothing_unread_can_rank(hits: dict, limit: int, unread_trigrams: int, query_size: int) -> bool:
    if len(hits) < limit:
        return False
    # An unread document shares at most the unread trigrams, so it scores at most that over q;
    # it would have to beat the last hit outright (a tie could still win on _id).
    cap = round(unread_trigrams / query_size, 3)
    return sorted(hits.values(), reverse=True)[limit - 1] > cap


class SearchRepository:
    def __init__(self, db: Database):
        self._db = db
        self._frequencies: TTLCache = TTLCache(maxsize=1024, ttl=FREQUENCY_TTL_SECONDS)

    async def search(self, slug: str, collection: str, query: str, *, limit: int = 20,
                     threshold: float = DEFAULT_THRESHOLD,
                     filters: dict | None = None) -> list[tuple[dict, float]]:
        """The documents best matching query, as (document, score) pairs, best first.

        Scores are pg_trgm similarities per field and per word (see vectis.search.score), rounded
        to 3 decimals; documents under threshold are left out; equal scores are ordered by _id.
        filters is an extra MongoDB query that every result must match (e.g. {"status": "open"}).
        Documents come without their `search_tg`.
        """
        outcome = await self.search_outcome(slug, collection, query, limit=limit,
                                            threshold=threshold, filters=filters)
        return outcome.results

    async def search_outcome(self, slug: str, collection: str, query: str, *, limit: int = 20,
                             threshold: float = DEFAULT_THRESHOLD, filters: dict | None = None,
                             max_documents_read: int = MAX_DOCUMENTS_READ) -> SearchOutcome:
        """search(), with how much it read."""
        if collection not in SEARCH_FIELDS:
            raise ValueError(f"collection {collection!r} is not searchable")
        if filters and SEARCH_TERMS_FIELD in filters:
            raise ValueError(f"filters may not constrain {SEARCH_TERMS_FIELD}")
        query_trigrams = trigrams(query)
        needed = min_shared(len(query_trigrams), threshold)
        outcome = SearchOutcome(results=[])
        if not query_trigrams or limit <= 0:
            return outcome

        coll = self._db.tenant(slug)[collection]
        frequencies = await self._frequencies_of(slug, collection)
        ordered = rarest_first(query_trigrams, frequencies)
        probe_size = len(ordered) - needed + 1
        seen: set = set()
        read_up_to = 0
        first = await self._perfect_hits_first(coll, collection, query_trigrams, ordered[0], threshold,
                                               filters, limit, max_documents_read, outcome, seen)
        if first == "read":     # every holder of the rarest trigram has been read and scored
            read_up_to = 1
        if first in ("settled", "capped") or first == "read" and _nothing_unread_can_rank(
                outcome.hits, limit, len(ordered) - 1, len(ordered)):
            outcome.results = await self._ranked_documents(coll, outcome.hits, limit)
            return outcome
        for batch in reading_batches(ordered[read_up_to:probe_size], frequencies):
            read_up_to += len(batch)
            outcome.index_reads += 1
            cursor = await coll.aggregate(probe_pipeline(
                collection, batch, filters, max_documents_read - outcome.documents_read))
            async for doc in cursor:
                _score(outcome, seen, collection, query_trigrams, needed, threshold, doc)
            if outcome.documents_read >= max_documents_read:
                outcome.complete = False
                break
            if _nothing_unread_can_rank(outcome.hits, limit, len(ordered) - read_up_to, len(ordered)):
                break
        outcome.results = await self._ranked_documents(coll, outcome.hits, limit)
        return outcome

    async def _perfect_hits_first(self, coll, collection: str, query_trigrams: frozenset, rarest: str,
                                  threshold: float, filters: dict | None, limit: int, max_documents_read: int,
                                  outcome: SearchOutcome, seen: set) -> str:
        """Read the holders of the rarest trigram in ranges of ids, ascending, until `limit`
        documents scoring 1.0 are found.

        A common word's rarest trigram is held by thousands of documents, and SecantusDB decodes
        every one an index read returns. But a score of 1.0 needs every query trigram, and equal
        scores rank by _id, so the first `limit` perfect hits by _id are the answer, read in the
        first few ranges. Every document read is scored, so nothing here changes a result.
        Returns "settled" (the answer is known), "read" (every holder was read), "capped"
        (max_documents_read reached) or "skipped"."""
        prefix = ID_PREFIXES.get(collection)
        if prefix is None or len(query_trigrams) >= 2000:   # 1.0 after rounding needs every trigram
            return "skipped"
        needed = min_shared(len(query_trigrams), threshold)
        lower: dict = {}
        for upper in [*_doubling([prefix + c for c in ID_ALPHABET[1:]]), None]:
            outcome.index_reads += 1
            cursor = await coll.aggregate(probe_pipeline(
                collection, [rarest], filters, max_documents_read - outcome.documents_read,
                id_range={**lower, **({"$lt": upper} if upper else {})}))
            async for doc in cursor:
                _score(outcome, seen, collection, query_trigrams, needed, threshold, doc)
            if outcome.documents_read >= max_documents_read:
                outcome.complete = False
                return "capped"
            if upper is None:
                return "read"
            if sum(1 for v in outcome.hits.values() if v == 1.0) >= limit:
                return "settled"
            lower = {"$gte": upper}
        return "read"

    @staticmethod
    async def _ranked_documents(coll, scores: dict, limit: int) -> list[tuple[dict, float]]:
        best = sorted(scores.items(), key=lambda item: (-item[1], str(item[0])))[:limit]
        if not best:
            return []
        docs = {doc["_id"]: doc for doc in await coll.find(
            {"_id": {"$in": [doc_id for doc_id, _ in best]}}, {SEARCH_TERMS_FIELD: 0}).to_list()}
        # A document deleted since it was scored is simply left out.
        return [(docs[doc_id], value) for doc_id, value in best if doc_id in docs]

    async def _frequencies_of(self, slug: str, collection: str) -> Counter:
        """Trigram document counts in a random sample of the collection, cached for a while."""
        key = (self._db.prefix, slug, collection)
        frequencies = self._frequencies.get(key)
        if frequencies is None:
            cursor = await self._db.tenant(slug)[collection].aggregate([
                {"$sample": {"size": FREQUENCY_SAMPLE_SIZE}},
                {"$project": {"_id": 0, SEARCH_TERMS_FIELD: 1}},
            ])
            frequencies = Counter()
            async for doc in cursor:
                frequencies.update(doc.get(SEARCH_TERMS_FIELD) or ())
            self._frequencies[key] = frequencies
        return frequencies

    async def search_global(self, slug: str, query: str, *, per_category: int = 5,
                            threshold: float = DEFAULT_THRESHOLD) -> dict[str, list[tuple[dict, float]]]:
        """The best hits of every category (customers, tickets, devices, alerts, notes)."""
        results = await asyncio.gather(*(
            self.search(slug, collection, query, limit=per_category, threshold=threshold)
            for collection in SEARCH_CATEGORIES.values()))
        return dict(zip(SEARCH_CATEGORIES, results, strict=True))

    async def backfill(self, slug: str, collection: str, batch_size: int = 500) -> int:
        """Give `search_tg` to the documents stored without it (written before search existed);
        returns how many were updated. This one scans: run it once per tenant after an upgrade."""
        if collection not in SEARCH_FIELDS:
            raise ValueError(f"collection {collection!r} is not searchable")
        coll = self._db.tenant(slug)[collection]
        missing = {SEARCH_TERMS_FIELD: {"$exists": False}}
        updated = 0
        batch: list[UpdateOne] = []
        async for doc in coll.find(missing):
            batch.append(UpdateOne({"_id": doc["_id"], **missing},
                                   {"$set": {SEARCH_TERMS_FIELD: search_terms(collection, doc)}}))
            if len(batch) >= batch_size:
                updated += (await coll.bulk_write(batch, ordered=False)).modified_count
                batch = []
        if batch:
            updated += (await coll.bulk_write(batch, ordered=False)).modified_count
        return updated
