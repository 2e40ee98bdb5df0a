"""Fuzz traffic does not grow the server's memory without bound.

Thousands of mixed requests (bad JSON, bogus tokens, unknown hosts, registrations, tool calls)
go to one server in this process; tracemalloc, started after a warm-up, counts what the window
left allocated. The bound is generous (a leak of a few KiB per request would still cross it) and
no assertion depends on speed. The bounded caches are checked against their maxsize as well.
"""
from __future__ import annotations

import gc
import json
import random
import secrets
import time
import tracemalloc

from vectis.credentials.pats import generate_pat

from .checks import assert_still_serving, no_server_error
from .server import Client, FuzzServer

WARM_UP = 300
MEASURED = 1500
GROWTH_BOUND = 24 * 1024 * 1024


def one_request(server: FuzzServer, client: Client, rnd: random.Random) -> None:
    kind = rnd.randrange(8)
    base = {"Content-Type": "application/json", "Accept": "application/json"}
    good = {**base, "Authorization": f"Bearer {server.token}"}
    if kind == 0:    # a fresh bogus PAT each time: every one is a negative-cache entry
        reply = client.request("POST", "/api/mcp", b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
                               {**base, "Authorization": f"Bearer {generate_pat()}"})
    elif kind == 1:  # a fresh unknown tenant host each time
        reply = client.request("POST", "/api/mcp", b"{}",
                               {**good, "Host": f"t{secrets.token_hex(4)}.localhost:{server.port}"})
    elif kind == 2:
        reply = client.request("POST", "/api/mcp", secrets.token_bytes(rnd.randrange(1, 400)), good)
    elif kind == 3:
        depth = rnd.randrange(1, 50_000)
        reply = client.request("POST", "/api/mcp", b"[" * depth + b"]" * depth, good)
    elif kind == 4:
        body = {"jsonrpc": "2.0", "id": secrets.token_hex(8), "method": "tools/call",
                "params": {"name": rnd.choice(["list_customers", "search_tickets", "get_ticket", "nope"]),
                           "arguments": rnd.choice([{"limit": 3}, {"query": secrets.token_hex(3)},
                                                    {"ticket_id": secrets.token_hex(5)}, {"x": [1] * 100}])}}
        reply = client.request("POST", "/api/mcp", json.dumps(body).encode(), good)
    elif kind == 5:
        reply = client.request("POST", "/oauth/token", f"grant_type=refresh_token&refresh_token="
                               f"{secrets.token_hex(20)}&client_id=vcl_{secrets.token_hex(8)}".encode(),
                               {"Content-Type": "application/x-www-form-urlencoded"})
    elif kind == 6:
        reply = client.request("GET", f"/oauth/authorize?client_id=vcl_{secrets.token_hex(8)}&state={'s' * 500}")
    else:
        reply = client.request("POST", "/api/mcp", json.dumps(
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
            {**good, "MCP-Protocol-Version": rnd.choice(["2025-03-26", "2025-11-25", "1999-01-01"])})
    no_server_error(reply)


def test_memory_stays_bounded_under_fuzz_traffic(fuzz_server, client):
    rnd = random.Random(20261206)
    for _ in range(WARM_UP):
        one_request(fuzz_server, client, rnd)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(MEASURED):
            one_request(fuzz_server, client, rnd)
        # Let the audit buffer (flushed every second) hand its rows to the database.
        time.sleep(1.5)
        gc.collect()
        retained, _peak = tracemalloc.get_traced_memory()
        top = tracemalloc.take_snapshot().statistics("lineno")[:8]
    finally:
        tracemalloc.stop()
    print(f"retained after {MEASURED} requests: {retained} bytes")  # shown with -s
    assert retained < GROWTH_BOUND, "\n".join(str(s) for s in top)

    services = fuzz_server.live.services
    for cache in (services.tenants._found, services.tenants._missing,
                  services.authenticator._cache, services.authenticator._last_used):
        assert len(cache) <= cache.maxsize
    assert len(services.limiter._buckets) < 100  # one tenant, one credential: a handful of keys
    assert_still_serving(fuzz_server, client)
