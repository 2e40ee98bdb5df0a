"""Storage facade: one object that owns the database handles and the repositories."""
from __future__ import annotations

from cachetools import LRUCache
from pymongo import AsyncMongoClient

from .activity import ActivityRepository
from .alerts import AlertRepository
from .approvals import ApprovalRepository
from .assets import AssetRepository
from .audit import AuditRepository
from .bulk import BulkRepository
from .core import Database, InvalidSlug, check_slug, make_client
from .counters import CounterRepository
from .customers import CustomerRepository
from .finance import FinanceRepository
from .idempotency import IdempotencyRepository
from .notes import NoteRepository
from .oauth_clients import OAuthClientRepository, SigningKeyRepository
from .oauth_grants import OAuthCodeRepository, OAuthGrantRepository
from .pats import PatRepository
from .rules import RuleRepository
from .scoped import OutsideScope, ScopedDatabase
from .search import SearchRepository
from .sessions import SessionRepository
from .sources import SourceRepository
from .sync import SyncRepository
from .tenants import DomainTaken, TenantExists, TenantRepository
from .tickets import TicketRepository
from .users import UserExists, UserRepository, normalize_email
from .vendor_changes import VendorChangeRepository

__all__ = [
    "Storage", "make_client", "check_slug", "InvalidSlug", "TenantExists", "DomainTaken",
    "UserExists", "normalize_email", "OutsideScope",
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
        self.tickets = TicketRepository(self.db)
        self.alerts = AlertRepository(self.db)
        self.assets = AssetRepository(self.db)
        self.finance = FinanceRepository(self.db)
        self.notes = NoteRepository(self.db)
        self.rules = RuleRepository(self.db)
        self.search = SearchRepository(self.db)
        self.sessions = SessionRepository(self.db)
        self.sources = SourceRepository(self.db)
        self.idempotency = IdempotencyRepository(self.db)
        self.sync = SyncRepository(self.db)
        self.vendor_changes = VendorChangeRepository(self.db)
        self.oauth_clients = OAuthClientRepository(self.db)
        self.oauth_codes = OAuthCodeRepository(self.db)
        self.oauth_grants = OAuthGrantRepository(self.db)
        self.signing_keys = SigningKeyRepository(self.db)
        self.approvals = ApprovalRepository(self.db)
        self.activity = ActivityRepository(self.db)
        self._scoped: LRUCache = LRUCache(maxsize=1024)

    def scoped(self, customers: frozenset[str] | None) -> Storage | ScopedStorage:
        """The storage a principal's tools read through: all of it when its customer scope is
        None, else a view where only those customers' documents exist (storage.scoped)."""
        if customers is None:
            return self
        view = self._scoped.get(customers)
        if view is None:
            view = self._scoped[customers] = ScopedStorage(self, customers)
        return view

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


class ScopedStorage:
    """The read repositories the tools use, over a customer-scoped view of the database. Any
    other repository is refused: what a restricted principal may reach is listed here."""

    def __init__(self, storage: Storage, customers: frozenset[str]):
        db = ScopedDatabase(storage.db, customers)
        self.customers = CustomerRepository(db)
        self.tickets = TicketRepository(db)
        self.alerts = AlertRepository(db)
        self.assets = AssetRepository(db)
        self.finance = FinanceRepository(db)
        self.notes = NoteRepository(db)
        self.audit = AuditRepository(db)
        # Views are kept per scope (Storage.scoped), so this one's trigram frequencies stay cached.
        self.search = SearchRepository(db)

    def __getattr__(self, name: str):
        raise OutsideScope(f"storage.{name} is not available to a customer-scoped principal")
