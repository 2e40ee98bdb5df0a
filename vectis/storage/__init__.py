"""Storage facade: one object that owns the database handles and the repositories."""
from __future__ import annotations

from pymongo import AsyncMongoClient

from .audit import AuditRepository
from .bulk import BulkRepository
from .core import Database, InvalidSlug, check_slug, make_client
from .counters import CounterRepository
from .customers import CustomerRepository
from .pats import PatRepository
from .tenants import DomainTaken, TenantExists, TenantRepository
from .users import UserExists, UserRepository, normalize_email

__all__ = [
    "Storage", "make_client", "check_slug", "InvalidSlug", "TenantExists", "DomainTaken",
    "UserExists", "normalize_email",
]


class Storage:
    def __init__(self, client: AsyncMongoClient, prefix: str):
        self.db = Database(client, prefix)
        self.tenants = TenantRepository(self.db)
        self.users = UserRepository(self.db)
        self.pats = PatRepository(self.db)
        self.bulk = BulkRepository(self.db)
        self.counters = CounterRepository(self.db)
        self.audit = AuditRepository(self.db)
        self.customers = CustomerRepository(self.db)

    async def ping(self) -> None:
        await self.db.ping()

    async def ensure_indexes(self) -> int:
        """Control indexes plus every existing tenant's; returns the number of tenants."""
        await self.db.ensure_control_indexes()
        tenants = await self.tenants.list()
        for tenant in tenants:
            await self.db.ensure_tenant_indexes(tenant["_id"])
        return len(tenants)

    async def close(self) -> None:
        await self.db.client.close()
