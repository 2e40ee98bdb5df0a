"""Client ID Metadata Document fetching, part 2: the SSRF guard under the default policy,
caching and single flight, and the shape of an acceptable client_id URL."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from vectis.oauth.cimd import (
    AddressPolicy,
    ClientMetadataError,
    cache_ttl,
    is_metadata_url,
)

from .cimd_support import DocServer, MapResolver, document, refused

# --- SSRF guard under the default policy --------------------------------------------------------

@pytest.mark.parametrize("url, word", [
    ("https://127.0.0.1:{port}/c", "non-public address 127.0.0.1"),
    ("https://localhost:{port}/c", "localhost resolves to non-public address"),
    ("https://[::1]/c", "non-public address ::1"),
    ("https://[::1]:{port}/c", "non-public address ::1"),
    ("https://10.1.2.3/x", "non-public address 10.1.2.3"),
    ("https://169.254.169.254/latest/meta-data/x", "non-public address 169.254.169.254"),
    ("https://internal.test:{port}/c", "internal.test resolves to non-public address 10.9.9.9"),
    ("https://metadata.test/c", "metadata.test resolves to non-public address 169.254.169.254"),
    ("https://loopback.test:{port}/c", "loopback.test resolves to non-public address 127.0.0.1"),
    ("https://mapped.test:{port}/c", "non-public address ::ffff:127.0.0.1"),
])
async def test_default_policy_refuses_without_connecting(server, make_fetcher, test_ca, url, word):
    resolver = MapResolver({"internal.test": ["10.9.9.9"], "metadata.test": ["169.254.169.254"],
                            "loopback.test": ["127.0.0.1"],
                            "mapped.test": ["::ffff:127.0.0.1"]})
    names = make_fetcher(allow_networks=(), resolver=resolver)
    system = make_fetcher(allow_networks=())
    target = url.format(port=server.port)
    server.serve_json("/c", document(target))
    chosen = system if "localhost" in url else names
    assert word in await refused(chosen, target)
    assert server.requests == []


async def test_one_inside_answer_refuses_the_name(server, make_fetcher):
    # Filtering the answers instead would connect to the allowed one and reach the server.
    resolver = MapResolver({"cimd.test": ["127.0.0.1", "10.9.9.9"]})
    fetcher = make_fetcher(resolver=resolver)
    url = server.url("/c", host="cimd.test")
    server.serve_json("/c", document(url))
    assert "non-public address 10.9.9.9" in await refused(fetcher, url)
    assert server.requests == []


async def test_dns_rebinding_has_no_window(server, make_fetcher):
    # The first answer passes the check (127.0.0.2 stands in for a public address; nothing listens
    # there), every later answer points at the server. An implementation that checks one
    # resolution and connects with another would reach the server.
    resolver = MapResolver({"cimd.test": [["127.0.0.2"], ["127.0.0.1"]]})
    fetcher = make_fetcher(allow_networks=("127.0.0.2/32",), resolver=resolver)
    url = server.url("/c", host="cimd.test")
    server.serve_json("/c", document(url))
    assert "127.0.0.2" in await refused(fetcher, url)  # connected to the address that was checked
    assert server.requests == []
    assert resolver.calls == ["cimd.test"]


async def test_tls_is_verified(server, make_fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url))
    system_trust = make_fetcher(ssl_context=None)  # the system store does not know the test CA
    assert "Certificate" in await refused(system_trust, url)
    resolver = MapResolver({"other.test": ["127.0.0.1"]})
    wrong_name = make_fetcher(resolver=resolver)  # the certificate does not name other.test
    other = server.url("/c", host="other.test")
    server.serve_json("/c", document(other))
    assert "Certificate" in await refused(wrong_name, other)
    assert server.requests == []


@pytest.mark.parametrize("address, allowed", [
    ("8.8.8.8", True), ("1.1.1.1", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("64:ff9b::808:808", True),
    ("127.0.0.1", False), ("127.1.2.3", False), ("10.0.0.1", False), ("172.16.0.1", False),
    ("192.168.1.1", False), ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False),
    ("224.0.0.1", False), ("239.255.255.250", False), ("240.0.0.1", False), ("255.255.255.255", False),
    ("192.0.2.1", False), ("198.18.0.1", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fe80::1%eth0", False), ("fc00::1", False),
    ("fd12:3456::1", False), ("ff02::1", False), ("fec0::1", False), ("2001:db8::1", False),
    ("::ffff:127.0.0.1", False), ("::ffff:10.0.0.1", False), ("::ffff:169.254.169.254", False),
    ("64:ff9b::a00:1", False), ("64:ff9b::7f00:1", False), ("2002:a00:1::1", False), ("::a00:1", False),
    ("not-an-ip", False), ("127.1", False), ("2130706433", False),
])
def test_address_policy(address, allowed):
    assert AddressPolicy().allows(address) is allowed


def test_address_policy_allow_networks():
    policy = AddressPolicy(("127.0.0.1/32", "10.20.0.0/16"))
    assert policy.allows("127.0.0.1") and policy.allows("10.20.3.4") and policy.allows("::ffff:127.0.0.1")
    assert not policy.allows("127.0.0.2") and not policy.allows("10.21.0.1")


# --- caching and single flight ------------------------------------------------------------------

async def test_max_age_is_cached(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url), headers={"Cache-Control": "public, max-age=600"})
    first = await fetcher.get(url)
    assert await fetcher.get(url) is first
    assert server.requests == ["/c"]


async def test_default_ttl_applies_without_cache_control(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url))
    await fetcher.get(url)
    await fetcher.get(url)
    assert server.requests == ["/c"]


@pytest.mark.parametrize("cache_control", ["no-store", "no-cache", "max-age=0", "max-age=abc", "private, no-store"])
async def test_uncacheable_responses_are_fetched_again(server, fetcher, cache_control):
    url = server.url("/c")
    server.serve_json("/c", document(url), headers={"Cache-Control": cache_control})
    await fetcher.get(url)
    await fetcher.get(url)
    assert server.requests == ["/c", "/c"]


async def test_max_ttl_bounds_max_age(server, make_fetcher):
    fetcher = make_fetcher(max_ttl=0)
    url = server.url("/c")
    server.serve_json("/c", document(url), headers={"Cache-Control": "max-age=86400"})
    await fetcher.get(url)
    await fetcher.get(url)
    assert server.requests == ["/c", "/c"]


async def test_cache_size_zero_disables_caching(server, make_fetcher):
    fetcher = make_fetcher(cache_size=0)
    url = server.url("/c")
    server.serve_json("/c", document(url), headers={"Cache-Control": "max-age=600"})
    await fetcher.get(url)
    await fetcher.get(url)
    assert server.requests == ["/c", "/c"]


async def test_errors_are_not_cached(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", {"error": "down"}, status=500, headers={"Cache-Control": "max-age=600"})
    await refused(fetcher, url)
    server.serve_json("/c", document(url, redirect_uris=[]), headers={"Cache-Control": "max-age=600"})
    await refused(fetcher, url)
    server.serve_json("/c", document(url), headers={"Cache-Control": "max-age=600"})
    assert (await fetcher.get(url)).client_id == url
    assert server.requests == ["/c", "/c", "/c"]


@pytest.mark.parametrize("header, ttl", [
    (None, 300.0), ("max-age=60", 60.0), ("public, max-age=\"120\"", 120.0), ("MAX-AGE=5", 5.0),
    ("max-age=999999", 86400.0), ("no-store", 0.0), ("no-cache, max-age=60", 0.0), ("max-age=-1", 0.0),
    ("max-age=", 0.0), ("private", 300.0), ("", 300.0),
])
def test_cache_ttl(header, ttl):
    assert cache_ttl(header, 300.0, 86400.0) == ttl


async def gated(server: DocServer, path: str, url: str):
    """Serve `path` only once `gate` is set; `seen` is set when the first request arrives."""
    gate, seen = asyncio.Event(), asyncio.Event()

    async def handler(_request):
        seen.set()
        await gate.wait()
        return web.json_response(document(url), headers={"Cache-Control": "no-store"})
    server.routes[path] = handler
    return gate, seen


async def test_single_flight(server, fetcher):
    url = server.url("/c")
    gate, seen = await gated(server, "/c", url)
    tasks = [asyncio.create_task(fetcher.get(url)) for _ in range(10)]
    await seen.wait()  # all ten were started before the request could even be sent
    gate.set()
    docs = await asyncio.gather(*tasks)
    assert all(d is docs[0] for d in docs)
    assert server.requests == ["/c"]  # one fetch, though the response was not cacheable


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch(server, fetcher):
    url = server.url("/c")
    gate, seen = await gated(server, "/c", url)
    first, second = asyncio.create_task(fetcher.get(url)), asyncio.create_task(fetcher.get(url))
    await seen.wait()
    first.cancel()
    gate.set()
    assert (await second).client_id == url
    with pytest.raises(asyncio.CancelledError):
        await first
    assert server.requests == ["/c"]


async def test_concurrent_failures_are_shared_and_not_cached(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url, client_secret="x"))
    results = await asyncio.gather(*(fetcher.get(url) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ClientMetadataError) for r in results)
    server.serve_json("/c", document(url))
    assert (await fetcher.get(url)).client_id == url


# --- the URL shape ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "https://claude.ai/oauth/claude-code-client-metadata",
    "https://app.example/c",
    "https://app.example:8443/c.json",
    "https://app.example/c?v=1",
    "https://127.0.0.1:4443/c",
    "https://[::1]/c",
    "https://app.example/a/b/",
    "https://app.example/" + "a" * (2000 - len("https://app.example/")),
])
def test_is_metadata_url_accepts(url):
    assert is_metadata_url(url)


@pytest.mark.parametrize("url", [
    "https://app.example", "https://app.example/", "https://app.example?x=1", "https://app.example/?x=1",
    "http://app.example/c", "HTTPS://app.example/c", "ftp://app.example/c", "app.example/c", "/c", "",
    "https://app.example/c#", "https://app.example/c#frag",
    "https://user@app.example/c", "https://user:pw@app.example/c", "https://app.example@evil.example/c",
    "https://app.example/./c", "https://app.example/a/../c", "https://app.example/a/..",
    "https://app.example/a/.", "https://app.example/%2e%2e/c", "https://app.example/%2E/c",
    "https://app.example/" + "a" * (2001 - len("https://app.example/")),
    "https://app.example/c d", "https://app.example/c\n", "https://app.example/caf\u00e9",
    "https://app.example\\@evil.example/c", "https:///c", "https://app.example:0/c",
    "https://app.example:99999/c", "https://app.example:/c", "https://app..example/c",
    None, 42,
])
def test_is_metadata_url_refuses(url):
    assert not is_metadata_url(url)


async def test_get_refuses_a_bad_url_without_fetching(server, fetcher):
    reason = await refused(fetcher, server.url("/a/../c"))
    assert "metadata document URL" in reason
    assert server.requests == []
