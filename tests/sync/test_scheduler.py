"""The scheduler: due sources run (at most N at once), a success is next due one interval later,
a failure backs off; `admin sync-now` and `sync-status` from another process, which respects a
lease held here; and the tools show each source's last sync."""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from vectis.config import decode_key
from vectis.sync.scheduler import MAX_BACKOFF, SyncScheduler, next_run
from vectis.vendors.simkit import Fault

from ..support.processes import clean_env, run_cli

VENDORS = ("halopsa", "atera", "datto_bcdr")


def aware(value):
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def test_due_sources_run_and_failures_back_off(make_sync_env):
    env = await make_sync_env({"sched": VENDORS})
    scheduler = SyncScheduler(env.storage, env.engine, interval=60, concurrency=2)
    (await env.sim("sched", "rmm")).faults.add(Fault(kind="status", status=503, method="GET",
                                                     path=r".", count=None))   # the RMM is down
    started = await scheduler.tick()
    assert len(started) == 3                            # psa, rmm and backup are all due
    assert await scheduler.tick() == []                 # still running or not due: nothing new
    for task in started:
        await task
    now = datetime.now(UTC)
    psa, rmm = await env.source("sched", "psa"), await env.source("sched", "rmm")
    assert psa["last_sync_error"] is None and psa["sync_failures"] == 0
    assert timedelta(seconds=50) < aware(psa["sync_next_run_at"]) - now < timedelta(seconds=70)
    assert "HTTP 503" in rmm["last_sync_error"] and rmm["sync_failures"] == 1
    assert await scheduler.tick() == []                 # nothing is due yet
    # A failing source that is due again backs off twice as long after its second failure.
    await env.db("sched")["sources"].update_one({"_id": rmm["_id"]},
                                                {"$set": {"sync_next_run_at": now}})
    for task in await scheduler.tick():
        await task
    rmm = await env.source("sched", "rmm")
    assert rmm["sync_failures"] == 2
    assert aware(rmm["sync_next_run_at"]) - datetime.now(UTC) > timedelta(seconds=100)
    await scheduler.stop()


async def test_one_failing_entity_does_not_slow_the_rest_of_the_source(make_sync_env):
    env = await make_sync_env({"part": VENDORS})
    scheduler = SyncScheduler(env.storage, env.engine, interval=60, concurrency=2)
    # Say the API key may read devices but not alerts: a 403 on every run, not an outage.
    (await env.sim("part", "rmm")).faults.add(Fault(kind="status", status=403, method="GET",
                                                    path=r"/alerts$", count=None))
    for task in await scheduler.tick():
        await task
    rmm = await env.source("part", "rmm")
    assert "HTTP 403" in rmm["last_sync_error"] and rmm["sync_failures"] == 0
    assert timedelta(seconds=50) < aware(rmm["sync_next_run_at"]) - datetime.now(UTC) < timedelta(seconds=70)
    assert rmm["sync"]["assets"]["last_error"] is None
    await scheduler.stop()


def test_backoff_stays_capped_however_long_a_source_fails():
    now = datetime.now(UTC)
    for failures in (1, 7, 40, 10_000):
        delay = next_run(now, 300.0, failures) - now
        assert timedelta(seconds=270) <= delay <= MAX_BACKOFF * 1.1


async def test_sync_now_and_status_from_the_command_line(make_sync_env, live_server, mongo_uri,
                                                         db_prefix, tmp_path, http):
    # The CLI process decrypts the sources' credentials with the key it reads from the live
    # server's data directory.
    env = await make_sync_env({"clisync": VENDORS}, key=decode_key(live_server.config.encryption_key))
    cli_env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix,
                        VECTIS_DATA_DIR=str(tmp_path / "data"))
    psa = await env.source("clisync", "psa")
    await env.db("clisync")["sources"].update_one({"_id": psa["_id"]}, {"$set": {"last_sync_at": None}})
    assert await env.storage.sync.acquire("clisync", psa["_id"], "a-server", timedelta(minutes=5))
    # In a thread: the simulators answer from this test's event loop, which must keep running.
    busy = await asyncio.to_thread(run_cli, "admin", "sync-now", "clisync", "--source", psa["_id"],
                                   env=cli_env, timeout=120)
    assert busy.returncode == 0 and "being synced" in json.loads(busy.stdout)[psa["_id"]]["error"]
    await env.storage.sync.release("clisync", psa["_id"], "a-server")
    done = await asyncio.to_thread(run_cli, "admin", "sync-now", "clisync", "--source", psa["_id"],
                                   env=cli_env, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)[psa["_id"]]
    assert report["tickets"]["ok"] is True and report["tickets"]["counts"]["seen"] > 0
    status = json.loads((await asyncio.to_thread(run_cli, "admin", "sync-status", "clisync",
                                                 env=cli_env)).stdout)
    row = next(r for r in status if r["id"] == psa["_id"])
    assert row["entities"]["tickets"]["mode"] == "incremental"
    assert row["entities"]["tickets"]["last_success_at"]
    # A manual run of the whole source is its last sync, as a scheduled one is.
    assert row["last_sync_at"] and row["last_error"] is None

    # get_customer shows the source's sync state.
    from vectis.scopes import ALL_SCOPES

    from ..conftest import issue_token
    from ..support.rpc import structured
    customer = await env.db("clisync")["customers"].find_one({"primary_psa_source_id": psa["_id"]})
    admin = await env.db("clisync")["users"].find_one({"role": "admin"})
    token = await issue_token(env.storage, live_server.config, "clisync", admin["email"], ALL_SCOPES)
    got = await structured(http, live_server.url("clisync", "/api/mcp"), token, "get_customer",
                           {"customer_id": customer["_id"]})
    views = {s["id"]: s for s in got["rollups"]["connected_sources"]}
    assert views[psa["_id"]]["last_sync_at"] and views[psa["_id"]]["last_sync_error"] is None
