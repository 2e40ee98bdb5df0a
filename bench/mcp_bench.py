"""Throughput and latency of tools/call through the full Vectis stack, against the same query
served by a bare Tornado handler and (with --sdk) by the official MCP Python SDK's own server, in
the same run and on the same database.

    python bench/mcp_bench.py [--tool list_customers] [--arguments '{"limit": 20}'] [--customers 400]
                              [--concurrency 16] [--seconds 10] [--max-requests 20000] [--mongo-uri URI]
                              [--sdk] [--rounds 1]

Loopback only; every load phase is bounded in requests and time. Both servers run as separate
processes, as in production; the load generator is this process (one core each on 2 cores is
the point of comparison, not an absolute capacity figure).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectis.credentials.pats import display_prefix, generate_pat, hash_token  # noqa: E402
from vectis.demo.generator import demo_operators  # noqa: E402
from vectis.demo.seed import seed_tenant  # noqa: E402
from vectis.embedded_db import EmbeddedDatabase  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402

SLUG = "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    import urllib.error
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


async def prepare(uri: str, prefix: str, customers: int, pepper: str) -> str:
    storage = Storage(make_client(uri), prefix)
    await storage.db.ensure_control_indexes()
    operators = demo_operators(SLUG)
    await seed_tenant(storage, SLUG, "Bench", passwords={o.email: "bench-password-1" for o in operators},
                      customers=customers, tickets_per_customer=20, now=datetime.now(UTC))
    # No rate limit may interfere with a throughput measurement.
    await storage.db.control["tenants"].update_one({"_id": SLUG}, {"$set": {"settings.rate_limits": {
        "credential_read": 10**9, "tenant_read": 10**9}}})
    user = await storage.users.by_email(SLUG, operators[0].email)
    token = generate_pat()
    await storage.pats.insert(SLUG, token_hash=hash_token(pepper, token), prefix=display_prefix(token),
                              label="bench", scopes=tuple(ALL_SCOPES), user_id=user["_id"], expires_at=None)
    await storage.close()
    return token


async def load(url: str, headers: dict, body_for, concurrency: int, seconds: float, max_requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    issued = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as http:
        async def worker():
            nonlocal issued, errors
            while issued < max_requests and time.monotonic() < deadline:
                issued += 1
                started = time.perf_counter()
                async with http.post(url, data=body_for(issued), headers=headers) as resp:
                    payload = await resp.read()
                    if resp.status != 200 or b'"isError":true' in payload or b'"error"' in payload[:40]:
                        errors += 1
                latencies.append(time.perf_counter() - started)
        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / elapsed,
            "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000, "p99_ms": q[98] * 1000}


def ratios(vectis: dict, other: dict, name: str) -> dict:
    """Vectis against another server: above 1 is better for throughput, below 1 for latency."""
    return {f"throughput_ratio_vs_{name}": round(vectis["rps"] / other["rps"], 3),
            f"p50_ratio_vs_{name}": round(vectis["p50_ms"] / other["p50_ms"], 3),
            f"p99_ratio_vs_{name}": round(vectis["p99_ms"] / other["p99_ms"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tool", default="list_customers")
    parser.add_argument("--arguments", default='{"limit": 20}')
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--sdk", action="store_true",
                        help="also measure the official MCP Python SDK's server (bench/sdk_server.py)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure each server this many times, interleaved; report the medians")
    parser.add_argument("--mongo-uri", default=os.environ.get("VECTIS_MONGO_URI", ""))
    args = parser.parse_args()
    arguments = json.loads(args.arguments)

    workdir = Path(tempfile.mkdtemp(prefix="vectis-bench-"))
    embedded = None
    uri = args.mongo_uri
    if not uri:
        embedded = EmbeddedDatabase(workdir / "db-data", cache_size="1G")
        uri = embedded.start()
    prefix = "bench" + secrets.token_hex(3)
    pepper = secrets.token_urlsafe(40)
    procs: list[subprocess.Popen] = []
    try:
        token = asyncio.run(prepare(uri, prefix, args.customers, pepper))
        vectis_port, bare_port = free_port(), free_port()
        env = {**os.environ, "VECTIS_TOKEN_PEPPER": pepper, "VECTIS_DB_PREFIX": prefix, "VECTIS_MONGO_URI": uri,
               "VECTIS_LOG_LEVEL": "warning", "VECTIS_DATA_DIR": str(workdir / "vectis")}
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--port", str(vectis_port)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        procs.append(subprocess.Popen([sys.executable, str(ROOT / "bench" / "bare_server.py"), "--mongo-uri", uri,
                                       "--db-prefix", prefix, "--tenant", SLUG, "--port", str(bare_port),
                                       "--tool", args.tool], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        sdk_port = 0
        if args.sdk:
            sdk_port = free_port()
            procs.append(subprocess.Popen([sys.executable, str(ROOT / "bench" / "sdk_server.py"), "--mongo-uri", uri,
                                           "--db-prefix", prefix, "--tenant", SLUG, "--port", str(sdk_port),
                                           "--tool", args.tool, "--pepper", pepper],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        wait_ready(f"http://127.0.0.1:{vectis_port}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{bare_port}/tool", procs[1])
        if sdk_port:
            wait_ready(f"http://127.0.0.1:{sdk_port}/mcp", procs[2])

        mcp_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25",
                       "Host": f"{SLUG}.localhost:{vectis_port}"}

        def mcp_body(i):
            return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                               "params": {"name": args.tool, "arguments": arguments}})

        def bare_body(i):
            return json.dumps(arguments)

        targets = [("bare", f"http://127.0.0.1:{bare_port}/tool", {"Content-Type": "application/json"}, bare_body),
                   ("vectis", f"http://127.0.0.1:{vectis_port}/api/mcp", mcp_headers, mcp_body)]
        if sdk_port:
            sdk_headers = {**mcp_headers, "Host": f"127.0.0.1:{sdk_port}"}
            targets.append(("sdk", f"http://127.0.0.1:{sdk_port}/mcp", sdk_headers, mcp_body))
        for _name, url, headers, body in targets:
            asyncio.run(load(url, headers, body, args.concurrency, 2.0, 500))  # warm-up
        # Rounds interleave the servers, so a slow spell of the machine falls on all of them.
        rounds: dict[str, list[dict]] = {name: [] for name, *_ in targets}
        for _ in range(args.rounds):
            for name, url, headers, body in targets:
                rounds[name].append(asyncio.run(load(url, headers, body, args.concurrency, args.seconds,
                                                     args.max_requests)))
        runs = {name: {m: statistics.median(r[m] for r in results) for m in results[0]}
                for name, results in rounds.items()}
        report = {"tool": args.tool, "arguments": arguments, "customers": args.customers,
                  "concurrency": args.concurrency, "rounds": args.rounds,
                  **{k: {m: round(v, 2) for m, v in r.items()} for k, r in runs.items()},
                  **ratios(runs["vectis"], runs["bare"], "bare")}
        if sdk_port:
            report.update(ratios(runs["vectis"], runs["sdk"], "sdk"))
        print(json.dumps(report, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(20)
        if embedded is not None:
            embedded.stop()


if __name__ == "__main__":
    main()
