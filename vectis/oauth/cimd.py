"""Client ID Metadata Documents (CIMD): fetch an https `client_id`, validate it, cache it.

Whoever starts an authorization request picks the URL, so every fetch is hostile: the address check
sits in the resolver the connection itself uses (nothing re-resolves between check and connect, so
no DNS rebinding window), every redirect hop is checked again, the body is capped while streaming,
and one deadline covers connect, headers and body. The operator's log gets host and reason."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import socket
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from cachetools import TLRUCache
from yarl import URL

from .redirects import InvalidRedirectUri, validate_redirect_uri

log = logging.getLogger("vectis.oauth.cimd")

MAX_URL_LENGTH = 2000
MAX_REDIRECT_URIS = 20
MAX_CLIENT_NAME = 200
AUTH_METHODS = ("none", "private_key_jwt")
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})
# RFC 3986 characters without "#": no fragments, and nothing a parser might repair or reinterpret.
_URL_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]*")
_METADATA_URL = re.compile(r"https://(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*|\[[0-9A-Fa-f:.]+\])"
                           r"(?::(?P<port>[0-9]{1,5}))?(?P<path>/[^?]*)(?:\?.*)?")
_HOST_OF = re.compile(r"(?:[a-zA-Z][a-zA-Z0-9+.-]*://)?(?:[^/?#@]*@)?(\[[0-9A-Fa-f:.]*\]|[A-Za-z0-9._-]*)")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


class ClientMetadataError(Exception):
    """Why a document was not accepted; for the operator's log only (the wire says invalid_client)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_metadata_url(client_id: object) -> bool:
    """An https URL with a non-root path and no fragment, userinfo or dot-segments (CIMD §3)."""
    if not isinstance(client_id, str) or len(client_id) > MAX_URL_LENGTH or not _URL_CHARS.fullmatch(client_id):
        return False
    m = _METADATA_URL.fullmatch(client_id)
    if not m or m["path"] == "/" or (m["port"] is not None and not 1 <= int(m["port"]) <= 65535):
        return False
    return not any(seg.lower() in _DOT_SEGMENTS for seg in m["path"].split("/"))


def _require(ok: object, reason: str) -> None:
    if not ok:
        raise ClientMetadataError(reason)


def _optional_https(data: dict, key: str) -> str | None:
    value = data.get(key)
    _require(value is None or (isinstance(value, str) and len(value) <= MAX_URL_LENGTH
                               and _URL_CHARS.fullmatch(value) and re.match(r"https://[^/?@]+(?:[/?]|$)", value)),
             f"{key} must be an https URL")
    return value


@dataclass(frozen=True)
class ClientMetadataDocument:
    client_id: str
    client_name: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "none"
    grant_types: tuple[str, ...] | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    scope: str | None = None
    jwks_uri: str | None = None

    @classmethod
    def parse(cls, url: str, data: object) -> ClientMetadataDocument:
        """Validate decoded JSON. Error reasons never quote document values (they reach logs)."""
        _require(isinstance(data, dict), "document is not a JSON object")
        _require(data.get("client_id") == url, "client_id in the document does not equal the document URL")
        name = data.get("client_name")
        _require(isinstance(name, str) and name.strip() and len(name) <= MAX_CLIENT_NAME and name.isprintable(),
                 f"client_name must be a printable string of 1-{MAX_CLIENT_NAME} characters")
        uris = data.get("redirect_uris")
        _require(isinstance(uris, list) and 1 <= len(uris) <= MAX_REDIRECT_URIS,
                 f"redirect_uris must be a list of 1-{MAX_REDIRECT_URIS} URIs")
        for i, uri in enumerate(uris):
            try:
                validate_redirect_uri(uri)
            except InvalidRedirectUri as exc:
                raise ClientMetadataError(f"redirect_uris[{i}]: {exc}") from None
        # CIMD §4.1: nobody can hold a shared secret for a client that anyone can publish.
        method = data.get("token_endpoint_auth_method", "none")
        _require("client_secret" not in data and not (isinstance(method, str) and method.startswith("client_secret_")),
                 "symmetric client authentication is not allowed for metadata documents")
        _require(method in AUTH_METHODS, "token_endpoint_auth_method must be none or private_key_jwt")
        grants = data.get("grant_types")
        _require(grants is None or (isinstance(grants, list) and len(grants) <= 10
                                    and all(isinstance(g, str) and g for g in grants)),
                 "grant_types must be a list of strings")
        scope = data.get("scope")
        _require(scope is None or (isinstance(scope, str) and len(scope) <= 1000 and _SCOPE.fullmatch(scope)),
                 "scope must be a space-separated list of scope tokens")
        return cls(client_id=url, client_name=name, redirect_uris=tuple(uris),
                   token_endpoint_auth_method=method, grant_types=None if grants is None else tuple(grants),
                   client_uri=_optional_https(data, "client_uri"), logo_uri=_optional_https(data, "logo_uri"),
                   scope=scope, jwks_uri=_optional_https(data, "jwks_uri"))


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # Parsers disagree on which duplicate wins; refuse the ambiguity.
    if len({key for key, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def parse_document(url: str, body: bytes) -> ClientMetadataDocument:
    try:
        data = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ClientMetadataError("document is not valid UTF-8 JSON") from None
    return ClientMetadataDocument.parse(url, data)


def cache_ttl(cache_control: str | None, default_ttl: float, max_ttl: float) -> float:
    """Seconds to keep a document; 0 means do not cache."""
    parts = (part.partition("=") for part in (cache_control or "").split(","))
    directives = {name.strip().lower(): value.strip().strip('"') for name, _, value in parts}
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    age = directives.get("max-age")
    if age is None:
        return max(0.0, min(default_ttl, max_ttl))
    return float(min(int(age), max_ttl)) if age.isdigit() else 0.0  # invalid means stale: RFC 9111 §4.2.1


class AddressPolicy:
    """Only globally routable addresses, plus explicitly allowed networks (tests)."""

    def __init__(self, allow_networks: tuple[str, ...] = ()):
        self.allowed = tuple(ipaddress.ip_network(n) for n in allow_networks)

    def allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        target = ip
        if isinstance(ip, ipaddress.IPv6Address):  # routed to the IPv4 address it carries: judge that
            nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
            target = ip.ipv4_mapped or nat64 or ip.sixtofour or ip
        if any(a in net for a in (ip, target) for net in self.allowed):
            return True
        # is_global covers loopback, private, link-local, unspecified and 100.64/10, but (Python
        # 3.11) not multicast; reserved and site-local are listed for other versions' sake.
        site_local = isinstance(target, ipaddress.IPv6Address) and target.is_site_local
        return target.is_global and not (target.is_multicast or target.is_reserved or site_local)


class GuardedResolver(AbstractResolver):
    """Wraps the resolver the connector uses, so the addresses checked are the ones connected to."""

    def __init__(self, inner: AbstractResolver, policy: AddressPolicy, *, owns_inner: bool = False):
        self._inner, self._policy, self._owns_inner = inner, policy, owns_inner

    async def resolve(self, host: str, port: int = 0, family=socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        # Refuse rather than filter: a name that points inside the network is not one to talk to.
        for result in results:
            if not self._policy.allows(result["host"]):
                raise ClientMetadataError(f"{host} resolves to non-public address {result['host']}")
        return results

    async def close(self) -> None:
        if self._owns_inner:
            await self._inner.close()


class ClientMetadataFetcher:
    def __init__(self, *, allow_networks: tuple[str, ...] = (), ssl_context=None,
                 resolver: AbstractResolver | None = None, max_bytes: int = 5120, timeout: float = 5.0,
                 cache_size: int = 1000, default_ttl: float = 300.0, max_ttl: float = 86400.0,
                 max_redirects: int = 3):
        self._policy = AddressPolicy(allow_networks)
        self._ssl, self._resolver = ssl_context if ssl_context is not None else True, resolver
        self._max_bytes, self._timeout, self._max_redirects = max_bytes, timeout, max_redirects
        self._default_ttl, self._max_ttl = default_ttl, max_ttl
        self._cache: TLRUCache | None = TLRUCache(maxsize=cache_size, timer=time.monotonic,
                                                  ttu=lambda _k, entry, now: now + entry[1]) if cache_size > 0 else None
        self._inflight: dict[str, asyncio.Task] = {}
        self._client: aiohttp.ClientSession | None = None
        self._guard: GuardedResolver | None = None

    async def get(self, url: str) -> ClientMetadataDocument:
        if not is_metadata_url(url):
            raise self._failed(url, "client_id is not an acceptable metadata document URL")
        entry = self._cache.get(url) if self._cache is not None else None
        if entry is not None:
            return entry[0]
        task = self._inflight.get(url)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._fetch(url))
            self._inflight[url] = task
            task.add_done_callback(lambda t: self._finished(url, t))
        # Shielded: one caller giving up must not cancel the fetch the others wait for.
        return await asyncio.shield(task)

    def _finished(self, url: str, task: asyncio.Task) -> None:
        self._inflight.pop(url, None)  # nothing can replace the entry before this runs
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have been cancelled

    async def close(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()
        if self._client is not None:
            await self._client.close()
        if self._guard is not None:  # the connector does not close a resolver it was given
            await self._guard.close()
        self._client = self._guard = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            inner = self._resolver if self._resolver is not None else DefaultResolver()
            self._guard = GuardedResolver(inner, self._policy, owns_inner=self._resolver is None)
            connector = aiohttp.TCPConnector(resolver=self._guard, ssl=self._ssl,
                                             use_dns_cache=False, limit_per_host=4)
            # No decompression (a 5 KB cap on a zip bomb is no cap), no cookies across fetches,
            # no proxy from the environment (it would resolve names past the guard).
            self._client = aiohttp.ClientSession(
                connector=connector, connector_owner=True, auto_decompress=False, trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"Accept": "application/json", "Accept-Encoding": "identity"})
        return self._client

    def _failed(self, url: str, reason: str) -> ClientMetadataError:
        host = (_HOST_OF.match(url)[1] if isinstance(url, str) else "") or "?"
        log.warning("client metadata document from host %s rejected: %s", host, reason)
        return ClientMetadataError(reason)

    async def _fetch(self, url: str) -> ClientMetadataDocument:
        try:
            async with asyncio.timeout(self._timeout):
                body, ttl = await self._download(url)
            document = parse_document(url, body)
        except ClientMetadataError as exc:
            raise self._failed(url, exc.reason) from None
        except TimeoutError:
            raise self._failed(url, f"no complete response within {self._timeout}s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise self._failed(url, f"fetch failed: {type(exc).__name__}: {exc}") from None
        if ttl > 0 and self._cache is not None:
            self._cache[url] = (document, ttl)
        return document

    def _check_target(self, target: URL) -> None:
        _require(target.scheme == "https", f"refusing non-https URL (scheme {target.scheme!r})")
        host = target.raw_host or ""
        _require(host and target.raw_user is None and target.raw_password is None
                 and len(str(target)) <= MAX_URL_LENGTH, "refusing URL without a host, with userinfo, or too long")
        # aiohttp connects without the resolver to anything its heuristic calls an IP; check those here.
        looks_like_ip = ":" in host or host.replace(".", "").isdigit()
        _require(not looks_like_ip or self._policy.allows(host), f"refusing non-public address {host}")

    async def _download(self, url: str) -> tuple[bytes, float]:
        target = URL(url, encoded=True)
        for _hop in range(self._max_redirects + 1):
            self._check_target(target)
            async with self._session().get(target, allow_redirects=False) as resp:
                if resp.status in _REDIRECT_STATUSES:
                    try:
                        target = target.join(URL(resp.headers["Location"])).with_fragment(None)
                    except (KeyError, ValueError):
                        raise ClientMetadataError(f"HTTP {resp.status} without a usable Location") from None
                    continue
                _require(resp.status == 200, f"HTTP {resp.status}")
                ctype = resp.content_type
                _require(ctype == "application/json" or ctype.endswith("+json"), f"content type {ctype!r} is not JSON")
                _require(resp.headers.get("Content-Encoding", "identity").lower() == "identity",
                         "compressed response refused")
                _require((resp.content_length or 0) <= self._max_bytes,
                         f"Content-Length {resp.content_length} exceeds {self._max_bytes}")
                body = bytearray()
                while chunk := await resp.content.read(self._max_bytes + 1 - len(body)):
                    body += chunk
                    _require(len(body) <= self._max_bytes, f"body exceeds {self._max_bytes} bytes")
                return bytes(body), cache_ttl(",".join(resp.headers.getall("Cache-Control", [])) or None,
                                              self._default_ttl, self._max_ttl)
        raise ClientMetadataError(f"more than {self._max_redirects} redirects")
