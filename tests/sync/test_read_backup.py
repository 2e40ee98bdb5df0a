"""The read side of the Datto BCDR connector for sync, against a seeded tenant's simulator: each
protected agent or share reads back as its canonical backup job, appliances as assets, appliance
alerts as alerts; lists page, a new backup or a removed agent shows in the next snapshot, and a
429 mid-read is waited out."""
from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from vectis.vendors.datto_bcdr.reader import alert_id
from vectis.vendors.datto_bcdr.seed import BACKUP_ALERT_TYPE, appliance_serial
from vectis.vendors.simkit import Fault

from .test_read_rmm import close_to, read_all, read_pages, ref_of, started


@pytest.fixture
async def env(storage):
    # This tenant's small demo data has every job status, shares, and open backup alerts.
    async with started(storage, ("connectwise", "ninjaone", "datto_bcdr"), "backup",
                       slug="northwind") as value:
        yield value


async def canonical(env) -> tuple[dict, dict, dict]:
    docs, source_id = await env.docs(), env.source["_id"]
    jobs = {ref_of(j, source_id): j for j in docs["backup_jobs"]}
    customers = {c["_id"]: c for c in docs["customers"]}
    assets = {a["_id"]: a for a in await env.storage.db.tenant(env.slug).assets.find(
        {"_id": {"$in": [j["asset_id"] for j in jobs.values() if j.get("asset_id")]}}).to_list()}
    return jobs, customers, assets


async def test_entities_and_modes(env):
    assert env.connector.SYNC_ENTITIES == {"assets": "snapshot", "backup_jobs": "snapshot",
                                           "alerts": "snapshot"}
    with pytest.raises(ValueError):
        await read_pages(env.connector, "customers")     # Datto keeps client names only


async def test_full_read_gives_back_the_canonical_jobs(env):
    jobs, customers, assets = await canonical(env)
    records = await read_all(env.connector, "backup_jobs")
    assert len(records) == len(jobs) > 0 and set(records) == set(jobs)
    assert {j["last_status"] for j in jobs.values()} == {"success", "warning", "failed", "running"}
    for volume, job in jobs.items():
        fields, record = records[volume].fields, records[volume]
        if job.get("asset_id"):
            assert fields["name"] == job["name"]                 # "<host> - image backup"
            assert record.link_names["asset"] == assets[job["asset_id"]]["name"]
        else:                     # a share is named by its first words only
            assert job["name"].startswith(fields["name"]) and "asset" not in record.link_names
        assert record.link_names["customer"] == customers[job["customer_id"]]["name"]
        assert record.links == {}
        assert fields["last_status"] == job["last_status"]
        assert fields["last_error"] == job["last_error"]
        assert close_to(fields["last_run_at"], job["last_run_at"])
        assert close_to(fields["last_success_at"], job["last_success_at"])
        assert "size_gb" not in fields            # Datto reports storage per appliance only

    appliances = await read_all(env.connector, "assets")
    owners = {j["customer_id"] for j in jobs.values()}
    assert set(appliances) == {appliance_serial(c) for c in owners}
    for customer_id in owners:
        record = appliances[appliance_serial(customer_id)]
        name = customers[customer_id]["name"]
        assert record.fields["name"] == f"{name} SIRIS" and record.link_names == {"customer": name}
        assert record.fields["hardware"] == {"manufacturer": "Datto",
                                             "serial_number": appliance_serial(customer_id)}
        runs = [j["last_run_at"] for j in jobs.values() if j["customer_id"] == customer_id]
        assert close_to(record.fields["last_seen_at"], max(runs))

    # A Datto alert is a type on an appliance, with no id, title or message: one live canonical
    # alert reads back per appliance and trigger time, under Datto's type name.
    alerts = await read_all(env.connector, "alerts")
    live = [a for a in (await env.docs())["alerts"] if a["status"] != "resolved"]
    assert len(alerts) == len(live) > 0
    for alert in live:
        serial = appliance_serial(alert["customer_id"])
        record = next(r for r in alerts.values() if r.external_id.startswith(f"{serial}:")
                      and close_to(r.fields["created_at"], alert["created_at"]))
        assert record.fields["title"] == BACKUP_ALERT_TYPE and "message" not in record.fields
        assert record.link_names == {"customer": customers[alert["customer_id"]]["name"]}
        assert "status" not in record.fields and "severity" not in record.fields
    # The demo's alerts hold the very ids a sync reads back, so a first sync finds them instead
    # of raising them anew and resolving the seeded ones.
    assert set(alerts) == {ref_of(a, env.source["_id"]) for a in live}


async def test_lists_page_through_small_pages(env):
    full = {entity: await read_all(env.connector, entity) for entity in ("assets", "backup_jobs", "alerts")}
    appliances = len(full["assets"])
    assert appliances > 1
    env.connector.sync_page_size = 1
    before = env.sim.count("GET", "/v1/bcdr/device")
    for entity, records in full.items():
        pages = await read_pages(env.connector, entity)
        assert {r.external_id for page in pages for r in page} == set(records)
        if entity != "backup_jobs":          # an appliance's agents come in one answer
            assert all(len(page) <= 1 for page in pages)
    assert env.sim.count("GET", "/v1/bcdr/device") - before == 3 * appliances   # one appliance a page
    # Per appliance: one call in the first read, then one per alert (at least one) a page each.
    per_appliance = [len(env.sim.alerts.get(serial, [])) for serial in full["assets"]]
    assert env.sim.count("GET", "/v1/bcdr/device/{serial}/alert") == \
        appliances + sum(max(k, 1) for k in per_appliance)


async def test_new_backups_and_removed_agents_show_in_the_next_snapshot(env):
    jobs, _customers, _assets = await canonical(env)
    before = await read_all(env.connector, "backup_jobs")
    good = next(v for v, j in sorted(jobs.items()) if j["last_status"] == "success")
    bad = next(v for v, j in sorted(jobs.items()) if j["last_status"] == "failed")
    gone = next(v for v in sorted(jobs) if v not in (good, bad))
    now = time.time()
    env.sim.record_backup(good, "failure", now - 60, error="Agent communication timeout")
    env.sim.record_backup(bad, "success", now - 30, verification_errors=["Screenshot verification failed"])
    env.sim.remove_asset(gone)

    after = await read_all(env.connector, "backup_jobs")
    assert set(after) == set(before) - {gone}                # a snapshot: absence is the removal
    failed, warned = after[good].fields, after[bad].fields
    assert failed["last_status"] == "failed" and failed["last_error"] == "Agent communication timeout"
    assert close_to(failed["last_run_at"], datetime.fromtimestamp(now - 60, UTC))
    assert failed["last_success_at"] == before[good].fields["last_success_at"]
    assert warned["last_status"] == "warning" and warned["last_error"] == "Screenshot verification failed"
    assert close_to(warned["last_success_at"], datetime.fromtimestamp(now - 30, UTC))
    untouched = next(v for v in sorted(after) if v not in (good, bad))
    assert after[untouched] == before[untouched]

    alerts = await read_all(env.connector, "alerts")
    serial, items = next((s, items) for s, items in sorted(env.sim.alerts.items()) if items)
    env.sim.clear_alert(serial, items[0]["type"], items[0]["dateTriggered"])
    assert set(await read_all(env.connector, "alerts")) == set(alerts) - {alert_id(serial, items[0])}


async def test_a_429_mid_read_is_waited_out(env):
    full = await read_all(env.connector, "backup_jobs")
    pages = env.connector.read("backup_jobs", None)
    first = await anext(pages)
    env.sim.faults.add(Fault(kind="status", status=429, retry_after=1, method="GET",
                             path=r"^/v1/bcdr/device/[^/]+/asset$"))
    rest = [page async for page in pages]
    assert {r.external_id for page in [first, *rest] for r in page} == set(full)
    assert env.sim.faults.active == [] and env.http.calls[("datto_bcdr", "429")] == 1
