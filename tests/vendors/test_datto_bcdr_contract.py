"""Datto BCDR against its published API (vectis/vendors/datto_bcdr/contract.json): every read the
connector and the sync make, the published examples replayed through the reader, the contract
refusing the old flat backup shape, and the fixes it forced: nested `backup.status`, ISO backup
times, type-only alerts, hidden appliances left out, the `/v1` prefix."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import ROOT_PATH, SimulatorFleet
from vectis.sync.engine import SyncEngine
from vectis.vendors import simkit
from vectis.vendors.base import VERBS, AlertDraft
from vectis.vendors.connections import Connections
from vectis.vendors.datto_bcdr.connector import DattoBcdrConnector
from vectis.vendors.datto_bcdr.reader import job_record
from vectis.vendors.datto_bcdr.simulator import ROOT, DattoBcdrSimulator, backup_entry
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp

from ..support.example_server import serving
from ..support.vendor_contracts import VENDORS_DIR, contract

EXAMPLES = VENDORS_DIR / "datto_bcdr" / "examples"
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0)
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


def asset(name: str, volume: str, backups: list[dict], kind: str = "agent", **extra) -> dict:
    return {"name": name, "volume": volume, "type": kind, "isPaused": False, "isArchived": False,
            "lastSnapshot": 1_714_554_000, "fqdn": f"{name}.corp.local", "backups": backups, **extra}


@pytest.fixture
async def sim():
    sim = DattoBcdrSimulator()
    sim.seed(
        devices=[{"serialNumber": "SERIAL0", "name": "Acme SIRIS", "clientCompanyName": "Acme",
                  "hidden": False, "lastSeenDate": "2024-05-01T10:00:00+00:00", "model": "S3B2000"},
                 {"serialNumber": "SERIAL1", "name": "Old SIRIS", "clientCompanyName": "Acme",
                  "hidden": True, "lastSeenDate": "2023-01-01T10:00:00+00:00"},
                 {"serialNumber": "SERIAL2", "name": "Sub SIRIS", "clientCompanyName": "Beta",
                  "hidden": False, "lastSeenDate": "2024-05-01T10:00:00+00:00"}],
        assets={"SERIAL0": [
            asset("dc01", "vol-dc01", [backup_entry("failure", NOW, "VSS writer failed"),
                                       backup_entry("success", NOW - timedelta(hours=1))]),
            asset("fs01", "vol-fs01", [backup_entry("success", NOW, None, ["Screenshot failed"])]),
            asset("old", "vol-old", [], isArchived=True)]},
        alerts={"SERIAL0": [{"type": "Device Not Seen Alert", "threshold": 60, "unit": "Minutes",
                             "dateTriggered": "2024-05-01T09:00:00+00:00",
                             "dateSent": "2024-05-01T09:00:05+00:00"}]},
        child_reseller=["SERIAL2"])
    await sim.start()
    yield sim
    await sim.stop()


def conn(sim, http, settings=None, **override) -> DattoBcdrConnector:
    return DattoBcdrConnector(sim.base_url + ROOT, {**sim.credentials, **override}, http, settings)


async def read_all(connector, entity):
    return {r.external_id: r for page in [p async for p in connector.read(entity, None)] for r in page}


# --- every call, held to the contract by the autouse check ------------------------------------------
async def test_every_read_and_entity_against_the_simulator(sim, http, exchanges):
    connector = conn(sim, http)
    assert ROOT_PATH["datto_bcdr"] == ROOT == "/v1"          # the fleet serves Datto's real prefix
    assert [d["serialNumber"] for d in await connector.list_devices()] == ["SERIAL0", "SERIAL2"]
    assert (await connector.get_device("SERIAL0"))["model"] == "S3B2000"
    assert len(await connector.list_assets("SERIAL0")) == 3
    assert len(await connector.list_device_alerts("SERIAL0")) == 1
    assert [b["device"]["serialNumber"] for b in await connector.list_backups()] == ["SERIAL0", "SERIAL2"]
    for entity in connector.SYNC_ENTITIES:
        assert await read_all(connector, entity)
    for verb in VERBS:                               # read-only: every verb refused, and why
        assert connector.effects[verb]
        with pytest.raises(VerbUnsupported):
            await connector.plan(verb, AlertDraft("x"))
    ops = {contract("datto_bcdr").operation(e.method, e.path).name for e in exchanges}
    assert ops == {"list_devices", "get_device", "list_assets", "list_device_alerts"}
    assert all(e.path.startswith("/v1/bcdr/") for e in exchanges)
    assert all(not contract("datto_bcdr").check(e) for e in exchanges)


# --- published examples ------------------------------------------------------------------------------
@pytest.fixture
async def replay():
    """The published examples served verbatim where Datto serves them."""
    async with serving("datto_bcdr", EXAMPLES, [
            ("GET", "/v1/bcdr/device", "list_devices.200"),
            ("GET", "/v1/bcdr/device/{serial}/asset", "list_assets.200"),
            ("GET", "/v1/bcdr/device/{serial}/alert", "list_device_alerts.200")]) as origin:
        yield origin + "/v1"


async def test_published_examples_read_back_as_vectis_stores_them(replay, http):
    connector = DattoBcdrConnector(replay, {"public_key": "p", "secret_key": "s"}, http)
    jobs = await read_all(connector, "backup_jobs")
    job = jobs["4b65219643aa4bc78e359928ead7fab5"]
    # backups[0].backup.status "string" is no success: a failed backup, with its message. The
    # example's type is "string", not "agent": it reads as a share, under its own name.
    assert job.fields == {"name": "test-host", "last_status": "failed",
                          "last_error": "string",
                          "last_run_at": datetime(2020, 4, 29, 14, 1, 3, tzinfo=UTC),
                          "last_success_at": datetime.fromtimestamp(1584817262, UTC)}
    assert job.link_names == {"customer": "string"}
    alerts = await read_all(connector, "alerts")
    assert list(alerts) == ["string:Device Not Seen Alert:2018-08-28T19:00:16+00:00"]
    alert = alerts["string:Device Not Seen Alert:2018-08-28T19:00:16+00:00"]
    assert alert.fields == {"title": "Device Not Seen Alert", "message": "threshold 60 Minutes",
                            "created_at": datetime(2018, 8, 28, 19, 0, 16, tzinfo=UTC)}
    appliance = (await read_all(connector, "assets"))["string"]
    assert appliance.fields["name"] == "string" and appliance.fields["ip_address"] == "string"
    assert appliance.fields["hardware"] == {"manufacturer": "Datto", "model": "string",
                                            "serial_number": "string"}


# --- the contract bites ------------------------------------------------------------------------------
def test_the_old_flat_backup_and_invented_alert_fields_fail_the_contract():
    datto = contract("datto_bcdr")
    assets = datto.validator(datto.doc["operations"]["list_assets"]["responses"]["200"]["body"])
    old = [asset("dc01", "vol", [{"status": "failure", "timestamp": 1714557600.0,
                                  "errorMessage": "VSS writer failed",
                                  "localVerification": {"errors": []}}], lastSnapshot=1714557600.5)]
    problems = {e.message for e in assets.iter_errors(old)}
    assert any("'backup' is a required property" in p for p in problems)
    assert any("is not of type 'string'" in p for p in problems)          # epoch timestamp
    assert any("Additional properties" in p for p in problems)             # flat status
    assert any("is not of type 'integer', 'null'" in p for p in problems)  # fractional snapshot
    new = [asset("dc01", "vol", [backup_entry("failure", NOW, "VSS writer failed")])]
    assert list(assets.iter_errors(new)) == []
    alerts = datto.validator(datto.doc["operations"]["list_device_alerts"]["responses"]["200"]["body"])
    invented = {"pagination": {"totalPages": 1}, "items": [
        {"id": 401234, "type": "backup", "title": "Backup failed", "message": "x",
         "dateTriggered": "2024-05-01T09:00:00+00:00"}]}
    assert any("Additional properties" in e.message for e in alerts.iter_errors(invented))


# --- behaviour of the fixes ----------------------------------------------------------------------------
async def test_nested_status_iso_time_and_verification_map_to_canonical_jobs(sim, http):
    jobs = await read_all(conn(sim, http), "backup_jobs")
    assert set(jobs) == {"vol-dc01", "vol-fs01"}                     # archived: no longer protected
    failed, warned = jobs["vol-dc01"].fields, jobs["vol-fs01"].fields
    assert (failed["last_status"], failed["last_error"], failed["last_run_at"]) == \
        ("failed", "VSS writer failed", NOW)
    assert (warned["last_status"], warned["last_error"]) == ("warning", "Screenshot failed")
    sim.record_backup("vol-dc01", "inProgress", NOW + timedelta(minutes=5))
    assert (await read_all(conn(sim, http), "backup_jobs"))["vol-dc01"].fields["last_status"] == "running"


def test_a_failure_without_a_message_still_says_what_datto_called_it():
    record = job_record({"serialNumber": "S"}, asset("dc01", "v", [backup_entry("aborted", NOW)]))
    assert record.fields["last_status"] == "failed" and record.fields["last_error"] == "aborted"
    empty = job_record({"serialNumber": "S"}, asset("dc01", "v", []))
    assert "last_status" not in empty.fields and "last_error" not in empty.fields


async def test_hidden_and_child_reseller_appliances_follow_the_source_settings(sim, http, exchanges):
    assert set(await read_all(conn(sim, http), "assets")) == {"SERIAL0", "SERIAL2"}
    sent = [e.query for e in exchanges if e.path == "/v1/bcdr/device"]
    assert sent[-1]["showHiddenDevices"] == ["0"] and sent[-1]["showChildResellerDevices"] == ["1"]
    chosen = conn(sim, http, {"include_hidden_devices": 1, "include_child_reseller_devices": 0})
    assert set(await read_all(chosen, "assets")) == {"SERIAL0", "SERIAL1"}
    assert [d["serialNumber"] for d in await conn(sim, http).list_devices(show_hidden=True)] == \
        ["SERIAL0", "SERIAL1", "SERIAL2"]
    with pytest.raises(ValueError):
        conn(sim, http, {"show_hidden": 1})


async def test_the_simulator_lists_hidden_appliances_when_not_told_otherwise(sim, http):
    # Datto's default is showHiddenDevices=1: a client that sends nothing gets them all.
    response = await http.request("datto_bcdr", "GET", sim.base_url + "/v1/bcdr/device",
                                  idempotent=True, headers=await conn(sim, http).auth_headers())
    assert [d["serialNumber"] for d in response.json()["items"]] == ["SERIAL0", "SERIAL1", "SERIAL2"]


async def test_errors_carry_datto_hints(sim, http):
    with pytest.raises(VendorError) as err:
        await conn(sim, http, secret_key="wrong").list_devices()
    assert err.value.status == 401 and "Datto Partner Portal" in err.value.hint
    assert "admin connect-source acme backup" in err.value.describe("acme", "backup")
    with pytest.raises(VendorError) as err:
        await conn(sim, http).list_assets("NOPE")
    assert err.value.status == 404 and "appliance" in err.value.hint


@pytest.mark.off_contract("Datto answering 200 without its list envelope")
async def test_a_200_without_items_is_an_error_not_an_empty_snapshot(sim, http):
    sim.faults.add(simkit.Fault(kind="status", status=200, path=r"/alert$"))
    with pytest.raises(VendorError) as err:                     # a 200 without items: no snapshot
        await read_all(conn(sim, http), "alerts")
    assert err.value.status == 200


# --- the end of it: a failed backup reaches list_backups_failing ---------------------------------------
async def test_a_failed_backup_at_datto_is_listed_as_failing_after_a_sync(storage):
    slug = "dattofail"
    await seed_tenant(storage, slug, "Dattofail", passwords={}, customers=3, tickets_per_customer=1,
                      now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
    http = VendorHttp(policy=POLICY)
    fleet = SimulatorFleet()
    try:
        connections = Connections(storage, secrets.token_bytes(32), http)
        await fleet.start_for_tenants(storage, connections, [slug])
        source = next(s for s in await storage.sources.list(slug) if s["kind"] == "backup")
        sim = fleet.simulator(slug, source["_id"])
        db = storage.db.tenant(slug)
        good = await db.backup_jobs.find_one({"source_id": source["_id"], "last_status": "success"})
        volume = next(r["external_id"] for r in good["refs"] if r["source_id"] == source["_id"])
        sim.record_backup(volume, "failure", datetime.now(UTC) - timedelta(minutes=5),
                          error="Agent communication timeout")
        reports = await SyncEngine(storage, connections).sync_source(slug, source["_id"],
                                                                     entities=("backup_jobs",))
        assert all(r.ok for r in reports)
        page, _ = await storage.assets.failing_backups_page(
            slug, since=datetime.now(UTC) - timedelta(days=1), limit=200, after=None)
        failing = {j["_id"]: j for j in page}
        assert failing[good["_id"]]["last_status"] == "failed"
        assert failing[good["_id"]]["last_error"] == "Agent communication timeout"
    finally:
        await fleet.stop()
        await http.close()


