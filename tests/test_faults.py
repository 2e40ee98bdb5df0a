"""Faults: the database goes away and comes back.

This test owns its database (an embedded SecantusDB on its own data directory and port), so that
killing it disturbs no other test. The server runs in-process on it, with its background tasks
on, and is never restarted: it has to recover by itself.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vectis import metrics
from vectis.demo.generator import demo_operators
from vectis.demo.seed import seed_tenant
from vectis.embedded_db import EmbeddedDatabase
from vectis.scopes import ALL_SCOPES
from vectis.simulators.fleet import SimulatorFleet
from vectis.storage import Storage, make_client
from vectis.vendors.http import VendorHttp

from .conftest import issue_token, running_server
from .support.rpc import rpc
from .writes.conftest import FAST

pytestmark = pytest.mark.slow

SELECTION_MS = 2000       # the test client's serverSelectionTimeoutMS
PROMPT = 20               # "promptly": far above the selection timeout, far below a 30 s hang
SLUG = "outage"


@pytest.fixture
async def own_database(tmp_path):
    db = EmbeddedDatabase(tmp_path / "own-db", cache_size="128M")
    (tmp_path / "own-db").mkdir()
    await asyncio.to_thread(db.start)
    yield db
    await asyncio.to_thread(db.stop)


def kill(db: EmbeddedDatabase) -> None:
    os.kill(db.process.pid, signal.SIGKILL)
    db.process.wait(20)


async def health(http, port: int, path: str) -> int:
    async with http.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status


async def database_up_metric(http, port: int) -> float:
    async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                if s.name == "vectis_database_up")


async def timed_call(http, url, token, name, arguments):
    started = time.monotonic()
    answer = await rpc(http, url, token, "tools/call", {"name": name, "arguments": arguments})
    return answer, time.monotonic() - started


def assert_retryable(status, body, headers, elapsed):
    assert elapsed < PROMPT, f"the call took {elapsed:.1f} s"
    assert status == 200, (status, body)
    error = body["error"]
    assert error["code"] == -32006, body
    assert error["data"]["retryable"] is True and error["data"]["retryAfterSeconds"] > 0
    assert headers["Retry-After"] == str(error["data"]["retryAfterSeconds"])
    text = str(body).lower()
    for leak in ("traceback", "127.0.0.1", "serverselection", "pymongo", "connection refused"):
        assert leak not in text, body


async def test_database_outage_and_recovery_without_restart(own_database, tmp_path, http,
                                                              monkeypatch):
    monkeypatch.setattr(metrics, "SNAPSHOT_SECONDS", 0.0)   # every scrape reads the database
    db = own_database
    prefix = "f" + secrets.token_hex(5)
    storage = Storage(make_client(db.uri, serverSelectionTimeoutMS=SELECTION_MS,
                                  connectTimeoutMS=SELECTION_MS), prefix)
    await storage.db.ensure_control_indexes()
    await seed_tenant(storage, SLUG, "Outage", passwords={}, customers=3, tickets_per_customer=2,
                      now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
    fleet = SimulatorFleet()
    try:
        async with running_server(tmp_path, db.uri, prefix, storage, rules_worker="on",
                                  sync_interval_seconds=3600) as server:
            services = server.services
            services.connections.http = VendorHttp(policy=FAST, metrics=services.metrics)
            await fleet.start_for_tenants(storage, services.connections, [SLUG])
            admin = next(o for o in demo_operators(SLUG) if o.role == "admin")
            token = await issue_token(storage, server.config, SLUG, admin.email, ALL_SCOPES)
            url = server.url(SLUG, "/api/mcp")
            read = ("list_customers", {"limit": 5})

            (status, body, _), _ = await timed_call(http, url, token, *read)
            assert status == 200 and body["result"]["isError"] is False, body
            customers = body["result"]["structuredContent"]

            # SecantusDB, like mongod with j:false, may lose its last unjournaled writes to a
            # SIGKILL; flushing first keeps this test about recovery, not about that window.
            await storage.db.client.admin.command("fsync")
            await asyncio.to_thread(kill, db)
            # Once with everything cached (tenant, token), once after the caches have expired:
            # both paths must give the same retryable answer.
            answer, elapsed = await timed_call(http, url, token, *read)
            assert_retryable(*answer, elapsed)
            await asyncio.sleep(server.config.auth_cache_seconds + server.config.tenant_cache_seconds + 0.5)
            (status, body, headers), elapsed = await timed_call(http, url, token, *read)
            assert_retryable(status, body, headers, elapsed)
            assert await health(http, server.port, "/readyz") == 503
            assert await health(http, server.port, "/healthz") == 200
            assert await database_up_metric(http, server.metrics_port) == 0   # /metrics still answers
            services.audit.record(SLUG, {"action": "outage_probe"})   # must wait, not die
            await services.audit.flush()
            await asyncio.sleep(1.5)     # a tick of the rules worker and of the scheduler

            await asyncio.to_thread(db.start, 60.0, db.port)
            for _ in range(120):
                if await health(http, server.port, "/readyz") == 200:
                    break
                await asyncio.sleep(0.5)
            assert await health(http, server.port, "/readyz") == 200
            assert await database_up_metric(http, server.metrics_port) == 1
            (status, body, _), _ = await timed_call(http, url, token, *read)
            assert status == 200 and body["result"]["isError"] is False, body
            assert body["result"]["structuredContent"] == customers
            customer = await storage.db.tenant(SLUG)["customers"].find_one(
                {"refs.external_id": {"$exists": True}, "primary_psa_source_id": {"$exists": True}})
            (status, body, _), _ = await timed_call(http, url, token, "create_ticket", {
                "customer_id": customer["_id"], "subject": "After the outage", "description": "Back."})
            assert status == 200 and body["result"]["isError"] is False, body

            for task in (services.audit._task, services.scheduler._loop_task, services.rules_worker._task):
                assert task is not None and not task.done(), task
            await services.audit.flush()
            probe = await storage.db.tenant(SLUG)["audit_log"].count_documents({"action": "outage_probe"})
            assert probe == 1, "the row buffered during the outage was written after it"
    finally:
        await fleet.stop()
        await storage.db.drop_everything()
        await storage.close()
