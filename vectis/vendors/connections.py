"""From a stored source to a working connector: decrypt its credentials (bound to the tenant and
the source id) and build the vendor's connector on the shared HTTP client."""
from __future__ import annotations

import json

from .. import crypto
from ..storage import Storage
from .base import Connector
from .errors import NotConfigured
from .http import VendorHttp
from .registry import VENDORS, make_connector


def credentials_purpose(source_id: str) -> str:
    return f"source-credentials:{source_id}"


def seal_credentials(key: bytes, slug: str, source_id: str, credentials: dict) -> str:
    return crypto.encrypt(key, slug, credentials_purpose(source_id), json.dumps(credentials))


class Connections:
    def __init__(self, storage: Storage, encryption_key: bytes, http: VendorHttp):
        self._storage = storage
        self._key = encryption_key
        self.http = http

    async def connect(self, slug: str, source_id: str, base_url: str, credentials: dict) -> bool:
        """Store a source's endpoint and (encrypted) credentials."""
        sealed = seal_credentials(self._key, slug, source_id, credentials)
        return await self._storage.sources.set_connection(slug, source_id, base_url=base_url,
                                                          credentials_encrypted=sealed)

    async def connector(self, slug: str, source_id: str) -> tuple[dict, Connector]:
        source = await self._storage.sources.get(slug, source_id, with_credentials=True)
        if source is None:
            raise NotConfigured("the source no longer exists")
        return source, self.for_source(slug, source)

    def for_source(self, slug: str, source: dict) -> Connector:
        if source.get("vendor") not in VENDORS:
            raise NotConfigured(f"unknown vendor {source.get('vendor')!r}")
        if source.get("status") != "connected" or not source.get("base_url") \
                or not source.get("credentials_encrypted"):
            raise NotConfigured(f"{source.get('name') or source['vendor']} is not connected "
                                "(no endpoint or credentials stored)")
        plain = crypto.decrypt_text(self._key, slug, credentials_purpose(source["_id"]),
                                    source["credentials_encrypted"])
        return make_connector(source["vendor"], source["base_url"], json.loads(plain), self.http,
                              source.get("settings"))
