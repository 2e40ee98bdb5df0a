"""Client ID Metadata Document fetching against a real local https server (anchors §1.4, §2.4 case
17; checklist §4.4 and §5 SSRF).

No HTTP mocks: documents come from an aiohttp.web app over TLS on 127.0.0.1 with a throwaway CA.
Name resolution is injected where a test needs a hostname to point somewhere specific; nothing
connects anywhere but 127.0.0.1 (private and metadata addresses are refused before connecting,
which the request counters on the server confirm).
"""
from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from vectis.oauth.cimd import (
    AddressPolicy,
    ClientMetadataDocument,
    ClientMetadataError,
    ClientMetadataFetcher,
    cache_ttl,
    is_metadata_url,
    parse_document,
)

from ..support.tls import TestCA, make_test_ca

SERVER_NAMES = ("localhost", "127.0.0.1", "cimd.test", "hop.test")


class MapResolver(AbstractResolver):
    """Resolves names from a table; each answer may be a list of lists (one per successive call)."""

    def __init__(self, table: dict[str, list]):
        self.table = table
        self.calls: list[str] = []

    async def resolve(self, host: str, port: int = 0, family=socket.AF_INET) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in self.table:
            raise OSError(f"unknown test host {host}")
        answer = self.table[host]
        if answer and isinstance(answer[0], list):  # successive answers: the rebinding attacker
            answer = answer[0] if len(answer) == 1 else answer.pop(0)
        return [ResolveResult(hostname=host, host=addr, port=port,
                              family=socket.AF_INET6 if ":" in addr else socket.AF_INET,
                              proto=0, flags=socket.AI_NUMERICHOST) for addr in answer]

    async def close(self) -> None:
        pass


class DocServer:
    """Routes are coroutines set per test; every request is recorded before routing."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[str] = []
        self.stop = asyncio.Event()
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}{path}"

    def serve_json(self, path: str, obj, *, headers=None, content_type="application/json", status=200):
        body = obj if isinstance(obj, bytes) else json.dumps(obj).encode()

        async def handler(_request):
            return web.Response(body=body, status=status, content_type=content_type, headers=headers)
        self.routes[path] = handler

    def redirect(self, path: str, location: str, status: int = 302):
        async def handler(_request):
            return web.Response(status=status, headers={"Location": location})
        self.routes[path] = handler

    async def pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except TimeoutError:
            pass

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404, text="not found")
        return await handler(request)


def document(url: str, **fields) -> dict:
    doc = {"client_id": url, "client_name": "Test Client",
           "redirect_uris": ["http://localhost/callback", "https://app.example/cb"],
           "grant_types": ["authorization_code", "refresh_token"], "token_endpoint_auth_method": "none"}
    doc.update(fields)
    return {k: v for k, v in doc.items() if v is not DROP}


DROP = object()


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def server(test_ca):
    srv = DocServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=test_ca.server_context(SERVER_NAMES))
    await site.start()
    srv.port = runner.addresses[0][1]
    yield srv
    srv.stop.set()
    await runner.cleanup()


@pytest.fixture
async def make_fetcher(test_ca):
    fetchers = []

    def make(**kwargs) -> ClientMetadataFetcher:
        kwargs.setdefault("allow_networks", ("127.0.0.1/32",))
        kwargs.setdefault("ssl_context", test_ca.client_context())
        fetchers.append(ClientMetadataFetcher(**kwargs))
        return fetchers[-1]
    yield make
    for f in fetchers:
        await f.close()


@pytest.fixture
def fetcher(make_fetcher) -> ClientMetadataFetcher:
    return make_fetcher()


async def refused(fetcher: ClientMetadataFetcher, url: str) -> str:
    with pytest.raises(ClientMetadataError) as err:
        await fetcher.get(url)
    return err.value.reason


# --- a valid document ---------------------------------------------------------------------------

async def test_valid_document(server, fetcher):
    url = server.url("/oauth/client.json")
    server.serve_json("/oauth/client.json", document(url, client_uri="https://app.example/",
                                                      logo_uri="https://app.example/logo.png", scope="read write"))
    doc = await fetcher.get(url)
    assert doc == ClientMetadataDocument(
        client_id=url, client_name="Test Client",
        redirect_uris=("http://localhost/callback", "https://app.example/cb"),
        token_endpoint_auth_method="none", grant_types=("authorization_code", "refresh_token"),
        client_uri="https://app.example/", logo_uri="https://app.example/logo.png", scope="read write")
    assert server.requests == ["/oauth/client.json"]


async def test_minimal_document_defaults(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", {"client_id": url, "client_name": "C", "redirect_uris": ["http://127.0.0.1/cb"]},
                      content_type="application/vnd.example+json")
    doc = await fetcher.get(url)
    assert doc.token_endpoint_auth_method == "none"
    assert (doc.grant_types, doc.client_uri, doc.logo_uri, doc.scope, doc.jwks_uri) == (None,) * 5


async def test_private_key_jwt_is_accepted(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url, token_endpoint_auth_method="private_key_jwt",
                                     jwks_uri="https://app.example/jwks.json"))
    doc = await fetcher.get(url)
    assert (doc.token_endpoint_auth_method, doc.jwks_uri) == ("private_key_jwt", "https://app.example/jwks.json")


async def test_hostname_through_injected_resolver(server, make_fetcher):
    resolver = MapResolver({"cimd.test": ["127.0.0.1"]})
    fetcher = make_fetcher(resolver=resolver)
    url = server.url("/c", host="cimd.test")
    server.serve_json("/c", document(url))
    assert (await fetcher.get(url)).client_id == url
    assert resolver.calls == ["cimd.test"]


# --- invalid documents --------------------------------------------------------------------------

async def test_client_id_mismatch(server, fetcher, caplog):
    url = server.url("/c")
    server.serve_json("/c", document(server.url("/c", host="localhost"), client_name="BODY-MARKER"))
    with caplog.at_level(logging.WARNING, logger="vectis.oauth.cimd"):
        reason = await refused(fetcher, url)
    assert "client_id" in reason
    logged = [r.getMessage() for r in caplog.records if r.name == "vectis.oauth.cimd"]
    assert len(logged) == 1 and "127.0.0.1" in logged[0] and reason in logged[0]
    assert "BODY-MARKER" not in caplog.text


@pytest.mark.parametrize("redirect_uris", [
    DROP, None, [], "https://app.example/cb", ["javascript:alert(1)"], ["https://app.example/cb#x"],
    ["http://evil.example/cb"], ["https://*.example/cb"], [42], ["https://app.example/cb"] * 21,
])
async def test_missing_or_invalid_redirect_uris(server, fetcher, redirect_uris):
    url = server.url("/c")
    server.serve_json("/c", document(url, redirect_uris=redirect_uris))
    assert "redirect_uris" in await refused(fetcher, url)


@pytest.mark.parametrize("fields", [
    {"token_endpoint_auth_method": "client_secret_basic"},
    {"token_endpoint_auth_method": "client_secret_post"},
    {"token_endpoint_auth_method": "client_secret_jwt"},
    {"client_secret": "s3cret"},
    {"token_endpoint_auth_method": "none", "client_secret": "s3cret"},
])
async def test_symmetric_auth_is_rejected(server, fetcher, fields):
    url = server.url("/c")
    server.serve_json("/c", document(url, **fields))
    assert "symmetric" in await refused(fetcher, url)


@pytest.mark.parametrize("fields, word", [
    ({"token_endpoint_auth_method": "tls_client_auth"}, "token_endpoint_auth_method"),
    ({"token_endpoint_auth_method": ["none"]}, "token_endpoint_auth_method"),
    ({"client_name": DROP}, "client_name"),
    ({"client_name": ""}, "client_name"),
    ({"client_name": "   "}, "client_name"),
    ({"client_name": "x" * 201}, "client_name"),
    ({"client_name": "Evil\u202eppA"}, "client_name"),
    ({"client_name": "two\nlines"}, "client_name"),
    ({"client_name": 7}, "client_name"),
    ({"client_id": DROP}, "client_id"),
    ({"grant_types": "authorization_code"}, "grant_types"),
    ({"logo_uri": "http://app.example/logo.png"}, "logo_uri"),
    ({"logo_uri": "data:image/png;base64,AAAA"}, "logo_uri"),
    ({"client_uri": "javascript:alert(1)"}, "client_uri"),
    ({"jwks_uri": "https://user@app.example/jwks"}, "jwks_uri"),
    ({"scope": "read  write"}, "scope"),
    ({"scope": 'read "write"'}, "scope"),
])
def test_field_validation(fields, word):
    url = "https://app.example/client.json"
    with pytest.raises(ClientMetadataError) as err:
        ClientMetadataDocument.parse(url, document(url, **fields))
    assert word in err.value.reason


def test_client_name_limit_and_unicode():
    url = "https://app.example/client.json"
    assert ClientMetadataDocument.parse(url, document(url, client_name="Café " + "x" * 195)).client_name


@pytest.mark.parametrize("body", [
    b"", b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe{}", b'{"client_id": "a", "client_id": "b"}',
    b"[" * 5000 + b"]" * 5000,
])
def test_parse_document_rejects_non_objects_and_ambiguity(body):
    with pytest.raises(ClientMetadataError):
        parse_document("https://app.example/c", body)


async def test_non_json_content_type(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url), content_type="text/html")
    assert "content type" in await refused(fetcher, url)


async def test_json_content_type_with_invalid_body(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", b"<html>hello</html>")
    assert "JSON" in await refused(fetcher, url)


@pytest.mark.parametrize("status", [404, 500, 204, 201, 304])
async def test_non_200(server, fetcher, status):
    url = server.url("/c")
    if status == 404:
        server.routes.clear()
    else:
        server.serve_json("/c", document(url), status=status)
    assert f"HTTP {status}" == await refused(fetcher, url)


async def test_compressed_response_is_refused(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", document(url), headers={"Content-Encoding": "gzip"})
    assert "compressed" in await refused(fetcher, url)


# --- size and time limits -----------------------------------------------------------------------

def padded(url: str, size: int) -> bytes:
    base = json.dumps(document(url, software_id="")).encode()
    body = json.dumps(document(url, software_id="x" * (size - len(base)))).encode()
    assert len(body) == size
    return body


async def test_document_at_the_limit_is_accepted(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", padded(url, 5120))
    assert (await fetcher.get(url)).client_id == url


async def test_oversize_document_with_content_length(server, fetcher):
    url = server.url("/c")
    server.serve_json("/c", padded(url, 5121))
    assert "Content-Length 5121" in await refused(fetcher, url)


async def test_oversize_document_streamed_without_content_length(server, fetcher):
    url = server.url("/c")
    body = padded(url, 20_000)

    async def chunked(request):
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(body), 1000):
            await resp.write(body[i:i + 1000])
        await resp.write_eof()
        return resp
    server.routes["/c"] = chunked
    assert "body exceeds 5120" in await refused(fetcher, url)


async def test_slow_body_fails_within_the_timeout(server, make_fetcher):
    fetcher = make_fetcher(timeout=0.5)
    url = server.url("/c")

    async def trickle(request):
        # Valid JSON if it ever finished: leading whitespace, one byte per 50 ms, 5 KB would take
        # minutes; only the total deadline can stop it.
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        while not server.stop.is_set():
            await resp.write(b" ")
            await server.pause(0.05)
        return resp
    server.routes["/c"] = trickle
    assert "no complete response within 0.5s" == await refused(fetcher, url)


async def test_slow_headers_fail_within_the_timeout(server, make_fetcher):
    fetcher = make_fetcher(timeout=0.5)
    url = server.url("/c")

    async def stall(_request):
        await server.pause(60)
        return web.Response()
    server.routes["/c"] = stall
    assert "no complete response" in await refused(fetcher, url)


# --- redirects ----------------------------------------------------------------------------------

async def test_redirect_to_allowed_https_hop(server, fetcher):
    url = server.url("/start")
    server.redirect("/start", "/moved")
    server.redirect("/moved", server.url("/final"), status=308)
    server.serve_json("/final", document(url))  # client_id is the ORIGINAL URL
    assert (await fetcher.get(url)).client_id == url
    assert server.requests == ["/start", "/moved", "/final"]


async def test_redirected_document_must_name_the_original_url(server, fetcher):
    url = server.url("/start")
    server.redirect("/start", "/final")
    server.serve_json("/final", document(server.url("/final")))
    assert "client_id" in await refused(fetcher, url)


@pytest.mark.parametrize("location, word", [
    ("https://10.0.0.5/c", "non-public address 10.0.0.5"),
    ("https://169.254.169.254/latest/meta-data/", "non-public address 169.254.169.254"),
    ("https://[::ffff:169.254.169.254]/", "non-public address ::ffff:a9fe:a9fe"),
    ("https://[fd00::1]/c", "non-public address fd00::1"),
    ("http://127.0.0.1:{port}/final", "non-https"),
    ("file:///etc/passwd", "non-https"),
    ("https://user:pw@127.0.0.1:{port}/final", "userinfo"),
])
async def test_redirect_to_forbidden_target_is_refused(server, fetcher, location, word):
    url = server.url("/start")
    server.redirect("/start", location.format(port=server.port))
    server.serve_json("/final", document(url))
    assert word in await refused(fetcher, url)
    assert server.requests == ["/start"]


async def test_redirect_to_a_name_resolving_inside_is_refused(server, make_fetcher):
    resolver = MapResolver({"cimd.test": ["127.0.0.1"], "hop.test": ["10.9.9.9"]})
    fetcher = make_fetcher(resolver=resolver)
    url = server.url("/start", host="cimd.test")
    server.redirect("/start", server.url("/final", host="hop.test"))
    server.serve_json("/final", document(url))
    assert "hop.test resolves to non-public address 10.9.9.9" in await refused(fetcher, url)
    assert server.requests == ["/start"]


async def test_redirect_without_location(server, fetcher):
    url = server.url("/start")

    async def bare(_request):
        return web.Response(status=302)
    server.routes["/start"] = bare
    assert "Location" in await refused(fetcher, url)


async def test_too_many_redirects(server, make_fetcher):
    fetcher = make_fetcher(max_redirects=2)
    url = server.url("/loop")
    server.redirect("/loop", "/loop")
    assert "more than 2 redirects" in await refused(fetcher, url)
    assert server.requests == ["/loop"] * 3


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
