"""Bounded memory under floods of client-chosen keys.

Every in-memory cache keyed by something a client chooses (bearer tokens, Host headers,
idempotency keys) must have a maximum size. The live server's caches are first checked to be
bounded as shipped, then rebuilt with a tiny maximum so that a flood a few times larger than it
is cheap to send; sizes are read after every request. The real tenant and token must still work
after the flood: refusals are cached apart from what they could otherwise evict.
"""
from __future__ import annotations

import base64
import json
import secrets

import pytest
from cachetools import Cache, TTLCache

from vectis.credentials.pats import generate_pat

from ..support.rpc import rpc, structured
from .conftest import customer_with_psa

pytestmark = pytest.mark.slow

SMALL = 8
FLOOD = 3 * SMALL


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def unknown_jwt() -> str:
    header = _b64({"alg": "ES256", "typ": "at+jwt", "kid": secrets.token_hex(8)})
    payload = _b64({"sub": "usr_" + secrets.token_hex(6), "jti": secrets.token_hex(8)})
    return f"{header}.{payload}.{secrets.token_urlsafe(64)}"


def shrink(owner, name: str) -> TTLCache:
    """Replace a TTL cache by one of the same lifetime holding SMALL entries."""
    old = getattr(owner, name)
    assert isinstance(old, Cache) and old.maxsize < 10**6, f"{name} is not bounded"
    small = TTLCache(maxsize=SMALL, ttl=old.ttl)
    setattr(owner, name, small)
    return small


async def test_floods_of_client_keys_stay_within_cache_bounds(make_vendor_tenant, live_server, http):
    tenant = await make_vendor_tenant("flooded", ("connectwise", "ninjaone", "datto_bcdr"))
    services = live_server.services
    auth, hosts, writes = services.authenticator, services.tenants, services.writes
    caches = {"auth verified": shrink(auth, "_cache"), "auth refused": shrink(auth, "_unknown"),
              "hosts found": shrink(hosts, "_found"), "hosts missing": shrink(hosts, "_missing")}
    done = writes._done
    assert isinstance(done, Cache) and done.maxsize < 10**6
    caches["idempotency memory"] = writes._done = TTLCache(maxsize=SMALL, ttl=done.ttl)
    cimd = services.client_metadata._cache   # OAuth client metadata documents, by URL
    assert cimd is None or (isinstance(cimd, Cache) and cimd.maxsize < 10**6)

    def within_bounds() -> None:
        for name, cache in caches.items():
            assert len(cache) <= cache.maxsize, name

    await structured(http, tenant.url, tenant.token, "list_customers", {"limit": 1})
    listing = {"name": "list_customers", "arguments": {"limit": 1}}
    for bogus in ([secrets.token_urlsafe(24) for _ in range(FLOOD)] +
                  [generate_pat() for _ in range(FLOOD)] + [unknown_jwt() for _ in range(FLOOD)]):
        status, body, _ = await rpc(http, tenant.url, bogus, "tools/call", listing)
        assert status == 401, body
        within_bounds()
    assert len(caches["auth refused"]) == SMALL
    for i in range(FLOOD):
        url = f"http://nobody-{i}-{secrets.token_hex(3)}.localhost:{live_server.port}/api/mcp"
        status, body, _ = await rpc(http, url, tenant.token, "tools/call", listing)
        assert status == 404, body
        within_bounds()
    assert len(caches["hosts missing"]) == SMALL

    customer = await customer_with_psa(tenant)
    for i in range(FLOOD):
        await structured(http, tenant.url, tenant.token, "create_ticket", {
            "customer_id": customer["_id"], "subject": f"Flood {i}", "description": "One of many.",
            "idempotency_key": secrets.token_hex(12)})
        within_bounds()
    assert len(caches["idempotency memory"]) == SMALL

    # The real tenant and token were never pushed out by the bogus ones.
    await structured(http, tenant.url, tenant.token, "list_customers", {"limit": 1})
    assert any(key[0] == tenant.slug for key in caches["auth verified"])
    # Refused callers never reached the rate limiter: its buckets are the real credential's.
    assert {key[0] for key in services.limiter._buckets} == {tenant.slug}
    assert len(services.limiter._buckets) <= 4
