"""Metrics snapshot benchmark: how long /metrics takes to read every tenant's sources and rule
backlog from the database, one tenant at a time and a few at a time.

    python bench/metrics_bench.py                      # 300 tenants, embedded SecantusDB
    python bench/metrics_bench.py --tenants 1000 --mongo-uri mongodb://127.0.0.1:27017/

The snapshot has SNAPSHOT_TIMEOUT_SECONDS to finish; past it, /metrics reports the database as
down. Each tenant gets two sources and `--executions` rule executions (a tenth of them queued).
"""
from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_db import add_database_option, run_with_database  # noqa: E402

from vectis import metrics  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402

READS = 5


async def fill(storage: Storage, tenants: int, executions: int) -> None:
    for i in range(tenants):
        slug = f"m{i:04d}"
        await storage.tenants.create(slug, f"Tenant {i}")
        db = storage.db.tenant(slug)
        await db["sources"].insert_many([
            {"_id": "src_psa", "kind": "psa", "vendor": "halopsa", "status": "connected", "sync_failures": 0},
            {"_id": "src_rmm", "kind": "rmm", "vendor": "ninjaone", "status": "connected", "sync_failures": 0}])
        if executions:
            await db["rule_executions"].insert_many(
                [{"_id": f"rex_{n}", "status": "queued" if n % 10 == 0 else "succeeded"} for n in range(executions)])


async def run(uri: str, tenants: int, executions: int) -> None:
    client = make_client(uri)
    storage = Storage(client, "metricsbench" + secrets.token_hex(3))
    try:
        started = time.monotonic()
        await fill(storage, tenants, executions)
        await storage.ensure_indexes()   # as the server has them
        print(f"{tenants} tenants, {executions} rule executions each, filled in {time.monotonic() - started:.1f} s")
        print(f"snapshot timeout: {metrics.SNAPSHOT_TIMEOUT_SECONDS:.0f} s")
        for concurrency in (1, metrics.SNAPSHOT_CONCURRENCY):
            metrics.SNAPSHOT_CONCURRENCY = concurrency
            snapshot = metrics.DatabaseSnapshot()
            snapshot.storage = storage
            times = []
            for _ in range(READS):
                started = time.monotonic()
                sources, rules = await snapshot._read()
                times.append(time.monotonic() - started)
            assert len(sources) == 2 * tenants and len(rules) == tenants
            print(f"  {concurrency:2d} at a time: median {statistics.median(times):.2f} s, "
                  f"max {max(times):.2f} s over {READS} reads")
    finally:
        await storage.db.drop_everything()
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_option(parser)
    parser.add_argument("--tenants", type=int, default=300)
    parser.add_argument("--executions", type=int, default=200)
    args = parser.parse_args()
    if not (1 <= args.tenants <= 5_000 and 0 <= args.executions <= 10_000):
        parser.error("--tenants must be 1-5000, --executions 0-10000")
    run_with_database(parser, args.mongo_uri, lambda uri: run(uri, args.tenants, args.executions))


if __name__ == "__main__":
    main()
