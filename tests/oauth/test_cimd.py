"""Client ID Metadata Document fetching against a real local https server (anchors §1.4, §2.4 case
17; checklist §4.4 and §5 SSRF).

No HTTP mocks: documents come from an aiohttp.web app over TLS on 127.0.0.1 with a throwaway CA.
Name resolution is injected where a test needs a hostname to point somewhere specific; nothing
connects anywhere but 127.0.0.1 (private and metadata addresses are refused before connecting,
which the request counters on the server confirm).
"""
from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web

from vectis.oauth.cimd import (
    ClientMetadataDocument,
    ClientMetadataError,
    parse_document,
)

from .cimd_support import DROP, MapResolver, document, refused

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
