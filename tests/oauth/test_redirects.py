"""Redirect URI policy: what may be registered, and how a requested URI is matched (anchors §2.4
cases 1 and 16; RFC 8252 §7.1 and §7.3)."""
from __future__ import annotations

import pytest

from vectis.oauth.redirects import (
    InvalidRedirectUri,
    is_loopback_redirect,
    redirect_host,
    redirect_matches,
    validate_redirect_uri,
)

ACCEPTED = [
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
    "https://chatgpt.com/connector_platform_oauth_redirect",
    "https://example.com",
    "https://example.com:8443/cb?tenant=acme&x=1",
    "https://medium.com/@someone/cb",
    "https://[2001:db8::1]/cb",
    "https://xn--bcher-kva.example/cb",
    "http://127.0.0.1/callback",
    "http://127.0.0.1:33418/callback",
    "http://[::1]:8080/cb",
    "http://localhost/callback",
    "http://localhost:6274/oauth/callback/debug",
    "http://localhost",
    "com.example.app:/oauth2redirect/example-provider",
    "com.example.app:/",
    "cursor://anysphere.cursor-retrieval/oauth/user-vectis/callback",
    "vscode://vscode.github-authentication/did-authenticate",
    "x-my-app+dev.v2://cb",
]

REFUSED = [
    "",
    "/relative/callback",
    "//claude.ai/cb",
    "callback",
    "https://claude.ai/cb#frag",
    "https://claude.ai/cb#",
    "https://*.claude.ai/cb",
    "https://claude.ai/*",
    "https://claude.ai/cb/*/x",
    "com.example.app:/cb/*",
    "https://user@claude.ai/cb",
    "https://claude.ai@evil.com/cb",
    "https://:pw@claude.ai/cb",
    "cursor://user@anysphere.cursor/cb",
    "https://claude.ai/cb path",
    " https://claude.ai/cb",
    "https://claude.ai/cb\n",
    "https://claude.ai/cb\t",
    "https://claude.ai/\x00",
    "https://claude.ai/\x7f",
    "https://bücher.example/cb",
    "https://claude.ai/caf\u00e9",
    "https://claude.ai\\@evil.com/",
    "https://claude.ai/cb%zz",
    "https://claude.ai/<script>",
    "https://" + "a" * 2000 + ".com/cb",
    "https:///cb",
    "https://",
    "https://claude.ai:0/cb",
    "https://claude.ai:65536/cb",
    "https://claude.ai:/cb",
    "https://claude.ai:80x/cb",
    "https://[zz::1]/cb",
    "https://claude..ai/cb",
    "https:claude.ai/cb",
    "HTTPS://claude.ai/cb",
    "Https://claude.ai/cb",
    "http://claude.ai/cb",
    "http://localhost.evil.com/cb",
    "http://127.0.0.1.nip.io/cb",
    "http://127.0.0.2/cb",
    "http://0.0.0.0/cb",
    "http://LOCALHOST/cb",
    "http://[::ffff:127.0.0.1]/cb",
    "http://localhost@evil.com/cb",
    "http://evil.com#@localhost/",
    "javascript:alert(1)",
    "javascript://claude.ai/%0aalert(1)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "data:text/html;base64,PHNjcmlwdD4=",
    "file:///etc/passwd",
    "vbscript:msgbox(1)",
    "about:blank",
    "blob:https://claude.ai/uuid",
    "ws://localhost/cb",
    "wss://claude.ai/cb",
    "ftp://claude.ai/cb",
    "mailto:a@example.com",
    "view-source:https://claude.ai/",
    "c:/windows/cb",
    "myapp:",
    "myapp://",
    None,
    42,
]


@pytest.mark.parametrize("uri", ACCEPTED)
def test_accepted_uris_are_returned_unchanged(uri):
    assert validate_redirect_uri(uri) == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_refused_uris(uri):
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri(uri)


def test_length_limit_is_2000_characters():
    base = "https://claude.ai/"
    assert validate_redirect_uri(base + "a" * (2000 - len(base)))
    with pytest.raises(InvalidRedirectUri):
        validate_redirect_uri(base + "a" * (2001 - len(base)))


def test_error_messages_do_not_echo_the_uri():
    secret = "https://claude.ai/cb#" + "token-in-fragment"
    with pytest.raises(InvalidRedirectUri) as err:
        validate_redirect_uri(secret)
    assert "token-in-fragment" not in str(err.value)


REGISTERED = "https://claude.ai/cb"


@pytest.mark.parametrize("requested", [
    "https://claude.ai/cb/x",
    "https://claude.ai/cb/",
    "https://claude.ai/c",
    "https://claude.ai/cb?x=1",
    "https://claude.ai/cb#",
    "https://claude.ai.evil.com/cb",
    "https://claude.ai@evil.com/cb",
    "HTTPS://claude.ai/cb",
    "https://CLAUDE.AI/cb",
    "https://claude.ai/CB",
    "https://claude.ai:443/cb",
    "https://claude.ai:8443/cb",
    "http://claude.ai/cb",
    "https://claude.ai/%63b",
    " https://claude.ai/cb",
])
def test_no_prefix_case_or_normalisation_matching(requested):
    assert not redirect_matches(REGISTERED, requested)


def test_exact_match():
    assert redirect_matches(REGISTERED, REGISTERED)
    assert redirect_matches("com.example.app:/cb", "com.example.app:/cb")
    assert not redirect_matches("com.example.app:/cb", "com.example.app:/cb2")


@pytest.mark.parametrize("registered, requested", [
    ("http://localhost/callback", "http://localhost:53211/callback"),
    ("http://127.0.0.1/callback", "http://127.0.0.1:33418/callback"),
    ("http://[::1]/callback", "http://[::1]:8080/callback"),
    ("http://127.0.0.1:8080/callback", "http://127.0.0.1:9090/callback"),
    ("http://127.0.0.1:8080/callback", "http://127.0.0.1/callback"),
    ("http://localhost/cb?a=1", "http://localhost:1/cb?a=1"),
    ("http://localhost", "http://localhost:65535"),
])
def test_loopback_port_is_ignored(registered, requested):
    assert redirect_matches(registered, requested)


@pytest.mark.parametrize("registered, requested", [
    ("http://localhost/callback", "http://127.0.0.1:5000/callback"),
    ("http://127.0.0.1/callback", "http://[::1]:5000/callback"),
    ("http://localhost/callback", "http://localhost:5000/callback/"),
    ("http://localhost/callback", "http://localhost:5000/Callback"),
    ("http://localhost/callback", "http://localhost:5000/callback?x=1"),
    ("http://localhost/callback", "https://localhost:5000/callback"),
    ("http://localhost/callback", "http://localhost:0/callback"),
    ("http://localhost/callback", "http://localhost:65536/callback"),
    ("http://localhost/callback", "http://localhost:/callback"),
    ("http://localhost/callback", "http://localhost:5000@evil.com/callback"),
    ("http://localhost/callback", "http://localhost.evil.com:5000/callback"),
    ("http://localhost/callback", "http://localhost:5000/callback#x"),
    ("http://localhost/callback", "http://LOCALHOST:5000/callback"),
    ("https://localhost/callback", "https://localhost:5000/callback"),
    ("https://claude.ai/cb", "https://claude.ai:444/cb"),
])
def test_loopback_allowance_is_narrow(registered, requested):
    assert not redirect_matches(registered, requested)


def test_matching_never_accepts_an_invalid_requested_uri():
    # Even equal strings: a stored value that would no longer pass validation must not be used.
    assert not redirect_matches("javascript:alert(1)", "javascript:alert(1)")
    assert not redirect_matches(REGISTERED, None)  # type: ignore[arg-type]


@pytest.mark.parametrize("uri, host", [
    ("https://claude.ai/api/mcp/auth_callback", "claude.ai"),
    ("https://Claude.AI:8443/cb?x=1", "claude.ai"),
    ("https://[2001:db8::1]/cb", "[2001:db8::1]"),
    ("http://localhost:6274/cb", "localhost"),
    ("http://[::1]:1/cb", "[::1]"),
    ("com.example.app:/oauth2redirect", "com.example.app"),
    ("cursor://anysphere.cursor-retrieval/oauth/callback", "cursor"),
])
def test_redirect_host(uri, host):
    assert redirect_host(uri) == host


def test_redirect_host_refuses_invalid_uris():
    with pytest.raises(InvalidRedirectUri):
        redirect_host("https://claude.ai@evil.com/cb")


@pytest.mark.parametrize("uri, loopback", [
    ("http://localhost/callback", True),
    ("http://127.0.0.1:8080/cb", True),
    ("http://[::1]/cb", True),
    ("https://localhost/cb", True),
    ("https://127.0.0.5/cb", True),
    ("https://app.localhost/cb", True),
    ("https://claude.ai/cb", False),
    ("https://localhost.evil.com/cb", False),
    ("com.example.app:/cb", False),
    ("http://evil.com/cb", False),
    ("not a uri", False),
])
def test_is_loopback_redirect(uri, loopback):
    assert is_loopback_redirect(uri) is loopback
