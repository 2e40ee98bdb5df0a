"""Tenants whose PSA, RMM and backup sources are loopback vendor simulators, seeded from the
tenant's own data, so write tools dispatch over real HTTP."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.generator import demo_operators
from vectis.demo.seed import seed_tenant
from vectis.scopes import ALL_SCOPES
from vectis.simulators.fleet import SimulatorFleet
from vectis.vendors.http import RetryPolicy, VendorHttp

from ..conftest import LiveServer, issue_token
from ..support.processes import ServerProcess, clean_env

FAST = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=2.0, max_retry_after=5.0)


@dataclass
class VendorTenant:
    slug: str
    url: str
    token: str                    # every scope, owned by the admin operator; not elevated
    admin_email: str
    server: LiveServer
    fleet: SimulatorFleet
    sources: dict[str, dict]      # by kind: psa, rmm, backup

    def sim(self, kind: str):
        return self.fleet.simulator(self.slug, self.sources[kind]["_id"])

    @property
    def db(self):
        return self.server.storage.db.tenant(self.slug)

    async def elevate(self) -> None:
        """What the TOTP step on /account/mcp does (tested with the pages)."""
        pat = await self.db["pats"].find_one({"user_id": {"$exists": True}}, sort=[("created_at", -1)])
        await self.db["pats"].update_many({}, {"$set": {
            "elevated_until": datetime.now(UTC) + timedelta(minutes=15)}})
        self.server.services.authenticator.forget_credential(self.slug, pat["_id"])


@pytest.fixture
async def fleet():
    running = SimulatorFleet()
    yield running
    await running.stop()


@pytest.fixture
def make_vendor_tenant(live_server, fleet):
    live_server.services.connections.http = VendorHttp(policy=FAST,
                                                      metrics=live_server.services.metrics)

    async def make(slug: str, vendors: tuple[str, str, str]) -> VendorTenant:
        await seed_tenant(live_server.storage, slug, slug.title(), passwords={}, customers=4,
                          tickets_per_customer=6, now=datetime.now(UTC), vendors=vendors)
        await fleet.start_for_tenants(live_server.storage, live_server.services.connections, [slug])
        admin = next(o for o in demo_operators(slug) if o.role == "admin")
        token = await issue_token(live_server.storage, live_server.config, slug, admin.email, ALL_SCOPES)
        sources = {s["kind"]: s for s in await live_server.storage.sources.list(slug)}
        return VendorTenant(slug=slug, url=live_server.url(slug, "/api/mcp"), token=token,
                            admin_email=admin.email, server=live_server, fleet=fleet, sources=sources)
    return make


async def open_ticket(tenant: VendorTenant) -> dict:
    """An open ticket of the tenant's PSA (with a vendor id)."""
    return await tenant.db["tickets"].find_one(
        {"source_id": tenant.sources["psa"]["_id"], "status": {"$in": ["new", "open", "in_progress", "waiting"]}},
        sort=[("_id", 1)])


async def open_alert(tenant: VendorTenant, kind: str = "rmm") -> dict | None:
    return await tenant.db["alerts"].find_one(
        {"source_id": tenant.sources[kind]["_id"], "status": "open"}, sort=[("_id", 1)])


async def customer_with_psa(tenant: VendorTenant) -> dict:
    return await tenant.db["customers"].find_one(
        {"primary_psa_source_id": tenant.sources["psa"]["_id"], "refs.external_id": {"$exists": True}},
        sort=[("_id", 1)])


@pytest.fixture
async def deployment(request, make_vendor_tenant, live_server, mongo_uri, db_prefix, tmp_path):
    """Two server processes; the crash test shortens the write lease so that the dead process's
    reservation expires quickly, the other keeps the default so a slow machine never expires a
    lease that is still being worked on."""
    options = request.param if isinstance(request.param, dict) else {"lease": request.param}
    lease = options.get("lease", 120)
    tenant = await make_vendor_tenant("twoproc", ("connectwise", "ninjaone", "datto_bcdr"))
    if options.get("settings"):   # before either process has resolved (and cached) the tenant
        await live_server.storage.db.control["tenants"].update_one(
            {"_id": tenant.slug}, {"$set": {"settings": options["settings"]}})
    config = live_server.config
    processes = []
    for name in ("a", "b"):
        env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                        VECTIS_DATA_DIR=str(tmp_path / name), VECTIS_COOKIE_SECRET=config.cookie_secret,
                        VECTIS_ENCRYPTION_KEY=config.encryption_key, VECTIS_TOKEN_PEPPER=config.token_pepper,
                        **{"VECTIS_WRITE_LEASE_SECONDS": str(lease), "VECTIS_SYNC_INTERVAL_SECONDS": "0",
                           "VECTIS_LOG_LEVEL": "warning", **options.get("env", {})})
        process = ServerProcess("--no-demo", env=env)
        await asyncio.to_thread(process.start)
        processes.append(process)
    yield tenant, processes
    for process in processes:
        await asyncio.to_thread(process.kill)
        print(f"--- server {process.port} stderr ---\n{process.stderr[-5000:]}")  # shown on failure


def url(process, tenant) -> str:
    return f"http://{tenant.slug}.localhost:{process.port}/api/mcp"
