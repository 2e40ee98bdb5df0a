import asyncio

import pytest

from vectis.tenancy import parse_host
from vectis.web.base import UNKNOWN_HOST_BODY


@pytest.mark.parametrize("host, expected", [
    ("acme.localhost", ("slug", "acme")),
    ("acme.localhost:8080", ("slug", "acme")),
    ("ACME.LocalHost:8080", ("slug", "acme")),
    ("north-wind.localhost", ("slug", "north-wind")),
    ("mcp.acme-it.com", ("domain", "mcp.acme-it.com")),
    ("localhost", None),
    ("localhost:8080", None),
    ("a.b.localhost", None),          # only one label may stand before the base domain
    ("-acme.localhost", None),
    ("ac--me.localhost", None),
    ("acme.localhost:http", None),
    ("acme.localhost:123456", None),
    ("acme.localhost.", None),
    ("acme..localhost", None),
    ("acme.localhost@evil.com", None),
    ("acme.localhost/evil", None),
    ("[::1]:8080", None),
    ("", None),
    ("x" * 300 + ".localhost", None),
])
def test_host_parsing(host, expected):
    assert parse_host(host, "localhost") == expected


async def test_known_tenant_resolves_and_canonical_urls_come_from_configuration(live_server, http, storage):
    await storage.tenants.create("acme", "Acme IT")
    async with http.get(live_server.url("acme")) as resp:
        assert resp.status == 200
        body = await resp.json()
    port = live_server.port
    assert body == {"tenant": "acme", "name": "Acme IT",
                    "mcp_endpoint": f"http://acme.localhost:{port}/api/mcp",
                    "issuer": f"http://acme.localhost:{port}"}
    # Proxy headers are not trusted: they change nothing.
    headers = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil"}
    async with http.get(live_server.url("acme"), headers=headers) as resp:
        assert await resp.json() == body


async def test_unknown_hosts_all_get_the_same_404_body(live_server, http, storage):
    await storage.tenants.create("acme", "Acme IT")
    port = live_server.port
    bodies = []
    for host in ("nosuch.localhost", "northwind.localhost", "acme.localhost.evil.com",
                 "evil.com", "a.acme.localhost", "localhost", "127.0.0.1"):
        for path in ("/", "/api/mcp", "/.well-known/oauth-protected-resource", "/nothing/here"):
            async with http.get(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"}) as resp:
                assert resp.status == 404, (host, path)
                bodies.append(await resp.read())
    assert len(set(bodies)) == 1
    import json
    assert json.loads(bodies[0]) == UNKNOWN_HOST_BODY


async def test_known_tenant_unknown_path_is_a_plain_404(live_server, http, storage):
    await storage.tenants.create("acme", "Acme IT")
    async with http.get(live_server.url("acme", "/nothing")) as resp:
        assert resp.status == 404
        assert (await resp.json())["message"] == "No such endpoint."


async def test_disabled_tenant_disappears_within_the_cache_bound(live_server, http, storage):
    await storage.tenants.create("acme", "Acme IT")
    async with http.get(live_server.url("acme")) as resp:
        assert resp.status == 200
    await storage.tenants.set_status("acme", "disabled")
    await asyncio.sleep(live_server.config.tenant_cache_seconds + 0.1)
    async with http.get(live_server.url("acme")) as resp:
        assert resp.status == 404
        assert await resp.json() == UNKNOWN_HOST_BODY


async def test_new_tenant_appears_within_the_cache_bound(live_server, http, storage):
    async with http.get(live_server.url("fresh")) as resp:
        assert resp.status == 404
    await storage.tenants.create("fresh", "Fresh")
    await asyncio.sleep(live_server.config.tenant_cache_seconds + 0.1)
    async with http.get(live_server.url("fresh")) as resp:
        assert resp.status == 200


async def test_custom_domain_selects_its_tenant(live_server, http, storage):
    await storage.tenants.create("acme", "Acme IT", custom_domain="MCP.Acme-IT.com")
    port = live_server.port
    async with http.get(f"http://127.0.0.1:{port}/", headers={"Host": f"mcp.acme-it.com:{port}"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["tenant"] == "acme"


async def test_custom_domain_belongs_to_one_tenant(storage):
    from vectis.storage import DomainTaken
    await storage.tenants.create("acme", "Acme IT", custom_domain="mcp.example.com")
    with pytest.raises(DomainTaken):
        await storage.tenants.create("other", "Other", custom_domain="mcp.example.com")
    assert await storage.tenants.get("other") is None


async def test_tenant_databases_are_separate(storage):
    await storage.tenants.create("acme", "Acme")
    await storage.tenants.create("northwind", "Northwind")
    assert storage.db.tenant("acme").name == f"{storage.db.prefix}_t_acme"
    await storage.bulk.insert_missing("acme", "customers", [{"_id": "cus_1", "name": "Only Acme"}])
    assert await storage.bulk.count("acme", "customers") == 1
    assert await storage.bulk.count("northwind", "customers") == 0


async def test_an_entry_expiring_while_it_is_read_is_a_cache_miss_not_an_error(live_server, storage):
    """Found by the fuzz test as a 500: the cache entry expired between a membership test and
    the read. Here the cache's clock moves half a TTL at every look, so it always does."""
    from cachetools import TTLCache

    from vectis.tenancy import TenantResolver
    await storage.tenants.create("tick", "Tick IT")
    resolver = TenantResolver(storage, live_server.config)
    resolver._found = TTLCache(maxsize=10, ttl=2, timer=iter(range(10**6)).__next__)
    resolver._missing = TTLCache(maxsize=10, ttl=2, timer=iter(range(10**6)).__next__)
    host = f"tick.{live_server.config.base_domain}"
    for _ in range(6):
        assert (await resolver.resolve(host)).slug == "tick"
        assert await resolver.resolve(f"nope.{live_server.config.base_domain}") is None
