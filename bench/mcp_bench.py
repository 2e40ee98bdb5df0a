"""Stack overhead: the same tool handlers served by the full Vectis stack, by a bare Tornado
handler and by the official MCP Python SDK's own server, loaded by wrk in one run on one database.

    python bench/mcp_bench.py [--tools get_asset,list_customers] [--customers 40]
                              [--connections 16] [--seconds 8] [--rounds 3] [--max-requests 50000]
                              [--vectis-loops uvloop,asyncio] [--no-sdk] [--mongo-uri URI]
                              [--profile SECONDS]

Servers: `bare` (bench/bare_server.py), `vectis` on each loop of --vectis-loops (`vectis` is the
first, the server's own choice; `vectis-asyncio` forces asyncio's loop), `sdk`
(bench/sdk_server.py). Each is a separate process, as in production. Rounds interleave the
servers (bare, vectis, sdk, bare, …) so that a slow spell of the shared machine falls on all of
them; medians of the rounds are reported, with the ratios issue 17 sets targets for. wrk
(Debian package `wrk`) runs one thread; every phase is bounded in time (--seconds) and in
requests (--max-requests per phase), loopback only. A call counts as an error unless it answers
200 without a JSON-RPC error or `"isError":true`.

--profile: after the rounds, load Vectis with each tool once more while py-spy (PyPI `py-spy`)
samples the Vectis process and the embedded database, and print where each spends its time
(own time by function, and the share of samples in each top-level package).
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vectis.credentials.pats import display_prefix, generate_pat, hash_token  # noqa: E402
from vectis.demo.generator import demo_operators  # noqa: E402
from vectis.demo.seed import seed_tenant  # noqa: E402
from vectis.embedded_db import EmbeddedDatabase  # noqa: E402
from vectis.scopes import ALL_SCOPES  # noqa: E402
from vectis.storage import Storage, make_client  # noqa: E402

SLUG = "bench"
# Issue 17's targets: Vectis ≥ 0.80× bare rps, ≥ 1.0× SDK rps, p99 ≤ 1.5× SDK p99.
TARGETS = {"rps_vs_bare": 0.80, "rps_vs_sdk": 1.0, "p99_vs_sdk": 1.5}
# Runs server.py with uvloop unimportable, so the server falls back to asyncio's own loop.
ASYNCIO_ONLY = ("import runpy, sys; sys.modules['uvloop'] = None; sys.argv[0] = {path!r}; "
                "runpy.run_path({path!r}, run_name='__main__')")

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = %(body)s
%(headers)s
local threads = {}
function setup(thread) table.insert(threads, thread) end
count, bad = 0, 0
function response(status, headers, body)
  count = count + 1
  if status ~= 200 or string.find(body, '"isError":true', 1, true)
     or string.find(string.sub(body, 1, 60), '"error":{', 1, true) then bad = bad + 1 end
  if count >= %(max_requests)d then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p90_us":%%d,"p99_us":%%d,"max_us":%%d,' ..
    '"errors":%%d}\\n', summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max,
    bad_total + e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode()[-2000:] if proc.stderr else "see its log"
            raise SystemExit(f"server exited: {err}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not start")


async def prepare(uri: str, prefix: str, customers: int, pepper: str) -> tuple[str, str]:
    """The bench tenant with its data, a PAT with every scope, and an asset id for get_asset."""
    storage = Storage(make_client(uri), prefix)
    await storage.db.ensure_control_indexes()
    operators = demo_operators(SLUG)
    await seed_tenant(storage, SLUG, "Bench", passwords={o.email: "bench-password-1" for o in operators},
                      customers=customers, tickets_per_customer=20, now=datetime.now(UTC))
    # No rate limit may refuse a call of a throughput measurement (leases are still taken).
    await storage.db.control["tenants"].update_one({"_id": SLUG}, {"$set": {"settings.rate_limits": {
        "credential_read": 10**9, "tenant_read": 10**9}}})
    user = await storage.users.by_email(SLUG, operators[0].email)
    token = generate_pat()
    await storage.pats.insert(SLUG, token_hash=hash_token(pepper, token), prefix=display_prefix(token),
                              label="bench", scopes=tuple(ALL_SCOPES), user_id=user["_id"], expires_at=None)
    asset = await storage.db.tenant(SLUG)["assets"].find_one({}, {"_id": 1})
    await storage.close()
    return token, asset["_id"]


class Target:
    """One server under load: where to POST each tool's call, with which headers and body."""

    def __init__(self, name: str, url_for, headers: dict, body_for, pid: int):
        self.name, self.url_for, self.headers, self.body_for, self.pid = name, url_for, headers, body_for, pid

    def script(self, tool: str, arguments: dict, max_requests: int, workdir: Path) -> Path:
        headers = "\n".join(f"wrk.headers[ {lua_string(k)} ] = {lua_string(v)}" for k, v in self.headers.items())
        path = workdir / f"{self.name}-{tool}.lua"
        path.write_text(WRK_SCRIPT % {"body": lua_string(self.body_for(tool, arguments)), "headers": headers,
                                      "max_requests": max_requests})
        return path


def run_wrk(url: str, script: Path, connections: int, seconds: float) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
                          "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {out.stdout[-1000:]} {out.stderr[-1000:]}")
    raw = json.loads(line[len("WRK_JSON "):])
    seconds_taken = raw["duration_us"] / 1e6
    return {"rps": raw["requests"] / seconds_taken, "p50_ms": raw["p50_us"] / 1000,
            "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000, "max_ms": raw["max_us"] / 1000,
            "requests": raw["requests"], "errors": raw["errors"]}


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU time of a process so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(target: Target, tool: str, script: Path, connections: int, seconds: float,
            db_pid: int | None) -> dict:
    """One wrk phase, with the CPU time the server and the database spent per call: unlike
    req/s, that does not depend on what else the shared machine is running."""
    before = cpu_seconds(target.pid), cpu_seconds(db_pid)
    result = run_wrk(target.url_for(tool), script, connections, seconds)
    after = cpu_seconds(target.pid), cpu_seconds(db_pid)
    calls = max(result["requests"], 1)
    result["server_cpu_ms"] = 1000 * (after[0] - before[0]) / calls
    result["db_cpu_ms"] = 1000 * (after[1] - before[1]) / calls
    return result


def median_run(results: list[dict]) -> dict:
    return {m: statistics.median(r[m] for r in results) for m in results[0]}


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", default="get_asset,list_customers")
    parser.add_argument("--list-limit", type=int, default=5, help="the limit of list_customers")
    parser.add_argument("--customers", type=int, default=40, help="the small demo tenant's size")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-requests", type=int, default=50_000, help="per phase")
    parser.add_argument("--vectis-loops", default="uvloop,asyncio",
                        help="'uvloop' is the server's own choice, 'asyncio' forces asyncio's loop")
    parser.add_argument("--no-sdk", action="store_true")
    parser.add_argument("--mongo-uri", default=os.environ.get("VECTIS_MONGO_URI", ""))
    parser.add_argument("--profile", type=float, default=0, metavar="SECONDS",
                        help="then profile Vectis and the embedded database under load with py-spy")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    tools = args.tools.split(",")
    loops = [x for x in args.vectis_loops.split(",") if x]

    workdir = Path(tempfile.mkdtemp(prefix="vectis-bench-"))
    embedded = None
    uri = args.mongo_uri
    if not uri:
        embedded = EmbeddedDatabase(workdir / "db-data", cache_size="1G")
        uri = embedded.start()
    prefix = "bench" + secrets.token_hex(3)
    pepper = secrets.token_urlsafe(40)
    procs: list[tuple[subprocess.Popen, str]] = []
    try:
        token, asset_id = asyncio.run(prepare(uri, prefix, args.customers, pepper))
        tool_arguments = {"get_asset": {"asset_id": asset_id}, "list_customers": {"limit": args.list_limit}}
        env = {**os.environ, "VECTIS_TOKEN_PEPPER": pepper, "VECTIS_DB_PREFIX": prefix, "VECTIS_MONGO_URI": uri,
               "VECTIS_LOG_LEVEL": "warning", "VECTIS_DATA_DIR": str(workdir / "vectis"),
               "VECTIS_SYNC_INTERVAL_SECONDS": "0", "VECTIS_RULES_WORKER": "off"}
        common = ["--mongo-uri", uri, "--db-prefix", prefix, "--tenant", SLUG, "--tools", args.tools]

        def start(name: str, argv: list[str], ready_path: str, **kw) -> tuple[int, int]:
            port = free_port()
            proc = subprocess.Popen(argv + ["--port", str(port)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, **kw)
            procs.append((proc, f"http://127.0.0.1:{port}{ready_path}"))
            return port, proc.pid

        mcp_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}

        def mcp_body(tool, arguments):
            return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": tool, "arguments": arguments}})

        targets: list[Target] = []
        port, pid = start("bare", [sys.executable, str(ROOT / "bench" / "bare_server.py"), *common], "/tool/none")
        targets.append(Target("bare", lambda tool, p=port: f"http://127.0.0.1:{p}/tool/{tool}",
                              {"Content-Type": "application/json"}, lambda tool, a: json.dumps(a), pid))
        server = str(ROOT / "server.py")
        for loop in loops:
            argv = ([sys.executable, server] if loop == "uvloop"
                    else [sys.executable, "-c", ASYNCIO_ONLY.format(path=server)])
            port, pid = start(loop, argv, "/readyz", env=env)
            name = "vectis" if loop == loops[0] else f"vectis-{loop}"
            targets.append(Target(name, lambda tool, p=port: f"http://127.0.0.1:{p}/api/mcp",
                                  {**mcp_headers, "Host": f"{SLUG}.localhost:{port}"}, mcp_body, pid))
        if not args.no_sdk:
            port, pid = start("sdk", [sys.executable, str(ROOT / "bench" / "sdk_server.py"), *common, "--pepper", pepper],
                         "/mcp")
            targets.append(Target("sdk", lambda tool, p=port: f"http://127.0.0.1:{p}/mcp",
                                  {**mcp_headers, "Host": f"127.0.0.1:{port}"}, mcp_body, pid))
        for proc, url in procs:
            wait_ready(url, proc)

        db_pid = embedded.process.pid if embedded is not None else None
        scripts = {(t.name, tool): t.script(tool, tool_arguments[tool], args.max_requests, workdir)
                   for t in targets for tool in tools}
        for t in targets:
            for tool in tools:
                warm = measure(t, tool, scripts[t.name, tool], args.connections, 2, db_pid)
                if warm["errors"]:
                    raise SystemExit(f"{t.name} answered {tool} with errors during the warm-up: {warm}")
        load_before = loadavg()
        rounds: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.rounds):
            for tool in tools:
                for t in targets:
                    rounds.setdefault((tool, t.name), []).append(
                        measure(t, tool, scripts[t.name, tool], args.connections, args.seconds, db_pid))
        report = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "loadavg_before": load_before,
                  "loadavg_after": loadavg(), "customers": args.customers, "connections": args.connections,
                  "seconds": args.seconds, "rounds": args.rounds, "tools": {}}
        for tool in tools:
            runs = {name: median_run(results) for (t, name), results in rounds.items() if t == tool}
            entry = {name: {m: round(v, 2) for m, v in r.items()} for name, r in runs.items()}
            vectis = runs["vectis"]
            entry["ratios"] = {"rps_vs_bare": round(vectis["rps"] / runs["bare"]["rps"], 3)}
            for name in runs:
                if name.startswith("vectis-"):
                    entry["ratios"][f"rps_vs_{name}"] = round(vectis["rps"] / runs[name]["rps"], 3)
            if "sdk" in runs:
                entry["ratios"]["rps_vs_sdk"] = round(vectis["rps"] / runs["sdk"]["rps"], 3)
                entry["ratios"]["p99_vs_sdk"] = round(vectis["p99_ms"] / runs["sdk"]["p99_ms"], 3)
            entry["targets_met"] = {k: (v >= TARGETS[k] if k.startswith("rps") else v <= TARGETS[k])
                                    for k, v in entry["ratios"].items() if k in TARGETS}
            report["tools"][tool] = entry
        print(json.dumps(report, indent=2))
        print(table(report), file=sys.stderr)
        if args.profile:
            vectis = next(t for t in targets if t.name == "vectis")
            pids = {"vectis": vectis.pid}
            if db_pid is not None:
                pids["database"] = db_pid
            kept = Path(tempfile.mkdtemp(prefix="vectis-profile-"))
            print(f"\npy-spy raw stacks (flamegraph.pl input) kept in {kept}")
            for tool in tools:
                print(f"\n== profile: {tool} on vectis ==")
                load = functools.partial(run_wrk, vectis.url_for(tool), scripts["vectis", tool], args.connections,
                                         args.profile + 2)
                profile(pids, load, args.profile, kept / tool)
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def profile(pids: dict[str, int], load, seconds: float, out: Path) -> None:
    """Sample each process with py-spy while `load` runs; print own time by function and the
    share of samples under each package (a sample counts once per package on its stack)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out.mkdir(parents=True, exist_ok=True)
    samplers = {name: subprocess.Popen([spy, "record", "--format", "raw", "--rate", "200", "--nonblocking",
                                        "-d", str(round(seconds)), "-o", str(out / f"{name}.txt"), "-p", str(pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for name, pid in pids.items()}
    result = load()
    for name, sampler in samplers.items():
        sampler.wait(seconds + 60)
        stacks = (out / f"{name}.txt").read_text().splitlines() if (out / f"{name}.txt").exists() else []
        own: dict[str, int] = {}
        packages: dict[str, int] = {}
        total = 0
        for line in stacks:
            stack, _, count = line.rpartition(" ")
            n = int(count)
            frames = stack.split(";")
            total += n
            leaf = frames[-1]
            own[leaf] = own.get(leaf, 0) + n
            for package in {_package(f) for f in frames}:
                packages[package] = packages.get(package, 0) + n
        print(f"-- {name}: {total} samples (under load: {result['rps']:.0f} req/s)")
        for package, n in sorted(packages.items(), key=lambda x: -x[1])[:12]:
            print(f"   {100 * n / max(total, 1):5.1f}%  under {package}")
        for leaf, n in sorted(own.items(), key=lambda x: -x[1])[:25]:
            print(f"   {100 * n / max(total, 1):5.1f}%  own  {leaf}")


def _package(frame: str) -> str:
    """'handler (vectis/mcp/endpoint.py:12)' -> 'vectis.mcp'; 'f (…/site-packages/tornado/web.py:3)' -> 'tornado'."""
    path = frame[frame.rfind("(") + 1:].split(":")[0]
    parts = Path(path).parts
    for marker in ("site-packages", "python3.11"):
        if marker in parts:
            rest = parts[parts.index(marker) + 1:]
            return rest[0] if marker == "site-packages" or len(rest) < 2 else "stdlib." + rest[0].removesuffix(".py")
    if "vectis" in parts:
        rest = parts[parts.index("vectis"):]
        return ".".join(rest[:2]).removesuffix(".py")
    return parts[0] if parts else "?"


def table(report: dict) -> str:
    lines = ["tool | server | req/s | p50 ms | p99 ms | server CPU ms/call | db CPU ms/call | errors"]
    for tool, entry in report["tools"].items():
        for name, r in entry.items():
            if name not in ("ratios", "targets_met"):
                lines.append(f"{tool} | {name} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                             f"{r['server_cpu_ms']:.2f} | {r['db_cpu_ms']:.2f} | {r['errors']:.0f}")
        lines.append(f"{tool} | ratios | {entry['ratios']} | met: {entry['targets_met']}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
