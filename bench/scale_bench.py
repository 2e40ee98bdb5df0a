"""A real MSP's size, end to end: one mid-size tenant seeded through the product's own command,
then every read tool measured through the real MCP endpoint over HTTP.

    python bench/scale_bench.py                       # 500 customers x 100 tickets, embedded DB
    python bench/scale_bench.py --workdir /tmp/big    # keep the data; a second run reuses it
    python bench/scale_bench.py --customers 50 --sync-tickets 0 --seconds 2   # a quick look

Steps, each timed: the server starts (`server.py --no-demo` on its own data directory, so on the
embedded SecantusDB unless --mongo-uri), `admin seed-data` fills the tenant while it runs, a
read-only token is issued with `admin issue-token`. Then, per read tool and representative
arguments (ids taken from the seeded data, rotated so no single document is measured), the
single-client latency (sequential calls, p50/p95/max) and the 16-connection throughput (wrk
with a Lua script that POSTs the JSON-RPC bodies), then the whole mix at once; every answer is
checked for JSON-RPC and tool errors. Last, the full and incremental sync of a simulated PSA of
--sync-tickets tickets (bench/sync_bench.py, its own database), and the server's and database's
RSS. Loopback only; every load phase is bounded in requests and time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from scale_calls import read_tool_calls  # noqa: E402
from scale_load import rss_mb, single_client, wrk_load  # noqa: E402

from vectis.demo.generator import demo_operators  # noqa: E402
from vectis.embedded_db import running_instance  # noqa: E402

SLUG = "bigco"
READ_SCOPES = ("read:customers", "read:tickets", "read:search", "read:alerts", "read:assets",
               "read:contracts", "read:billing", "read:notes")
SEEDED_MARK = "scale-bench-seeded.json"


def server_cli(workdir: Path, mongo_uri: str | None, *args: str) -> list[str]:
    flags = ["--data-dir", str(workdir / "vectis"), "--no-demo"]
    if mongo_uri:
        flags += ["--mongo-uri", mongo_uri]
    return [sys.executable, str(ROOT / "server.py"), *args, *flags]


def admin(workdir: Path, mongo_uri: str | None, env: dict, *args: str) -> str:
    done = subprocess.run(server_cli(workdir, mongo_uri, "admin", *args), env=env, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode != 0:
        raise SystemExit(f"admin {args[0]} failed: {done.stderr[-2000:]}")
    return done.stdout.strip()


def start_server(workdir: Path, mongo_uri: str | None, env: dict, port: int) -> subprocess.Popen:
    log = open(workdir / "server.log", "ab")
    proc = subprocess.Popen(server_cli(workdir, mongo_uri, "--port", str(port), "--host", "127.0.0.1"),
                            env=env, stdout=log, stderr=log)
    # Generous: the first start on data an older version wrote builds the new indexes first
    # (the trigram index of 50,000 tickets: about 2 minutes, the whole start about 4).
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited; see {workdir / 'server.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("server not ready within 900 s")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_uri(workdir: Path, mongo_uri: str | None) -> str:
    if mongo_uri:
        return mongo_uri
    state = running_instance(workdir / "vectis")
    if state is None:
        raise SystemExit("the server's embedded database is not running")
    return state["uri"]


def sync_phase(tickets: int, mongo_uri: str | None) -> dict:
    """bench/sync_bench.py in a process of its own (its own database, its own simulator)."""
    cmd = [sys.executable, str(ROOT / "bench" / "sync_bench.py"), "--tickets", str(tickets)]
    if mongo_uri:
        cmd += ["--mongo-uri", mongo_uri]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=4 * 3600)
    out = done.stdout
    full = re.search(r"full sync: ([\d.]+) s", out)
    incremental = re.search(r"incremental sync with nothing changed: ([\d.]+) s", out)
    return {"tickets": tickets, "full_s": float(full.group(1)) if full else None,
            "incremental_s": float(incremental.group(1)) if incremental else None,
            "complete": "every PSA ticket and message synced" in out,
            "log_tail": (out + done.stderr)[-1500:] if not (full and incremental) else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--tickets-per-customer", type=float, default=100.0)
    parser.add_argument("--workdir", help="keep data here; a seeded one is reused (default: a temp dir)")
    parser.add_argument("--mongo-uri", default="", help="a loopback MongoDB instead of the embedded one")
    parser.add_argument("--calls", type=int, default=60, help="single-client calls per tool")
    parser.add_argument("--seconds", type=float, default=4.0, help="wrk duration per tool (16 connections)")
    parser.add_argument("--mix-seconds", type=float, default=15.0, help="wrk duration of the whole mix")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sync-tickets", type=int, default=50_000, help="0 skips the sync phase")
    parser.add_argument("--only", help="comma-separated tool names (default: every read tool)")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    if args.mongo_uri and not re.match(r"mongodb://(127\.0\.0\.1|localhost|\[::1\])[:/]", args.mongo_uri):
        parser.error("--mongo-uri: loopback only")
    if shutil.which("wrk") is None:
        parser.error("wrk is needed (apt-get install -y wrk)")

    temporary = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="vectis-scale-")).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "VECTIS_LOG_LEVEL": "warning", "VECTIS_EMBEDDED_DB_CACHE_SIZE": "1G"}
    report: dict = {"date": datetime.now(UTC).date().isoformat(), "loadavg_start": _loadavg(),
                    "database": "mongodb" if args.mongo_uri else "embedded SecantusDB"}
    port = free_port()
    started = time.perf_counter()
    server = start_server(workdir, args.mongo_uri or None, env, port)
    report["server_start_s"] = round(time.perf_counter() - started, 1)
    try:
        mark = workdir / SEEDED_MARK
        wanted = {"customers": args.customers, "tickets_per_customer": args.tickets_per_customer}
        if mark.exists() and json.loads(mark.read_text()).get("size") == wanted:
            report["seed"] = json.loads(mark.read_text())["seed"]
            report["seed"]["reused"] = True
        else:
            print(f"seeding {args.customers} customers x {args.tickets_per_customer} tickets ...", flush=True)
            started = time.perf_counter()
            inserted = json.loads(admin(workdir, args.mongo_uri or None, env, "seed-data", SLUG,
                                        "--customers", str(args.customers),
                                        "--tickets-per-customer", str(args.tickets_per_customer)))
            report["seed"] = {"seconds": round(time.perf_counter() - started, 1), "inserted": inserted,
                              "documents": sum(inserted.values())}
            mark.write_text(json.dumps({"size": wanted, "seed": report["seed"]}))
        print(f"seed: {report['seed']}", flush=True)
        admin(workdir, args.mongo_uri or None, env, "set-rate-limits", SLUG,
              "--credential-read", str(10**9), "--tenant-read", str(10**9))
        email = demo_operators(SLUG)[0].email
        token = admin(workdir, args.mongo_uri or None, env, "issue-token", SLUG, email,
                      "--scopes", ",".join(READ_SCOPES), "--label", f"scale-bench-{int(time.time())}")
        uri = database_uri(workdir, args.mongo_uri or None)
        url = f"http://127.0.0.1:{port}/api/mcp"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25",
                   "Host": f"{SLUG}.localhost:{port}"}
        calls = read_tool_calls(uri, f"vectis_t_{SLUG}", email, url, headers)
        if args.only:
            keep = set(args.only.split(","))
            calls = [c for c in calls if c.tool in keep]
        report["rows"] = []
        for call in calls:
            single = single_client(url, headers, call, args.calls)
            load = wrk_load(url, headers, [call], args.connections, args.seconds, workdir)
            row = {"tool": call.label, **single, "rps_16": load["rps"], "p99_16_ms": load["p99_ms"],
                   "errors": single["errors"] + load["errors"]}
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
        report["mix"] = wrk_load(url, headers, calls, args.connections, args.mix_seconds, workdir)
        print(f"mix: {report['mix']}", flush=True)
        db_pid = None if args.mongo_uri else (running_instance(workdir / "vectis") or {}).get("db_pid")
        report["rss_mb"] = {"server": rss_mb(server.pid), "database": rss_mb(db_pid) if db_pid else None}
        report["loadavg_end"] = _loadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    if args.sync_tickets:
        print(f"sync of a {args.sync_tickets}-ticket PSA (bench/sync_bench.py) ...", flush=True)
        report["sync"] = sync_phase(args.sync_tickets, args.mongo_uri or None)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    print(markdown(report))
    if temporary:
        shutil.rmtree(workdir, ignore_errors=True)


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def markdown(report: dict) -> str:
    lines = ["| tool (arguments) | p50 ms | p95 ms | max ms | 16 clients req/s | p99 ms at 16 | errors |",
             "|---|---|---|---|---|---|---|"]
    for r in report.get("rows", []):
        lines.append(f"| {r['tool']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['max_ms']:.0f} | "
                     f"{r['rps_16']:.0f} | {r['p99_16_ms']:.0f} | {r['errors']} |")
    mix = report.get("mix")
    if mix:
        lines.append(f"\nmix of all rows, {mix['connections']} connections, {mix['seconds']} s: "
                     f"{mix['requests']} calls, {mix['rps']:.0f} req/s, p50 {mix['p50_ms']:.0f} ms, "
                     f"p99 {mix['p99_ms']:.0f} ms, errors {mix['errors']}")
    if statistics and report.get("rows"):
        worst = max(report["rows"], key=lambda r: r["p50_ms"])
        lines.append(f"slowest p50: {worst['tool']} {worst['p50_ms']:.0f} ms")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
