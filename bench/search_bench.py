"""Trigram search benchmark: load synthetic tickets, run searches, print latency and candidates.

    python bench/search_bench.py                      # starts the embedded SecantusDB in a temp dir
    python bench/search_bench.py --mongo-uri mongodb://127.0.0.1:27017/ --tickets 20000

Loopback only, bounded in size and time; it drops the databases it created.
"""
from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_db import add_database_option, run_with_database  # noqa: E402

from vectis.search import DEFAULT_THRESHOLD, min_shared, probe_trigrams, score, searchable_texts, trigrams  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402

SLUG = "bench"

SUBJECTS = (
    "Outlook keeps asking for password", "VPN disconnects every {n} minutes",
    "Printer on {floor} floor offline", "Server disk C: below 10% on {server}", "{app} is very slow",
    "Cannot access shared drive {drive}:", "Request: install {app} on {ws}",
    "Wi-Fi drops in {room}", "Phishing e-mail received - please check", "Laptop {ws} won't boot",
    "MFA: new phone for {person}", "Scanner to e-mail not working", "Backup failed on {server}",
    "Teams meetings freeze", "Password reset for {person}", "Quote request: replacement for {ws}",
    "{server} unreachable", "Shared mailbox not showing in Outlook", "Internet down at {site}",
    "Certificate expiring on {server}", "New hire onboarding: {person}", "Offboarding: {person}",
    "Firewall rule for {app}", "License renewal for {app}", "Calendar sync broken for {person}",
)
APPS = ("QuickBooks", "Sage 50", "AutoCAD", "Dentrix", "Clio", "Adobe Acrobat", "Salesforce", "SAP B1")
PEOPLE = ("Maria Lopez", "James Chen", "Priya Patel", "Tom Becker", "Anna Novak", "Lucas Silva",
          "Emma Dubois", "Noah Smith", "Olivia Brown", "Kenji Sato", "Fatima Khan", "Liam Walsh")
FLOORS = ("1st", "2nd", "3rd", "4th", "ground")
ROOMS = ("conference room", "break room", "reception", "warehouse", "lab")
SITES = ("main office", "branch office", "warehouse", "clinic", "studio")
DOMAINS = ("contoso.com", "fabrikam.com", "northwind.net", "tailspin.io", "litware.org", "adatum.com")


def synthetic_ticket(rng: random.Random, i: int) -> dict:
    person = rng.choice(PEOPLE)
    subject = rng.choice(SUBJECTS).format(
        n=rng.choice((5, 10, 15, 30)), floor=rng.choice(FLOORS), server=f"SRV-{rng.randint(1, 400):03d}",
        app=rng.choice(APPS), drive=rng.choice("FGHSTX"), ws=f"WS-{rng.randint(1, 2000):04d}",
        room=rng.choice(ROOMS), person=person, site=rng.choice(SITES))
    first, last = person.lower().split()
    return {"_id": f"tkt_bench{i:08d}", "uuid": f"00000000-0000-4000-8000-{i:012d}",
            "number": f"CW-{100000 + i}", "subject": subject,
            "status": rng.choice(("new", "open", "in_progress", "waiting", "resolved", "closed")),
            "requester": {"name": person, "email": f"{first}.{last}{rng.randint(1, 40)}@{rng.choice(DOMAINS)}"}}


def typo(rng: random.Random, word: str) -> str:
    at = rng.randrange(1, len(word) - 1)
    return word[:at] + word[at + 1:]


OPEN_STATUSES = {"status": {"$in": ["new", "open", "in_progress", "waiting"]}}


def make_queries(rng: random.Random, tickets: list[dict], count: int) -> list[tuple[str, str, dict | None]]:
    words = ["vpn", "printer", "outlook", "password", "backup", "certificate", "firewall", "offline",
             "quickbooks", "mailbox", "onboarding", "phishing", "license", "calendar", "scanner"]
    kinds = {
        "word": lambda: rng.choice(words),
        "typo": lambda: typo(rng, rng.choice([w for w in words if len(w) > 5])),
        "phrase": lambda: " ".join(rng.choice(tickets)["subject"].split()[:3]),
        "number": lambda: rng.choice(tickets)["number"],
        "email": lambda: rng.choice(tickets)["requester"]["email"],
        "person": lambda: rng.choice(PEOPLE),
        "miss": lambda: rng.choice(("kubernetes", "zebra crossing", "xylophone", "qwzx")),
        "open+word": lambda: rng.choice(words),  # with the open-statuses filter
    }
    names = list(kinds)
    return [(kind, kinds[kind](), OPEN_STATUSES if kind.startswith("open") else None)
            for kind in (names[i % len(names)] for i in range(count))]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(values: list[float], unit: str = "", digits: int = 1) -> str:
    return (f"p50 {percentile(values, 50):.{digits}f}{unit}  p95 {percentile(values, 95):.{digits}f}{unit}  "
            f"max {max(values):.{digits}f}{unit}")


async def single_pass_search(storage: Storage, query: str, limit: int = 20) -> int:
    """The first design, for comparison: one aggregation over every probe trigram that counts
    shared trigrams server-side ($setIntersection), keeps the best 500, then scores in Python."""
    query_trigrams = sorted(trigrams(query))
    if not query_trigrams:
        return 0
    needed = min_shared(len(query_trigrams), DEFAULT_THRESHOLD)
    cursor = await storage.db.tenant(SLUG)["tickets"].aggregate([
        {"$match": {"search_tg": {"$in": probe_trigrams(query_trigrams, needed)}}},
        {"$addFields": {"shared": {"$size": {"$setIntersection": ["$search_tg", query_trigrams]}}}},
        {"$match": {"shared": {"$gte": needed}}},
        {"$sort": {"shared": -1, "_id": 1}},
        {"$limit": 500},
        {"$project": {"search_tg": 0, "shared": 0}},
    ])
    hits = [value for doc in await cursor.to_list()
            if (value := score(query, searchable_texts("tickets", doc))) >= DEFAULT_THRESHOLD]
    return len(sorted(hits, reverse=True)[:limit])


async def run(uri: str, tickets_count: int, searches: int, baseline: int, seed: int, deadline: float) -> None:
    rng = random.Random(seed)
    storage = Storage(make_client(uri), "vbench" + secrets.token_hex(4))
    try:
        await storage.db.ensure_control_indexes()
        await storage.tenants.create(SLUG, "Bench")
        tickets = [synthetic_ticket(rng, i) for i in range(tickets_count)]
        started = time.perf_counter()
        for at in range(0, len(tickets), 1000):
            await storage.bulk.insert_missing(SLUG, "tickets", tickets[at:at + 1000])
        print(f"loaded {tickets_count} tickets in {time.perf_counter() - started:.1f} s")

        queries = make_queries(rng, tickets, searches)
        for _, query, filters in queries[:5]:  # warm-up (and the cached trigram frequencies), not measured
            await storage.search.search(SLUG, "tickets", query, filters=filters)
        latencies, by_kind, read, index_reads, results, incomplete = [], {}, [], [], [], 0
        for kind, query, filters in queries:
            if time.monotonic() > deadline:
                print(f"time limit reached after {len(latencies)} searches")
                break
            started = time.perf_counter()
            outcome = await storage.search.search_outcome(SLUG, "tickets", query, filters=filters)
            elapsed_ms = (time.perf_counter() - started) * 1000
            latencies.append(elapsed_ms)
            by_kind.setdefault(kind, []).append((elapsed_ms, outcome.documents_read))
            read.append(outcome.documents_read)
            index_reads.append(outcome.index_reads)
            results.append(len(outcome.results))
            incomplete += not outcome.complete

        print(f"{len(latencies)} searches, limit 20, threshold {DEFAULT_THRESHOLD}")
        print(f"  latency          {summary(latencies, ' ms')}  mean {statistics.mean(latencies):.1f} ms")
        for kind, values in by_kind.items():
            print(f"    {kind:<9} ({len(values):>3})  {summary([v[0] for v in values], ' ms')}"
                  f"   documents read p50 {percentile([v[1] for v in values], 50):.0f}")
        print(f"  documents read   {summary(read, digits=0)}  (cut short by the cap: {incomplete})")
        print(f"  index reads      {summary(index_reads, digits=0)}")
        print(f"  results          {summary(results, digits=0)}")

        if baseline:
            timings = []
            for kind, query, _ in queries[:baseline]:
                if kind.startswith("open"):
                    continue
                if time.monotonic() > deadline:
                    break
                started = time.perf_counter()
                await single_pass_search(storage, query)
                timings.append(((time.perf_counter() - started) * 1000, kind))
            print(f"single-pass aggregation, first {len(timings)} queries:")
            print(f"  latency          {summary([t for t, _ in timings], ' ms')}")
            for kind in by_kind:
                values = [t for t, k in timings if k == kind]
                if values:
                    print(f"    {kind:<9} ({len(values):>3})  {summary(values, ' ms')}")
    finally:
        await storage.db.drop_everything()
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_option(parser)
    parser.add_argument("--tickets", type=int, default=20_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=14,
                        help="also time the single-pass aggregation on the first N queries (0: skip)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=600)
    args = parser.parse_args()
    if not (1 <= args.tickets <= 200_000 and 1 <= args.searches <= 2_000 and 0 <= args.baseline <= 200):
        parser.error("--tickets must be 1-200000, --searches 1-2000, --baseline 0-200")
    deadline = time.monotonic() + args.max_seconds

    run_with_database(parser, args.mongo_uri, lambda uri: run(uri, args.tickets, args.searches, args.baseline, args.seed, deadline), cache_size="512M")


if __name__ == "__main__":
    main()
