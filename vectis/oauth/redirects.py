"""Redirect URI policy shared by dynamic client registration, Client ID Metadata Documents and
/oauth/authorize.

Validation is deliberately stricter than RFC 3986: the URIs are only ever compared by exact string
equality, so there is no reason to accept forms that browsers and URL parsers disagree about
(backslashes, userinfo, percent-encoded hosts, bare `%`). Matching is exact, with one exception:
RFC 8252 §7.3 lets a native app listen on any loopback port, and real clients rely on it (Claude
Code registers `http://localhost/callback` and sends `http://localhost:<ephemeral>/callback`).
"""
from __future__ import annotations

import ipaddress
import re

MAX_REDIRECT_URI_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})

# Schemes that are never a place to send an authorization code: script/document schemes a browser
# would execute or render, plus network schemes that are not a callback endpoint.
DENIED_SCHEMES = frozenset({
    "about", "blob", "chrome", "chrome-extension", "data", "dns", "file", "filesystem", "ftp",
    "ftps", "gopher", "im", "imap", "intent", "irc", "jar", "javascript", "ldap", "ldaps",
    "livescript", "mailto", "mms", "moz-extension", "news", "nntp", "pop", "resource", "rtsp",
    "sftp", "sip", "sips", "sms", "smsto", "snmp", "ssh", "tel", "telnet", "urn", "vbscript",
    "view-source", "ws", "wss", "xmpp",
})

_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):(.*)", re.DOTALL)
# RFC 3986 unreserved + reserved + "%"; everything else (space, controls, non-ASCII, `\`, `<`,
# `"`, `{`, `|`, `^`, backtick) is refused rather than normalised.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_AUTHORITY = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)"
                        r"(?::(?P<port>[0-9]{1,5}))?")
_LOOPBACK = re.compile(r"http://(?P<host>127\.0\.0\.1|\[::1\]|localhost)(?::(?P<port>[0-9]{1,5}))?"
                       r"(?P<rest>[/?].*)?", re.DOTALL)


class InvalidRedirectUri(ValueError):
    """The message is safe to return as `error_description` (it never echoes the URI)."""


def _split_authority(rest: str) -> tuple[str, str]:
    """`//authority/path?query` → (authority, path?query)."""
    body = rest[2:]
    end = len(body)
    for sep in "/?":
        i = body.find(sep)
        if i != -1:
            end = min(end, i)
    return body[:end], body[end:]


def _check_authority(authority: str) -> tuple[str, int | None]:
    if "@" in authority:
        raise InvalidRedirectUri("redirect URI must not contain userinfo")
    if "*" in authority:
        raise InvalidRedirectUri("redirect URI must not contain wildcards")
    m = _AUTHORITY.fullmatch(authority)
    if not m:
        raise InvalidRedirectUri("redirect URI has an invalid host or port")
    host, port = m["host"], m["port"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise InvalidRedirectUri("redirect URI has an invalid IPv6 host") from None
    if port is not None and not 1 <= int(port) <= 65535:
        raise InvalidRedirectUri("redirect URI has an invalid port")
    return host, None if port is None else int(port)


def _parse(uri: object) -> tuple[str, str | None, str]:
    """Validate and return (scheme, host or None, path-and-query)."""
    if not isinstance(uri, str) or not uri:
        raise InvalidRedirectUri("redirect URI must be a non-empty string")
    if len(uri) > MAX_REDIRECT_URI_LENGTH:
        raise InvalidRedirectUri(f"redirect URI longer than {MAX_REDIRECT_URI_LENGTH} characters")
    if not uri.isascii() or any(c.isspace() or not c.isprintable() for c in uri):
        raise InvalidRedirectUri("redirect URI must not contain whitespace, control or non-ASCII characters")
    if not _URI_CHARS.fullmatch(uri) or _BAD_PERCENT.search(uri):
        raise InvalidRedirectUri("redirect URI contains characters not allowed in a URI")
    if "#" in uri:
        raise InvalidRedirectUri("redirect URI must not contain a fragment")
    m = _SCHEME.fullmatch(uri)
    # A one-letter "scheme" is a Windows drive letter (c:/...), i.e. a path, not an app.
    if not m or len(m[1]) < 2:
        raise InvalidRedirectUri("redirect URI must be absolute with a lowercase scheme")
    scheme, rest = m[1], m[2]
    if scheme in DENIED_SCHEMES:
        raise InvalidRedirectUri(f"redirect URI scheme {scheme!r} is not allowed")
    if scheme in ("http", "https"):
        if not rest.startswith("//"):
            raise InvalidRedirectUri("redirect URI must have a host")
        authority, path = _split_authority(rest)
        host, _port = _check_authority(authority)
        if scheme == "http" and host not in LOOPBACK_HOSTS:
            raise InvalidRedirectUri("http redirect URIs are only allowed for loopback hosts")
    else:
        if rest in ("", "//"):
            raise InvalidRedirectUri("redirect URI has no path")
        host, path = None, rest
        if rest.startswith("//"):
            authority, path = _split_authority(rest)
            if "@" in authority:
                raise InvalidRedirectUri("redirect URI must not contain userinfo")
            if "*" in authority:
                raise InvalidRedirectUri("redirect URI must not contain wildcards")
    if "*" in path.partition("?")[0]:
        raise InvalidRedirectUri("redirect URI must not contain wildcards")
    return scheme, host, path


def validate_redirect_uri(uri: str) -> str:
    """Return `uri` unchanged if it may be registered, else raise InvalidRedirectUri.

    Accepted: https with a host; http only on 127.0.0.1, [::1] or localhost; private-use schemes
    (RFC 8252 §7.1) such as `com.example.app:/cb` or `cursor://...` that are not denied.
    """
    _parse(uri)
    return uri


def _loopback_parts(uri: str) -> tuple[str, str] | None:
    m = _LOOPBACK.fullmatch(uri)
    if not m or (m["port"] is not None and not 1 <= int(m["port"]) <= 65535):
        return None
    return m["host"], m["rest"] or ""


def redirect_matches(registered: str, requested: str) -> bool:
    """Exact string equality, plus RFC 8252 §7.3: loopback http URIs match on any port.

    The loopback exception needs the same host literal on both sides (127.0.0.1 never matches
    localhost) and byte-identical path and query.
    """
    if not isinstance(registered, str) or not isinstance(requested, str):
        return False
    try:
        validate_redirect_uri(requested)
    except InvalidRedirectUri:
        return False
    if registered == requested:
        return True
    reg, req = _loopback_parts(registered), _loopback_parts(requested)
    return reg is not None and reg == req


def redirect_host(uri: str) -> str:
    """What the consent page shows as the destination: the host (lowercased, IPv6 in brackets),
    or the scheme for private-use URIs, which is all that identifies the receiving app."""
    scheme, host, _ = _parse(uri)
    return host.lower() if host is not None else scheme


def is_loopback_redirect(uri: str) -> bool:
    """True when the code would be delivered to this machine (any local app could be listening);
    the consent page warns about those. False for invalid URIs."""
    try:
        _, host, _ = _parse(uri)
    except InvalidRedirectUri:
        return False
    if host is None:
        return False
    host = host.lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
