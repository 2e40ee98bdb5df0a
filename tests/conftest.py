"""Shared fixtures: one embedded database for the whole run, fresh databases for every test,
and the real application listening on loopback."""
from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from vectis.app import Services, make_services
from vectis.config import Config, load_config, with_secrets
from vectis.embedded_db import EmbeddedDatabase
from vectis.runtime import start_http, start_metrics_http
from vectis.storage import Storage, make_client
from vectis.vendors import simkit

from .support.http import client_session
from .support.vendor_contracts import check_exchange


@pytest.fixture(autouse=True)
def vendor_contracts(request):
    """Every exchange with an in-process vendor simulator during the test is held to that
    vendor's published-API contract (tests/support/vendor_contracts.py). A test that feeds a
    simulator a deliberately off-contract answer (a vendor misbehaving) says so with
    `@pytest.mark.off_contract("why")`."""
    problems: list[str] = []

    def observe(exchange):
        problems.extend(check_exchange(exchange))

    simkit.EXCHANGE_OBSERVERS.append(observe)
    yield
    simkit.EXCHANGE_OBSERVERS.remove(observe)
    if problems and request.node.get_closest_marker("off_contract") is None:
        unique = list(dict.fromkeys(problems))
        pytest.fail("vendor contract broken:\n  " + "\n  ".join(unique[:20])
                    + (f"\n  (+{len(unique) - 20} more)" if len(unique) > 20 else ""), pytrace=False)


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """VECTIS_TEST_MONGO_URI runs the suite against a real MongoDB; otherwise SecantusDB."""
    uri = os.environ.get("VECTIS_TEST_MONGO_URI")
    if uri:
        yield uri
        return
    db = EmbeddedDatabase(tmp_path_factory.mktemp("secantus"), cache_size="512M")
    yield db.start()
    db.stop()


@pytest.fixture
def db_prefix() -> str:
    return "t" + secrets.token_hex(6)


@pytest.fixture
async def storage(mongo_uri, db_prefix):
    store = Storage(make_client(mongo_uri), db_prefix)
    await store.db.ensure_control_indexes()
    yield store
    await store.db.drop_everything()
    await store.close()


def make_config(tmp_path: Path, mongo_uri: str, db_prefix: str, **overrides) -> Config:
    values = {"mongo_uri": mongo_uri, "db_prefix": db_prefix, "data_dir": str(tmp_path / "data"),
              "demo": "off", "port": 0, "tenant_cache_seconds": 0.2, "auth_cache_seconds": 0.5,
              "sync_interval_seconds": 0,   # tests run syncs themselves (the scheduler test: its own)
              "rules_worker": "off",        # likewise the rules worker
              **overrides}
    return with_secrets(load_config(env={}, overrides=values))


@dataclass
class LiveServer:
    port: int
    config: Config
    services: Services
    metrics_port: int = 0

    def url(self, slug: str, path: str = "/") -> str:
        return f"{self.config.public_scheme}://{slug}.localhost:{self.port}{path}"

    @property
    def storage(self) -> Storage:
        return self.services.storage


@contextlib.asynccontextmanager
async def running_server(tmp_path, mongo_uri, db_prefix, storage, *, ssl_context=None, **overrides):
    """The real application on a free loopback port, sharing the test's storage; with
    `ssl_context` it serves HTTPS and its public URLs are https."""
    import socket

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    port = free_port()
    if ssl_context is not None:
        overrides.setdefault("public_scheme", "https")
    overrides.setdefault("metrics_port", free_port())   # metrics_port=0: a server without metrics
    config = make_config(tmp_path, mongo_uri, db_prefix, port=port, **overrides)
    services = make_services(config, storage)
    services.indexes_ready = True
    await services.start()
    server, _ = start_http(services, "127.0.0.1", port, ssl_options=ssl_context)
    servers = [server]
    if config.metrics_port:
        servers.append(start_metrics_http(services, config.metrics_host, config.metrics_port)[0])
    try:
        yield LiveServer(port=port, config=config, services=services, metrics_port=config.metrics_port)
    finally:
        for listening in servers:
            listening.stop()
            await listening.close_all_connections()
        await services.stop()


@pytest.fixture
async def live_server(tmp_path, mongo_uri, db_prefix, storage):
    async with running_server(tmp_path, mongo_uri, db_prefix, storage) as server:
        yield server


@pytest.fixture
async def browser():
    """Headless Chromium (tests/support/browser.py); modules using it call require_chromium()."""
    from .support.browser import chromium
    async with chromium() as launched:
        yield launched


@pytest.fixture
async def acme_technician(live_server):
    """A live server whose tenant acme has one operator: the technician alex@acme.example, whose
    password is tests.support.browser.PASSWORD."""
    from vectis.credentials.passwords import hash_password

    from .support.browser import PASSWORD
    storage = live_server.storage
    await storage.tenants.create("acme", "Acme IT")
    await storage.users.create("acme", "alex@acme.example", "Alex Morgan", "technician", hash_password(PASSWORD))
    return live_server


@pytest.fixture
async def http():
    async with client_session() as session:
        yield session


@dataclass
class SeededTenant:
    slug: str
    url: str                  # the MCP endpoint
    token: str                # a PAT with every scope, owned by the tenant's admin operator
    admin_email: str
    server: LiveServer

    async def issue(self, scopes, email: str | None = None) -> str:
        return await issue_token(self.server.storage, self.server.config, self.slug,
                                 email or self.admin_email, scopes)


async def issue_token(storage: Storage, config: Config, slug: str, email: str, scopes) -> str:
    from vectis.credentials.pats import display_prefix, generate_pat, hash_token
    user = await storage.users.by_email(slug, email)
    token = generate_pat()
    await storage.pats.insert(slug, token_hash=hash_token(config.token_pepper, token),
                              prefix=display_prefix(token), label="test", scopes=tuple(scopes),
                              user_id=user["_id"], expires_at=None)
    return token


@pytest.fixture
async def seeded(live_server) -> dict[str, SeededTenant]:
    """Both demo tenants, generated at a small scale, each with an all-scopes admin token."""
    from datetime import datetime

    from vectis.demo.generator import demo_operators
    from vectis.demo.seed import DEMO_TENANTS, seed_tenant
    from vectis.scopes import ALL_SCOPES
    now = datetime.now(UTC)
    tenants = {}
    for slug, name in DEMO_TENANTS.items():
        operators = demo_operators(slug)
        await seed_tenant(live_server.storage, slug, name, passwords={o.email: "test-password-123" for o in operators},
                          customers=12, tickets_per_customer=6, now=now)
        admin = next(o for o in operators if o.role == "admin")
        token = await issue_token(live_server.storage, live_server.config, slug, admin.email, ALL_SCOPES)
        tenants[slug] = SeededTenant(slug=slug, url=live_server.url(slug, "/api/mcp"), token=token,
                                     admin_email=admin.email, server=live_server)
    return tenants


@pytest.fixture
async def acme(live_server) -> SeededTenant:
    """A tenant with one admin operator and an all-scopes token, and no business data."""
    from vectis.scopes import ALL_SCOPES
    storage = live_server.storage
    await storage.tenants.create("acme", "Acme IT")
    await storage.users.create("acme", "admin@acme.example", "Ada Admin", "admin", "not-a-real-hash")
    token = await issue_token(storage, live_server.config, "acme", "admin@acme.example", ALL_SCOPES)
    return SeededTenant(slug="acme", url=live_server.url("acme", "/api/mcp"), token=token,
                        admin_email="admin@acme.example", server=live_server)


async def tenant_of(services: Services, slug: str):
    """The resolved Tenant of a slug, as a request to its host would see it."""
    return await services.tenants.resolve(f"{slug}.{services.config.base_domain}")
