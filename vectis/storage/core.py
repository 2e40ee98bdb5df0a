"""The storage layer: the one place that touches MongoDB.

Every tenant-scoped call names the tenant slug explicitly and reaches only that tenant's database;
there is no "current tenant" state to leak between requests.
"""
from __future__ import annotations

import re

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from .indexes import CONTROL_INDEXES, RETIRED_TENANT_INDEXES, TENANT_INDEXES

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")


class InvalidSlug(ValueError):
    pass


def check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or "--" in slug:
        raise InvalidSlug(
            f"invalid tenant slug {slug!r}: 3-32 characters, lower-case letters, digits and single "
            "hyphens, starting with a letter"
        )
    return slug


def make_client(uri: str, **options) -> AsyncMongoClient:
    """Create the process's one client; call it inside the running event loop."""
    options.setdefault("serverSelectionTimeoutMS", 5000)
    options.setdefault("connectTimeoutMS", 5000)
    options.setdefault("tz_aware", True)
    options.setdefault("appname", "vectis")
    return AsyncMongoClient(uri, **options)


class Database:
    """Database handles by tenant; the repositories build on it."""

    def __init__(self, client: AsyncMongoClient, prefix: str):
        self.client = client
        self.prefix = prefix
        self.control: AsyncDatabase = client[prefix]

    def tenant(self, slug: str) -> AsyncDatabase:
        return self.client[f"{self.prefix}_t_{check_slug(slug)}"]

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def ensure_control_indexes(self) -> None:
        for name, models in CONTROL_INDEXES.items():
            await self.control[name].create_indexes(models)

    async def ensure_tenant_indexes(self, slug: str) -> None:
        db = self.tenant(slug)
        for name, models in TENANT_INDEXES.items():
            await db[name].create_indexes(models)
            retired = set(RETIRED_TENANT_INDEXES.get(name, ()))
            if retired:
                for index in await (await db[name].list_indexes()).to_list():
                    if index["name"] in retired:
                        await db[name].drop_index(index["name"])

    async def drop_everything(self) -> None:
        """Drop the control database and every tenant database of this prefix (tests, resets)."""
        for name in await self.client.list_database_names():
            if name == self.prefix or name.startswith(self.prefix + "_t_"):
                await self.client.drop_database(name)
