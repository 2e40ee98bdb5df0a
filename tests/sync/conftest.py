"""A tenant whose sources are seeded simulators, and the sync engine pointed at them."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.sync.engine import SyncEngine
from vectis.vendors.connections import Connections
from vectis.vendors.http import RetryPolicy, VendorHttp

# Seeded an hour back, so vendor-side changes made by a test are newer than any sync cursor.
SEEDED_AT = datetime.now(UTC) - timedelta(hours=1)


@dataclass
class SyncEnv:
    storage: object
    connections: Connections
    engine: SyncEngine
    fleet: SimulatorFleet
    slugs: list[str]

    async def source(self, slug: str, kind: str) -> dict:
        return next(s for s in await self.storage.sources.list(slug) if s["kind"] == kind)

    async def sim(self, slug: str, kind: str):
        return self.fleet.simulator(slug, (await self.source(slug, kind))["_id"])

    async def sync(self, slug: str, kind: str, **kwargs):
        source = await self.source(slug, kind)
        return {r.entity: r for r in await self.engine.sync_source(slug, source["_id"], **kwargs)}

    def db(self, slug: str):
        return self.storage.db.tenant(slug)


@pytest.fixture
async def make_sync_env(storage):
    made: list[tuple[SimulatorFleet, VendorHttp]] = []

    async def make(tenants: dict[str, tuple[str, str, str]], key: bytes | None = None) -> SyncEnv:
        """`key`: the encryption key the sources' credentials are sealed with (another process
        that must decrypt them, e.g. the admin CLI, needs the same one)."""
        for slug, vendors in tenants.items():
            await seed_tenant(storage, slug, slug.title(), passwords={}, customers=4,
                              tickets_per_customer=4, now=SEEDED_AT, vendors=vendors)
        http = VendorHttp(policy=RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0))
        connections = Connections(storage, key or secrets.token_bytes(32), http)
        fleet = SimulatorFleet()
        made.append((fleet, http))
        await fleet.start_for_tenants(storage, connections, list(tenants))
        return SyncEnv(storage, connections, SyncEngine(storage, connections), fleet, list(tenants))

    yield make
    for fleet, http in made:
        await fleet.stop()
        await http.close()
