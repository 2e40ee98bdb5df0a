"""Trigram search over a tenant's searchable collections, served by the `search_tg` index.

A document can only reach the threshold if it shares min_shared(q, threshold) of the query's q
trigrams, so it must hold one of any q - needed + 1 of them (the probe). The probe is read
through the multikey index, rarest trigram first, and every document read is scored exactly in
Python. A document not read yet holds none of the trigrams whose holders were all read, which
caps its score: at most shared / q, and less where the trigrams left cannot make whole words
without others (vectis.search.best_possible_similarity). Once `limit` hits beat that cap, or
with fewer hits the cap is under the threshold, nothing left can change the answer.

Equal scores rank by _id, and real hits very often score exactly such a cap (a word made only of
query trigrams scores shared / q). So the holders of the trigram that would settle the answer
are read in ascending _id, and only up to the limit-th hit's _id: an unread document past it
can at best tie with it, and then ranks after it. The same rule, before anything was read,
reads the rarest trigram in ranges of ids until `limit` documents score 1.0. Common words thus
read a few dozen documents, and queries that match nothing read almost nothing.

Document frequencies for "rarest" are estimated from a small random sample, cached per tenant
and collection; they only decide the reading order, never the results.
"""
from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from cachetools import LRUCache
from pymongo import UpdateOne

from ..search import (
    DEFAULT_THRESHOLD,
    SEARCH_CATEGORIES,
    SEARCH_FIELDS,
    SEARCH_TERMS_FIELD,
    best_possible_similarity,
    best_similarity,
    min_shared,
    rarest_first,
    search_terms,
    searchable_texts,
    trigrams,
)
from .core import Database

log = logging.getLogger(__name__)

# Bounds the work of one search: past this many documents read, the best hits so far are
# returned (SearchOutcome.complete is then False).
MAX_DOCUMENTS_READ = 5000
FREQUENCY_SAMPLE_SIZE = 500
# Past this age the frequencies are refreshed in the background, the search going on with the
# older ones: on SecantusDB $sample decodes the whole collection (~2 s at 50,000 tickets), a
# stall no search should wait for once the first one has paid it.
FREQUENCY_TTL_SECONDS = 3600
# A rarest trigram held by fewer sampled documents is read in one go with the other rare ones:
# ranges of ids would only add round trips for the few documents holding it.
RANGES_FLOOR = 2
# settling_order weighs the trigrams left only while this few are (each weighing computes a cap).
ORDERING_LIMIT = 10
# Trigrams this common in the sample (0.6 %) or less may share one index read: ~300 documents
# at 50,000, where one more round trip costs what reading ~10 documents does.
BATCH_FLOOR = 3


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
        # Only the searched texts: scoring needs nothing else, and the ~80 stored trigrams of a
        # ticket were a third of what SecantusDB spent on each document read (projecting and
        # encoding them), and more decoding here.
        {"$project": dict.fromkeys(SEARCH_FIELDS[collection], 1)},
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


def reading_batches(probe: list[str], frequencies: Mapping[str, int],
                    floor: int = BATCH_FLOOR, already_read: int = 0) -> Iterator[list[str]]:
    """probe (rarest first) cut into consecutive batches, one index read each, where a batch's
    estimated cost at most doubles what was read before it (already_read, then the batches;
    or stays under floor): few round trips, yet a common trigram is read only once the rarer
    ones could not settle the answer."""
    batch: list[str] = []
    batch_cost, read_cost = 0, already_read
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


def settling_order(ordered: list[str], frequencies: Mapping[str, int]) -> list[str]:
    """ordered (rarest first), where trigrams as common as each other come in the order that
    lowers the cap of what is left unread the most (the middle of a word before its ends).
    Trigrams of one word often have exactly the same holders, so this costs no extra reading."""
    rest, result = list(ordered), []
    while rest:
        frequency = frequencies.get(rest[0], 0)
        same = [t for t in rest if frequencies.get(t, 0) == frequency]
        # Rare trigrams are cheap to read in any order; on longer queries the choice costs more
        # time than it saves.
        if len(same) == 1 or frequency < RANGES_FLOOR or len(rest) > ORDERING_LIMIT:
            pick = same[0]
        else:
            query = frozenset(ordered)
            pick = min(same, key=lambda t: best_possible_similarity([u for u in rest if u != t], query))
        rest.remove(pick)
        result.append(pick)
    return result


@dataclass
class Progress:
    """How far the holders of the query's trigrams (rarest first) have been read."""
    ordered: list[str]             # the query's trigrams, rarest first
    full: int = 0                  # the first `full` of them: every holder read
    upper: str | None = None       # the next one: every holder with an _id below this read
    upper_inclusive: bool = False  # ... or up to and including it

    def best(self, lacking: int) -> float:
        """The best score of a document lacking the first `lacking` trigrams."""
        return best_possible_similarity(self.ordered[lacking:], frozenset(self.ordered))

    def cap(self, lacking: int) -> float:
        return round(self.best(lacking), 3)

    def read_past(self, doc_id: str) -> bool:
        return self.upper is not None and (doc_id <= self.upper if self.upper_inclusive else doc_id < self.upper)

    def after_upper(self) -> dict:
        return {} if self.upper is None else {"$gt" if self.upper_inclusive else "$gte": self.upper}

    def finish_trigram(self) -> None:
        self.full, self.upper, self.upper_inclusive = self.full + 1, None, False


def limit_th_hit(hits: dict, limit: int) -> tuple[float, str] | None:
    """The score and _id of the limit-th best hit (ties by _id), if there are that many."""
    if len(hits) < limit:
        return None
    doc_id, value = heapq.nsmallest(limit, hits.items(), key=lambda item: (-item[1], str(item[0])))[-1]
    return value, str(doc_id)


def settled(hits: dict, limit: int, progress: Progress, threshold: float) -> bool:
    """Whether no unread document can change the answer: each is capped by the trigrams it
    must lack; it may only tie with the limit-th hit if its _id comes after that hit's; with
    fewer hits than limit, it must fall under the threshold."""
    last = limit_th_hit(hits, limit)
    if last is None:
        return progress.best(progress.full) < threshold
    score, doc_id = last
    beyond = progress.cap(progress.full)   # unread documents past `upper`, or all of them
    if progress.upper is None or beyond < score:
        return beyond < score
    # Up to `upper` unread documents lack one more trigram.
    return progress.cap(progress.full + 1) < score and beyond == score and progress.read_past(doc_id)


def ties_can_settle(hits: dict, limit: int, progress: Progress) -> tuple[float, str] | None:
    """The limit-th hit, when reading the next trigram's holders up to its _id settles the
    answer: unread documents lacking that trigram too fall under its score, and the others
    can at most tie with it."""
    last = limit_th_hit(hits, limit)
    if last is None:
        return None
    return last if progress.cap(progress.full) == last[0] and progress.cap(progress.full + 1) < last[0] else None


class _Reader:
    """Reads holders of trigrams through the index and scores every document read."""

    def __init__(self, coll, collection: str, query_trigrams: frozenset, threshold: float,
                 filters: dict | None, max_documents_read: int, outcome: SearchOutcome):
        self.coll, self.collection, self.query_trigrams = coll, collection, query_trigrams
        self.threshold, self.filters, self.max_documents_read = threshold, filters, max_documents_read
        self.outcome = outcome
        self.seen: set = set()
        self.memo: dict[str, float] = {}

    async def read(self, trigram_batch: list[str], id_range: dict | None = None) -> bool:
        """Read and score; False once max_documents_read cut the reading short."""
        outcome = self.outcome
        outcome.index_reads += 1
        cursor = await self.coll.aggregate(probe_pipeline(
            self.collection, trigram_batch, self.filters,
            self.max_documents_read - outcome.documents_read, id_range=id_range))
        async for doc in cursor:
            outcome.documents_read += 1
            if doc["_id"] in self.seen:
                continue
            self.seen.add(doc["_id"])
            value = best_similarity(self.query_trigrams, searchable_texts(self.collection, doc), self.memo)
            if value >= self.threshold:
                outcome.hits[doc["_id"]] = round(value, 3)
        if outcome.documents_read >= self.max_documents_read:
            outcome.complete = False
            return False
        return True


class SearchRepository:
    def __init__(self, db: Database):
        self._db = db
        self._frequencies: LRUCache = LRUCache(maxsize=1024)   # key -> (Counter, when sampled)
        self._refreshing: dict[tuple, asyncio.Task] = {}

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
        outcome = SearchOutcome(results=[])
        if not query_trigrams or limit <= 0:
            return outcome

        coll = self._db.tenant(slug)[collection]
        frequencies = await self._frequencies_of(slug, collection)
        ordered = settling_order(rarest_first(query_trigrams, frequencies), frequencies)
        reader = _Reader(coll, collection, query_trigrams, threshold, filters, max_documents_read, outcome)
        await self._read_until_settled(reader, ordered, frequencies, limit, threshold,
                                       ID_PREFIXES.get(collection))
        outcome.results = await self._ranked_documents(coll, outcome.hits, limit)
        return outcome

    @staticmethod
    async def _read_until_settled(reader: _Reader, ordered: list[str], frequencies: Mapping[str, int],
                                  limit: int, threshold: float, id_prefix: str | None) -> None:
        hits = reader.outcome.hits
        progress = Progress(ordered)
        # By _id only where ids are strings of a known shape, so that a range holds every one.
        by_id = id_prefix is not None and len(ordered) < 2000  # 1.0 after rounding needs every trigram
        if by_id and frequencies.get(ordered[0], 0) >= RANGES_FLOOR:
            # Perfect hits first: in ranges of ids (1, 1, 2, 4 ... of the 32 first characters).
            for upper in [*_doubling([id_prefix + c for c in ID_ALPHABET[1:]]), None]:
                if not await reader.read([ordered[0]], {**progress.after_upper(), **({"$lt": upper} if upper else {})}):
                    return
                if upper is None:
                    progress.finish_trigram()
                else:
                    progress.upper = upper
                if settled(hits, limit, progress, threshold):
                    return
        # Past these, a document shares fewer than min_shared trigrams and is under the threshold;
        # sharing none is never a match, even with a threshold of 0.
        probe_size = len(ordered) - min_shared(len(ordered), threshold) + 1
        already_read = 0
        while progress.full < probe_size and not settled(hits, limit, progress, threshold):
            trigram = ordered[progress.full]
            last = ties_can_settle(hits, limit, progress) if by_id else None
            if last is not None:
                if not await reader.read([trigram], {**progress.after_upper(), "$lte": last[1]}):
                    return
                progress.upper, progress.upper_inclusive = last[1], True
            elif progress.upper is not None:
                if not await reader.read([trigram], progress.after_upper()):
                    return
                progress.finish_trigram()
                already_read += frequencies.get(trigram, 0)
            else:
                batch = next(reading_batches(ordered[progress.full:probe_size], frequencies,
                                             already_read=already_read))
                if not await reader.read(batch):
                    return
                for _ in batch:
                    progress.finish_trigram()
                already_read += sum(frequencies.get(t, 0) for t in batch)

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
        """Trigram document counts in a random sample of the collection, cached; once stale,
        refreshed in the background while the older counts go on serving."""
        key = (self._db.prefix, slug, collection)
        cached = self._frequencies.get(key)
        if cached is None:
            frequencies = await self._sample_frequencies(slug, collection)
            self._frequencies[key] = (frequencies, time.monotonic())
            return frequencies
        frequencies, taken_at = cached
        if time.monotonic() - taken_at > FREQUENCY_TTL_SECONDS and key not in self._refreshing:
            task = asyncio.get_running_loop().create_task(self._refresh_frequencies(key, slug, collection))
            self._refreshing[key] = task
            task.add_done_callback(lambda _: self._refreshing.pop(key, None))
        return frequencies

    async def _refresh_frequencies(self, key: tuple, slug: str, collection: str) -> None:
        try:
            self._frequencies[key] = (await self._sample_frequencies(slug, collection), time.monotonic())
        except Exception:   # noqa: BLE001 - the older counts stay; the next search tries again
            log.warning("refreshing search frequencies of %s/%s failed", slug, collection, exc_info=True)

    async def _sample_frequencies(self, slug: str, collection: str) -> Counter:
        cursor = await self._db.tenant(slug)[collection].aggregate([
            {"$sample": {"size": FREQUENCY_SAMPLE_SIZE}},
            {"$project": {"_id": 0, SEARCH_TERMS_FIELD: 1}},
        ])
        frequencies: Counter = Counter()
        async for doc in cursor:
            frequencies.update(doc.get(SEARCH_TERMS_FIELD) or ())
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
