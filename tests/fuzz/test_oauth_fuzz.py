"""Fuzzing the authorization server on a live server: registration, token, revocation,
authorize and the metadata documents. Errors are RFC-shaped JSON (never a 5xx, never HTML from
the JSON endpoints), token answers are never cacheable, and authorize never redirects anywhere
but a registered redirect URI or the sign-in page."""
from __future__ import annotations

import base64
import json
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

from vectis.oauth.cimd import is_metadata_url

from .checks import assert_still_serving, check_oauth_error, json_body, no_server_error
from .strategies import header_text, json_values, small_text

REDIRECT = "http://127.0.0.1:9/callback"
AUTH_METHODS = ["none", "client_secret_post", "client_secret_basic", "private_key_jwt", ""]
GRANTS = ["authorization_code", "refresh_token", "client_credentials", "password", "implicit",
          "urn:ietf:params:oauth:grant-type:device_code", "", "AUTHORIZATION_CODE"]
REDIRECTS = [REDIRECT, "http://localhost/cb", "https://app.example/cb", "javascript:alert(1)",
             "http://127.0.0.1:99999/x", "https://a.example/cb#frag", "myapp:/cb", "https://u@h.example/",
             "http://[::1]:8080/cb?x=1", "https://h.example/%zz", "/relative", ""]


@pytest.fixture(scope="module")
def clients(fuzz_server):
    """One public and one confidential client, registered the ordinary way."""
    made = {}
    for method in ("none", "client_secret_basic"):
        reply = fuzz_server.client(rotate_source=True).request(
            "POST", "/oauth/register", json.dumps({
                "redirect_uris": [REDIRECT], "token_endpoint_auth_method": method,
                "grant_types": ["authorization_code", "refresh_token"], "client_name": "fuzz " + method,
            }).encode(), {"Content-Type": "application/json"})
        assert reply.status == 201, reply.body
        made[method] = json.loads(reply.body)
    return made


junk_metadata = st.fixed_dictionaries({}, optional={
    "redirect_uris": st.lists(st.sampled_from(REDIRECTS) | small_text, max_size=12) | json_values,
    "token_endpoint_auth_method": st.sampled_from(AUTH_METHODS) | json_values,
    "grant_types": st.lists(st.sampled_from(GRANTS), max_size=3) | json_values,
    "response_types": st.sampled_from([["code"], ["token"], [], "code"]) | json_values,
    "client_name": small_text | st.just("x" * 3000) | st.just("line\nbreak") | json_values,
    "scope": st.sampled_from(["read:customers", "read:tickets write:tickets", "openid offline_access", ""])
    | small_text | json_values,
    "client_uri": small_text | json_values, "logo_uri": small_text, "software_id": small_text,
    "jwks": json_values, "contacts": json_values, "extra": json_values,
})
# Mostly valid registrations (so the storing and echoing paths run too), each optional field
# sometimes present with an odd but well-typed value.
valid_metadata = st.fixed_dictionaries(
    {"redirect_uris": st.lists(st.sampled_from(REDIRECTS[:3] + ["http://localhost:0/x?y=1"]), min_size=1, max_size=4)},
    optional={"token_endpoint_auth_method": st.sampled_from(AUTH_METHODS[:3]),
              "grant_types": st.sampled_from([["authorization_code"], ["authorization_code", "refresh_token"],
                                              ["refresh_token", "authorization_code", "refresh_token"]]),
              "client_name": small_text, "scope": small_text, "client_uri": small_text,
              "software_version": small_text, "tos_uri": st.text(max_size=3000)})


@st.composite
def client_metadata(draw):
    metadata = draw(valid_metadata)
    if draw(st.booleans()):
        metadata.update(draw(junk_metadata))
    return metadata


@settings(settings.get_profile("fuzz"), max_examples=200)
@given(metadata=client_metadata() | json_values, as_text=st.booleans())
def test_register(fuzz_server, metadata, as_text):
    body = json.dumps(metadata, ensure_ascii=False).encode("utf-8", "surrogatepass")
    # Each example from another loopback address: the per-address throttle is not the subject.
    reply = fuzz_server.client(rotate_source=True).request(
        "POST", "/oauth/register", body, {"Content-Type": "text/plain" if as_text else "application/json"})
    assert reply.header("Cache-Control") == "no-store"
    if reply.status == 201:
        created = json_body(reply)
        assert created["client_id"].startswith("vcl_") and created["redirect_uris"], created
        event("registered")
    else:
        event(check_oauth_error(reply)["error"])


client_ids = st.sampled_from(["public", "confidential"] * 3) | st.just("vcl_" + "0" * 20) | small_text \
    | st.just("https://127.0.0.1:1/client.json")


def resolve_id(value: str, clients: dict) -> str:
    return {"public": clients["none"]["client_id"], "confidential": clients["client_secret_basic"]["client_id"]
            }.get(value, value)


@st.composite
def token_forms(draw, clients: dict) -> tuple[bytes, dict[str, str]]:
    fields: dict[str, str] = draw(st.fixed_dictionaries({}, optional={
        "grant_type": st.sampled_from(GRANTS[:2] * 4 + GRANTS) | small_text,
        "code": st.sampled_from(["", "vct_code_x", "a" * 5000]) | small_text,
        "code_verifier": st.text(alphabet="abcXYZ019-._~", min_size=0, max_size=130),
        "redirect_uri": st.sampled_from(REDIRECTS),
        "refresh_token": st.sampled_from(["", "vct_rt_nope"]) | small_text,
        "resource": st.sampled_from(["", "http://fuzz.localhost/api/mcp", "https://evil.example/"]) | small_text,
        "scope": small_text,
        "client_secret": small_text,
        "token": small_text,
        "token_type_hint": st.sampled_from(["access_token", "refresh_token", "bogus"]),
    }))
    if draw(st.integers(0, 4)):
        fields["client_id"] = resolve_id(draw(client_ids), clients)
    # a metadata-document client_id would be fetched; only an IP literal (refused unfetched) is sent
    assume(not is_metadata_url(fields.get("client_id", "")) or fields["client_id"].startswith("https://127."))
    pairs = list(fields.items())
    if draw(st.integers(0, 9)) == 0 and pairs:
        pairs.append(pairs[0])  # a repeated parameter
    body = urlencode(pairs).encode()
    if draw(st.integers(0, 9)) == 0:
        body = draw(st.sampled_from([b"%zz=%", b"a=\xff\xfe", b"&&&=", b"grant_type=authorization_code&code=%00",
                                     b"x" * 70_000]))
    headers = {"Content-Type": draw(st.sampled_from(["application/x-www-form-urlencoded"] * 5 + [
        "application/json", "", "application/x-www-form-urlencoded; charset=utf-8", "multipart/form-data"]))}
    auth = draw(st.sampled_from(["none", "basic-good", "basic-random", "bearer", "basic-broken"]))
    if auth == "basic-good":
        conf = clients["client_secret_basic"]
        headers["Authorization"] = "Basic " + base64.b64encode(
            f"{conf['client_id']}:{conf['client_secret']}".encode()).decode()
    elif auth == "basic-random":
        headers["Authorization"] = "Basic " + base64.b64encode(draw(st.binary(max_size=40))).decode()
    elif auth == "basic-broken":
        headers["Authorization"] = "Basic " + draw(header_text)
    elif auth == "bearer":
        headers["Authorization"] = "Bearer " + draw(header_text)
    return body, {k: v for k, v in headers.items() if v}


@settings(settings.get_profile("fuzz"), max_examples=250)
@given(data=st.data())
def test_token(fuzz_server, client, clients, data):
    body, headers = data.draw(token_forms(clients))
    reply = client.request("POST", "/oauth/token", body, headers)
    assert reply.header("Cache-Control") == "no-store", reply.headers
    assert reply.status != 200, reply.body  # no valid code or refresh token exists to redeem
    event(check_oauth_error(reply)["error"])


@settings(settings.get_profile("fuzz"), max_examples=150)
@given(data=st.data())
def test_revoke(fuzz_server, client, clients, data):
    body, headers = data.draw(token_forms(clients))
    reply = client.request("POST", "/oauth/revoke", body, headers)
    assert reply.header("Cache-Control") == "no-store", reply.headers
    if reply.status == 200:
        assert reply.body == b""
        event("revoked (or unknown)")
    else:
        event(check_oauth_error(reply)["error"])


authorize_params = st.fixed_dictionaries({"client_id": client_ids}, optional={
    "redirect_uri": st.sampled_from([REDIRECT, "http://127.0.0.1:4242/callback"] * 3 + REDIRECTS) | small_text,
    "response_type": st.sampled_from(["code"] * 4 + ["token", ""]), "state": small_text | st.just("s" * 3000),
    "code_challenge": st.sampled_from(["E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"] * 4 + ["short", ""])
    | small_text,
    "code_challenge_method": st.sampled_from(["S256"] * 4 + ["plain", ""]), "scope": small_text,
    "resource": st.sampled_from(["http://fuzz.localhost/api/mcp", "https://other.example/"]) | small_text,
})


@settings(settings.get_profile("fuzz"), max_examples=200)
@given(params=authorize_params, repeat=st.booleans(), raw_tail=st.sampled_from(["", "&%zz", "&a=%ff", "&&="]))
def test_authorize(fuzz_server, client, clients, params, repeat, raw_tail):
    if "client_id" in params:
        params = {**params, "client_id": resolve_id(params["client_id"], clients)}
    assume(not is_metadata_url(params.get("client_id", "")) or params["client_id"].startswith("https://127."))
    pairs = list(params.items()) + (list(params.items())[:1] if repeat else [])
    reply = client.request("GET", "/oauth/authorize?" + urlencode(pairs) + raw_tail)
    no_server_error(reply)
    if reply.status in (302, 303):
        location = reply.header("Location") or ""
        # Never an open redirect: the registered URI (loopback ports may vary) or sign-in.
        parts = urlsplit(location)
        assert location.startswith("/signin?") or (
            parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == "/callback"), location
        event("redirect to " + ("sign-in" if location.startswith("/signin") else "client"))
    else:
        assert reply.status == 400, (reply.status, reply.body[:300])
        event("error page")


@settings(settings.get_profile("fuzz"), max_examples=100)
@given(path=st.sampled_from(["/.well-known/oauth-authorization-server", "/.well-known/oauth-protected-resource",
                             "/.well-known/oauth-protected-resource/api/mcp"]),
       method=st.sampled_from(["GET", "GET", "POST", "OPTIONS", "DELETE"]),
       query=st.dictionaries(small_text, small_text, max_size=3))
def test_metadata_documents(fuzz_server, client, path, method, query):
    reply = client.request(method, path + ("?" + urlencode(query) if query else ""),
                           b"{}" if method == "POST" else None)
    no_server_error(reply)
    if method == "GET":
        assert reply.status == 200
        document = json_body(reply)
        assert isinstance(document, dict) and ("issuer" in document or "resource" in document), document
    event(f"{method} {reply.status}")


def test_still_serving_after_fuzzing(fuzz_server, client):
    assert_still_serving(fuzz_server, client)
