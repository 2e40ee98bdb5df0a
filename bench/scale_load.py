"""Load for bench/scale_bench.py: one sequential client (latency) and wrk with a Lua script that
POSTs JSON-RPC bodies (throughput). Every answer is checked for a JSON-RPC or tool error."""
from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

ERROR = re.compile(rb'"isError":\s*true|^\{"jsonrpc":\s*"2.0",\s*"id":\s*\d+,\s*"error"')
MAX_SECONDS = 60  # per tool, single client


def single_client(url: str, headers: dict, call, calls: int) -> dict:
    """Sequential calls on one keep-alive connection, after three warm-up calls."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    latencies, errors, first_error = [], 0, None
    deadline = time.monotonic() + MAX_SECONDS
    try:
        for i in range(calls + 3):
            if time.monotonic() > deadline:
                break
            body = call.body(i)
            started = time.perf_counter()
            conn.request("POST", parts.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            elapsed = time.perf_counter() - started
            if resp.status != 200 or ERROR.search(payload):
                errors += 1
                first_error = first_error or payload[:300].decode(errors="replace")
            if i >= 3:
                latencies.append(elapsed * 1000)
    finally:
        conn.close()
    latencies.sort()
    q = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {"calls": len(latencies), "p50_ms": statistics.median(latencies), "p95_ms": q[18],
            "max_ms": latencies[-1], "errors": errors, **({"first_error": first_error} if first_error else {})}


LUA = r"""
local bodies = %(bodies)s
counter = 0
errors = 0  -- a global: done() reads it from each thread
local threads = {}
wrk.method = "POST"
wrk.headers = %(headers)s

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = math.random(0, #bodies - 1)
end

function request()
  counter = counter + 1
  return wrk.format(nil, nil, nil, bodies[(counter %% #bodies) + 1])
end

function response(status, headers, body)
  if status ~= 200 or body:find('"isError":%%s*true') or body:find('^{"jsonrpc":%%s*"2.0",%%s*"id":%%s*%%d+,%%s*"error"') then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + (t:get("errors") or 0) end
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d %%d\n", summary.requests, e,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, summary.duration))
end
"""


def _lua_string(s: str) -> str:
    return "[==[" + s + "]==]"


def wrk_load(url: str, headers: dict, calls: list, connections: int, seconds: float, workdir: Path) -> dict:
    bodies = [call.body(i) for call in calls for i in range(len(call.arguments))]
    script = workdir / "scale_bench.lua"
    script.write_text(LUA % {
        "bodies": "{" + ",".join(_lua_string(b) for b in bodies) + "}",
        "headers": "{" + ",".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}",
    })
    done = subprocess.run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--timeout", "30s",
                           "-s", str(script), url], capture_output=True, text=True, timeout=seconds + 120)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {done.stdout[-1000:]} {done.stderr[-1000:]}")
    requests, tool_errors, socket_errors, p50, p99, worst, micros = map(int, line.split()[1:])
    return {"connections": connections, "seconds": seconds, "requests": requests,
            "rps": requests / (micros / 1e6), "errors": tool_errors + socket_errors,
            "p50_ms": p50 / 1000, "p99_ms": p99 / 1000, "max_ms": worst / 1000}


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None
