"""Host → tenant resolution, with a short in-memory cache.

The Host header only *selects* a tenant; every canonical URL (issuer, MCP resource URI) is built
from configuration. Unknown, disabled and malformed hosts are indistinguishable to the caller.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from cachetools import TTLCache

from .config import Config
from .singleflight import SingleFlight
from .storage import Storage
from .storage.core import SLUG_RE

_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Tenant:
    slug: str
    name: str
    origin: str
    mcp_resource: str
    settings: dict = field(default_factory=dict, hash=False, compare=False)


def parse_host(host: str, base_domain: str) -> tuple[str, str] | None:
    """('slug', s) for {s}.{base_domain}, ('domain', d) for a possible custom domain, else None."""
    if not host or len(host) > 260:
        return None
    name, sep, port = host.rpartition(":") if ":" in host else (host, "", "")
    if sep and not (port.isdigit() and len(port) <= 5):
        return None
    name = name.lower()
    if not _HOST_RE.match(name) or ".." in name:
        return None
    suffix = "." + base_domain
    if name.endswith(suffix):
        label = name[: -len(suffix)]
        if SLUG_RE.match(label) and "--" not in label:
            return ("slug", label)
        return None
    if name == base_domain or "." not in name:
        return None
    return ("domain", name)


_ABSENT = object()


class TenantResolver:
    def __init__(self, storage: Storage, config: Config):
        self._storage = storage
        self._config = config
        ttl = config.tenant_cache_seconds
        # Separate caches so a flood of bogus hosts cannot evict the real tenants.
        self._found: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=ttl)
        self._missing: TTLCache = TTLCache(maxsize=CACHE_SIZE, ttl=ttl)
        self._loads = SingleFlight()   # the requests in flight when an entry expires share one read
        self._forgets = 0

    async def resolve(self, host: str) -> Tenant | None:
        parsed = parse_host(host, self._config.base_domain)
        if parsed is None:
            return None
        # One read per cache: an entry can expire between a membership test and the read.
        tenant = self._found.get(parsed)
        if tenant is not None:
            return tenant
        if self._missing.get(parsed, _ABSENT) is not _ABSENT:
            return None
        forgets = self._forgets
        tenant = await self._loads.run(parsed, lambda: self._load(parsed))
        if forgets == self._forgets:   # a read that overlapped a forget() is used, not kept
            (self._found if tenant else self._missing)[parsed] = tenant
        return tenant

    async def _load(self, parsed: tuple[str, str]) -> Tenant | None:
        kind, value = parsed
        if kind == "slug":
            doc = await self._storage.tenants.get(value)
        else:
            doc = await self._storage.tenants.by_custom_domain(value)
        return self._tenant(doc) if doc and doc.get("status") == "active" else None

    def _tenant(self, doc: dict) -> Tenant:
        slug = doc["_id"]
        return Tenant(slug=slug, name=doc["name"], origin=self._config.tenant_origin(slug),
                      mcp_resource=self._config.mcp_resource(slug), settings=doc.get("settings") or {})

    def forget(self, slug: str) -> None:
        self._forgets += 1
        self._loads.forget(lambda key: True)   # a custom domain's key does not name the slug
        for cache in (self._found, self._missing):
            for key in [k for k, t in cache.items() if k == ("slug", slug) or (t and t.slug == slug)]:
                cache.pop(key, None)
