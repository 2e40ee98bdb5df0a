"""Sync benchmark: a large simulated PSA (Autotask shapes, over loopback HTTP) synced into an
empty tenant database, then an incremental run with nothing changed.

    python bench/sync_bench.py                         # 50 000 tickets, embedded SecantusDB
    python bench/sync_bench.py --tickets 5000 --mongo-uri mongodb://127.0.0.1:27017/

The tenant is generated with the demo generator (about 8 messages per ticket), the simulator is
seeded from it, then the tenant's synced collections are emptied so the first sync writes them
all. Memory is the process's peak RSS (it includes the simulator's own copy of the data, which
lives in this process) and the sync's own peak as measured by tracemalloc.
"""
from __future__ import annotations

import argparse
import resource
import secrets
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pymongo import monitoring

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_db import add_database_option, run_with_database  # noqa: E402

from vectis.demo.seed import seed_tenant  # noqa: E402
from vectis.simulators.fleet import SimulatorFleet  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402
from vectis.sync.engine import SyncEngine  # noqa: E402
from vectis.vendors.connections import Connections  # noqa: E402
from vectis.vendors.http import VendorHttp  # noqa: E402

SLUG = "syncbench"
SYNCED = ("customers", "contacts", "tickets", "ticket_messages", "contracts", "invoices")


class DatabaseTime(monitoring.CommandListener):
    """Where the sync waits on the database: total time and count per (command, collection)."""

    def __init__(self) -> None:
        self.pending: dict[int, tuple[str, str]] = {}
        self.totals: dict[tuple[str, str], list[float]] = {}

    def started(self, event) -> None:
        target = event.command.get(event.command_name)
        self.pending[event.request_id] = (event.command_name, target if isinstance(target, str) else "")

    def succeeded(self, event) -> None:
        self._end(event)

    def failed(self, event) -> None:
        self._end(event)

    def _end(self, event) -> None:
        key = self.pending.pop(event.request_id, None)
        if key is not None:
            total = self.totals.setdefault(key, [0.0, 0])
            total[0] += event.duration_micros / 1e6
            total[1] += 1

    def report(self, top: int = 8) -> str:
        rows = sorted(self.totals.items(), key=lambda kv: -kv[1][0])[:top]
        return "\n".join(f"    {name:<12} {coll:<16} {secs:>7.1f} s  {n:>6} calls  "
                         f"{1000 * secs / n:>7.1f} ms each" for (name, coll), (secs, n) in rows)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(uri: str, tickets: int) -> None:
    database_time = DatabaseTime()
    storage = Storage(make_client(uri, event_listeners=[database_time]), "syncbench" + secrets.token_hex(3))
    await storage.db.ensure_control_indexes()
    fleet = SimulatorFleet()
    http = VendorHttp()
    try:
        customers = max(10, tickets // 100)
        started = time.perf_counter()
        await seed_tenant(storage, SLUG, "Sync Bench", passwords={}, customers=customers,
                          tickets_per_customer=tickets / customers,
                          now=datetime.now(UTC) - timedelta(hours=1),
                          vendors=("autotask", "ninjaone", "datto_bcdr"))
        db = storage.db.tenant(SLUG)
        counts = {c: await db[c].count_documents({}) for c in SYNCED}
        print(f"generated and stored {counts} in {time.perf_counter() - started:.1f} s")
        connections = Connections(storage, secrets.token_bytes(32), http)
        started = time.perf_counter()
        await fleet.start_for_tenants(storage, connections, [SLUG])
        source = next(s for s in await storage.sources.list(SLUG) if s["kind"] == "psa")
        # What the PSA holds: portal tickets (about 6 %) exist only in Vectis, by design.
        # Counted in Python: SecantusDB answers a count over a large `$in` with a scan that
        # compares every document with every listed id (hours at 50k tickets).
        psa_tickets = {t["_id"] for t in await db.tickets.find({"source_id": source["_id"]}, {"_id": 1}).to_list()}
        per_ticket = await (await db.ticket_messages.aggregate(
            [{"$group": {"_id": "$ticket_id", "n": {"$sum": 1}}}])).to_list()
        expected = {"tickets": len(psa_tickets),
                    "ticket_messages": sum(g["n"] for g in per_ticket if g["_id"] in psa_tickets)}
        for collection in SYNCED:       # the first sync must write everything itself
            await db[collection].delete_many({} if collection != "customers" else {"_id": {"$exists": True}})
        print(f"simulator seeded in {time.perf_counter() - started:.1f} s; peak RSS so far {rss_mb():.0f} MB")

        engine = SyncEngine(storage, connections)
        tracemalloc.start()
        database_time.totals.clear()
        started = time.perf_counter()
        reports = await engine.sync_source(SLUG, source["_id"])
        full = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"full sync: {full:.1f} s, sync peak {peak / 2**20:.0f} MB (tracemalloc), "
              f"process peak RSS {rss_mb():.0f} MB")
        for r in reports:
            print(f"  {r.entity:<10} {r.mode:<11} {r.seconds:>7.1f} s  {r.counts}"
                  + (f"  ERROR {r.error}" if r.error else ""))
        print("  database time by command:\n" + database_time.report())
        after = {c: await db[c].count_documents({}) for c in SYNCED}
        print(f"stored after sync: {after}")
        missing = {c: (after[c], n) for c, n in expected.items() if after[c] != n}
        print("every PSA ticket and message synced" if not missing else f"MISSING (stored, in the PSA): {missing}")
        started = time.perf_counter()
        reports = await engine.sync_source(SLUG, source["_id"])
        print(f"incremental sync with nothing changed: {time.perf_counter() - started:.1f} s "
              f"({sum(r.counts['seen'] for r in reports)} records re-read in the overlap window)")
    finally:
        await fleet.stop()
        await http.close()
        await storage.db.drop_everything()
        await storage.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_option(parser)
    parser.add_argument("--tickets", type=int, default=50_000)
    args = parser.parse_args()
    if not 100 <= args.tickets <= 200_000:
        parser.error("--tickets must be 100-200000")
    run_with_database(parser, args.mongo_uri, lambda uri: run(uri, args.tickets), cache_size="1G")


if __name__ == "__main__":
    main()
