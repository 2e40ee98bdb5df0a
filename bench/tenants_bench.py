"""Many tenants in one process: server RSS and hot-path latency when every call is to a tenant
the server has not seen for a while.

    python bench/tenants_bench.py [--tenants 1000] [--period 60] [--rotations 3] [--concurrency 4]
                                  [--hot-tenants 10] [--mongo-uri URI]

Creates --tenants tenants (each: an admin operator, a PAT, five customers) through the storage
layer, starts `server.py` on them as a separate process, and calls list_customers (limit 5) on
every tenant in a rotating order, each tenant once per --period seconds (the default, 60 s, is
issue 17's "each called once a minute": 1,000 tenants make 16.7 calls/s). Then the same rate on
--hot-tenants tenants only, whose caches stay warm: the difference is what a cache turnover
costs. Reports latency per rotation (the first one also pays for first-ever work per tenant)
and the server's RSS after each rotation and at its peak. Bounded: rotations × tenants calls,
a 30 s timeout each, loopback only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from bench_db import add_database_option, run_with_database
from mcp_bench import free_port, loadavg, wait_ready

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectis.credentials.pats import display_prefix, generate_pat, hash_token  # noqa: E402
from vectis.demo.seed import seed_tenant  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "MCP-Protocol-Version": "2025-11-25"}
BODY = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "list_customers", "arguments": {"limit": 5}}})


def slug_of(i: int) -> str:
    return f"t{i:05d}"


async def create_tenants(uri: str, prefix: str, pepper: str, count: int) -> list[str]:
    """The tenants, each with its own token; the first is seeded by the demo generator and its
    customers copied to the others (a generator run per tenant would take an hour)."""
    storage = Storage(make_client(uri), prefix)
    await storage.db.ensure_control_indexes()
    await seed_tenant(storage, slug_of(0), "Tenant 0", passwords={}, customers=5, tickets_per_customer=1,
                      now=datetime.now(UTC))
    customers = await storage.db.tenant(slug_of(0))["customers"].find({}).to_list()
    tokens = []
    for i in range(count):
        slug = slug_of(i)
        if i:
            await storage.tenants.create(slug, f"Tenant {i}")
            await storage.db.tenant(slug)["customers"].insert_many(customers)
        email = f"admin@{slug}.example"
        if await storage.users.by_email(slug, email) is None:
            await storage.users.create(slug, email, "Admin", "admin", "not-a-real-hash")
        user = await storage.users.by_email(slug, email)
        token = generate_pat()
        await storage.pats.insert(slug, token_hash=hash_token(pepper, token), prefix=display_prefix(token),
                                  label="bench", scopes=tuple(ALL_SCOPES), user_id=user["_id"], expires_at=None)
        tokens.append(token)
        if i % 100 == 99:
            print(f"  {i + 1} tenants created", file=sys.stderr, flush=True)
    await storage.close()
    return tokens


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def rotation(http: aiohttp.ClientSession, port: int, tokens: list[str], order: list[int], rate: float,
                   concurrency: int) -> dict:
    """Call each tenant of `order` once, paced at `rate` calls/s."""
    latencies: list[float] = []
    errors = 0
    began = time.monotonic()
    queue = iter(enumerate(order))

    async def worker():
        nonlocal errors
        for n, i in queue:
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            headers = {**HEADERS, "Authorization": f"Bearer {tokens[i]}", "Host": f"{slug_of(i)}.localhost:{port}"}
            started = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/api/mcp", data=BODY, headers=headers) as resp:
                payload = await resp.read()
            latencies.append(time.perf_counter() - started)
            if resp.status != 200 or b'"isError":false' not in payload:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"calls": len(latencies), "errors": errors, "seconds": round(time.monotonic() - began, 1),
            "p50_ms": round(q[49] * 1000, 2), "p95_ms": round(q[94] * 1000, 2), "p99_ms": round(q[98] * 1000, 2),
            "max_ms": round(latencies[-1] * 1000, 2)}


async def run(uri: str, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="vectis-tenants-bench-"))
    prefix = "tb" + secrets.token_hex(3)
    pepper = secrets.token_urlsafe(40)
    started = time.monotonic()
    tokens = await create_tenants(uri, prefix, pepper, args.tenants)
    print(f"{args.tenants} tenants created in {time.monotonic() - started:.0f} s", file=sys.stderr)
    port = free_port()
    env = {**os.environ, "VECTIS_TOKEN_PEPPER": pepper, "VECTIS_DB_PREFIX": prefix, "VECTIS_MONGO_URI": uri,
           "VECTIS_LOG_LEVEL": "warning", "VECTIS_DATA_DIR": str(workdir / "vectis"),
           "VECTIS_SYNC_INTERVAL_SECONDS": "0", "VECTIS_RULES_WORKER": "off"}
    # The server's log goes to a file: an unread pipe would fill and block its event loop.
    log = await asyncio.to_thread(open, workdir / "server.log", "w")
    proc = await asyncio.to_thread(subprocess.Popen, [sys.executable, str(ROOT / "server.py"), "--port", str(port)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=log)
    try:
        await asyncio.to_thread(wait_ready, f"http://127.0.0.1:{port}/readyz", proc, 600)
        report = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "loadavg_before": loadavg(),
                  "tenants": args.tenants, "period_s": args.period, "rss_at_start_mb": round(rss_mb(proc.pid)[0], 1),
                  "rotations": []}
        rate = args.tenants / args.period
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=args.concurrency)) as http:
            order = list(range(args.tenants))
            for r in range(args.rotations):
                # A fresh order each rotation: no tenant's calls line up with its neighbours'.
                order = order[1:] + order[:1] if r else order
                result = await rotation(http, port, tokens, order, rate, args.concurrency)
                result["rss_mb"], result["peak_rss_mb"] = (round(x, 1) for x in rss_mb(proc.pid))
                report["rotations"].append(result)
                print(f"rotation {r + 1}: {result}", file=sys.stderr, flush=True)
            hot = list(range(min(args.hot_tenants, args.tenants)))
            calls = max(len(hot), int(rate * min(args.period, 60)))
            result = await rotation(http, port, tokens, (hot * (calls // len(hot) + 1))[:calls], rate,
                                    args.concurrency)
            result["tenants"] = len(hot)
            result["rss_mb"], result["peak_rss_mb"] = (round(x, 1) for x in rss_mb(proc.pid))
            report["hot"] = result
            print(f"hot ({len(hot)} tenants): {result}", file=sys.stderr, flush=True)
        report["loadavg_after"] = loadavg()
        print(json.dumps(report, indent=2))
    finally:
        proc.terminate()
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--period", type=float, default=60.0, help="seconds between two calls of one tenant")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--hot-tenants", type=int, default=10)
    add_database_option(parser)
    args = parser.parse_args()
    if not (1 <= args.tenants <= 5000 and 1 <= args.rotations <= 10 and 1 <= args.concurrency <= 64
            and 1 <= args.period <= 600):
        parser.error("--tenants 1-5000, --rotations 1-10, --concurrency 1-64, --period 1-600")
    run_with_database(parser, args.mongo_uri, lambda uri: run(uri, args), cache_size="1G")


if __name__ == "__main__":
    main()
