"""The read side of the RMM connectors (NinjaOne, N-central, Kaseya VSA X) for sync, against a
seeded tenant's simulator fleet: a full read gives back the canonical documents of the source
(round trip canonical -> simulator -> Records), lists page, a vendor-side change shows in the next
snapshot, and a 429 mid-read is waited out."""
from __future__ import annotations

import contextlib
import math
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.simulators.seeding import load_source_docs
from vectis.storage import Storage
from vectis.sync.records import Record
from vectis.vendors.base import Connector
from vectis.vendors.connections import Connections
from vectis.vendors.errors import VendorError
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.ncentral import connector as ncentral
from vectis.vendors.ninjaone import connector as ninjaone
from vectis.vendors.simkit import Fault, Simulator
from vectis.vendors.simseed import utc_text

POLICY = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=10.0)
RMMS = ("ninjaone", "ncentral", "kaseya_vsax")
SLUG = "acme"

# What each vendor can carry of the canonical values (the rest reads back as shown).
KIND_CARRIED = {"ninjaone": {"virtual_machine": "server", "laptop": "workstation"},
                "ncentral": {"virtual_machine": "server"},
                # VSA X has no device type: the kind comes from the OS text.
                "kaseya_vsax": {"virtual_machine": "server", "laptop": "workstation"}}
SEVERITY_CARRIED = {
    "ninjaone": {},
    "ncentral": {"major": "critical", "minor": "moderate", "info": "moderate"},
    "kaseya_vsax": {"info": "minor"}}
DEVICE_LIST = {"ninjaone": ("/v2/devices-detailed", r"^/v2/devices-detailed$"),
               "ncentral": ("/api/devices", r"^/api/devices$"),
               "kaseya_vsax": ("/api/v3/devices", r"^/api/v3/devices$")}


@dataclass
class Env:
    storage: Storage
    slug: str
    vendor: str
    source: dict
    connector: Connector
    sim: Simulator
    http: VendorHttp

    async def docs(self) -> dict[str, list[dict]]:
        return await load_source_docs(self.storage, self.slug, self.source["_id"])


@contextlib.asynccontextmanager
async def started(storage: Storage, vendors: tuple[str, str, str], kind: str, slug: str = SLUG):
    """A tenant seeded with `vendors`, its simulator fleet, and the connector of its `kind` source
    (the generated data depends on the slug and the vendors only, never on the time)."""
    ninjaone._TOKENS.clear()
    ncentral._TOKENS.clear()
    await seed_tenant(storage, slug, slug.title(), passwords={}, customers=4, tickets_per_customer=4,
                      now=datetime.now(UTC), vendors=vendors)
    http = VendorHttp(policy=POLICY)
    connections = Connections(storage, secrets.token_bytes(32), http)
    fleet = SimulatorFleet()
    try:
        await fleet.start_for_tenants(storage, connections, [slug])
        source = next(s for s in await storage.sources.list(slug) if s["kind"] == kind)
        _, connector = await connections.connector(slug, source["_id"])
        yield Env(storage, slug, source["vendor"], source, connector,
                  fleet.simulator(slug, source["_id"]), http)
    finally:
        await fleet.stop()
        await http.close()


@pytest.fixture(params=RMMS)
async def env(request, storage):
    async with started(storage, ("connectwise", request.param, "datto_bcdr"), "rmm") as value:
        yield value


async def read_pages(connector: Connector, entity: str) -> list[list[Record]]:
    return [page async for page in connector.read(entity, None)]


async def read_all(connector: Connector, entity: str) -> dict[str, Record]:
    records = [r for page in await read_pages(connector, entity) for r in page]
    by_id = {r.external_id: r for r in records}
    assert len(by_id) == len(records)            # no object twice in one snapshot
    return by_id


def ref_of(doc: dict, source_id: str) -> str | None:
    return next((r["external_id"] for r in doc.get("refs") or () if r["source_id"] == source_id), None)


def close_to(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs((a - b.replace(tzinfo=b.tzinfo or UTC)).total_seconds()) < 1


def give_inventory(env: Env, docs: dict) -> None:
    """N-central keeps serial numbers in each device's inventory, which demo seeding leaves empty."""
    if env.vendor == "ncentral":
        for asset in docs["assets"]:
            hardware = asset["hardware"]
            env.sim.inventory[int(ref_of(asset, env.source["_id"]))] = {
                "serialnumber": hardware["serial_number"], "manufacturer": hardware["manufacturer"],
                "model": hardware["model"]}


# --- contract -------------------------------------------------------------------------------------
async def test_entities_and_modes(env):
    assert env.connector.SYNC_ENTITIES == {
        "customers": "snapshot", "assets": "snapshot", "alerts": "snapshot",
        **({"backup_jobs": "snapshot"} if env.vendor == "ninjaone" else {})}
    with pytest.raises(ValueError):
        await read_pages(env.connector, "tickets")


# --- the round trip -------------------------------------------------------------------------------
async def test_full_read_gives_back_the_canonical_documents(env):
    docs, source_id = await env.docs(), env.source["_id"]
    give_inventory(env, docs)
    customers = await read_all(env.connector, "customers")
    # RMM customers carry no ref to the RMM: the seeding gave each owner an organization id.
    owners = {c["_id"]: c for c in docs["customers"]}
    assert len(customers) == len(owners) > 0
    assert {r.fields["name"] for r in customers.values()} == {c["name"] for c in owners.values()}
    org_name = {external: r.fields["name"] for external, r in customers.items()}
    if env.vendor == "ncentral":
        by_name = {c["name"]: c for c in owners.values()}
        for record in customers.values():
            address = by_name[record.fields["name"]].get("address") or {}
            assert record.fields.get("address") == {k: v for k, v in address.items() if v}

    assets = await read_all(env.connector, "assets")
    expected = {ref_of(a, source_id): a for a in docs["assets"]}
    assert len(assets) == len(expected) > 0 and set(assets) == set(expected)
    for external, asset in expected.items():
        fields = assets[external].fields
        assert fields["name"] == asset["name"]
        assert fields["kind"] == KIND_CARRIED[env.vendor].get(asset["kind"], asset["kind"])
        assert fields["status"] == {"retired": "stale"}.get(asset["status"], asset["status"])
        assert fields["hardware"]["serial_number"] == asset["hardware"]["serial_number"]
        assert fields["os"]["name"] == asset["os"]["name"]
        assert close_to(fields["last_seen_at"], asset["last_seen_at"])
        assert org_name[assets[external].links["customer"]] == owners[asset["customer_id"]]["name"]
        if env.vendor != "ncentral":
            assert fields["ip_address"] == asset["ip_address"]
            assert fields["hardware"]["model"] == asset["hardware"]["model"]
            assert fields["os"].get("version") == asset["os"]["version"]
        if env.vendor == "kaseya_vsax":
            assert fields["site"] == {"name": asset["site"]["name"]}

    alerts = await read_all(env.connector, "alerts")
    # NinjaOne lists triggered conditions only: an acknowledged alert was reset there, so it is
    # not listed (like a resolved one).
    live = {ref_of(a, source_id): a for a in docs["alerts"] if a["status"] != "resolved"
            and not (env.vendor == "ninjaone" and a["status"] == "acknowledged")}
    resolved = [a for a in docs["alerts"] if a["status"] == "resolved"]
    assert len(alerts) == len(live) > 0 and set(alerts) == set(live)
    assert resolved           # RMMs list current conditions only: those are not read back
    asset_ref = {a["_id"]: ref for ref, a in expected.items()}
    for external, alert in live.items():
        record = alerts[external]
        assert record.fields["title"] == alert["title"]
        assert close_to(record.fields["created_at"], alert["created_at"])
        assert record.fields["severity"] == SEVERITY_CARRIED[env.vendor].get(alert["severity"],
                                                                             alert["severity"])
        if env.vendor == "kaseya_vsax":
            assert "status" not in record.fields     # VSA X has no acknowledged state
        elif env.vendor == "ninjaone":
            assert record.fields["status"] == "open"  # a listed NinjaOne alert is triggered
        else:
            assert record.fields["status"] == alert["status"]
        if env.vendor != "ncentral":
            assert record.fields["message"] == alert["message"]
        if env.vendor == "ninjaone":
            assert close_to(record.fields["updated_at"], alert["updated_at"])
        assert record.links["asset"] == asset_ref[alert["asset_id"]]
        assert org_name[record.links["customer"]] == owners[alert["customer_id"]]["name"]


async def test_lists_page_through_small_pages(env):
    full = {entity: await read_all(env.connector, entity) for entity in ("customers", "assets", "alerts")}
    env.connector.sync_page_size = 2
    before = env.sim.count("GET", DEVICE_LIST[env.vendor][0])
    for entity, records in full.items():
        pages = await read_pages(env.connector, entity)
        assert len(pages) >= math.ceil(len(records) / 2) > 1
        assert all(len(page) <= 2 for page in pages)
        assert {r.external_id for page in pages for r in page} == set(records)
    devices = len(full["assets"])
    # Keyset paging ends on a short page; the others stop at the announced total.
    calls = devices // 2 + 1 if env.vendor == "ninjaone" else math.ceil(devices / 2)
    if env.vendor == "ncentral":     # issues name no customer: their devices' are read too
        calls *= 2
    assert env.sim.count("GET", DEVICE_LIST[env.vendor][0]) - before == calls
    if env.vendor == "ncentral":     # one inventory call per device, twice over
        assert env.sim.count("GET", "/api/devices/{id}/assets") == 2 * devices


# --- vendor-side changes --------------------------------------------------------------------------
def change_vendor_side(env: Env, device: str, gone_device: str, alert: str,
                       gone_alert: str) -> datetime:
    """Rename `device` and take it offline an hour ago, remove `gone_device`, acknowledge `alert`
    where the vendor can, and clear `gone_alert` — as the vendor's own console or agents would."""
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    sim = env.sim
    if env.vendor == "ninjaone":
        sim.touch_device(int(device), systemName="RENAMED-01", displayName="RENAMED-01",
                         offline=True, lastContact=hour_ago.timestamp())
        sim.remove_device(int(gone_device))
        sim.touch_alert(alert, message="Disk C: 2% free")   # no acknowledged state: an update
        sim.clear_alert(gone_alert)
    elif env.vendor == "ncentral":
        sim.touch_device(int(device), longName="RENAMED-01", lastApplianceCheckinTime=utc_text(hour_ago))
        sim.remove_device(int(gone_device))
        sim.acknowledge_issue(int(alert))
        sim.clear_issue(int(gone_alert))
    else:
        sim.touch_device(device, Name="RENAMED-01", IsOnline=False, LastSeenOnline=utc_text(hour_ago))
        sim.remove_device(gone_device)
        sim.notifications.pop(gone_alert)
    return hour_ago


async def test_a_vendor_side_change_shows_in_the_next_snapshot(env):
    assets = await read_all(env.connector, "assets")
    alerts = await read_all(env.connector, "alerts")
    online = sorted(k for k, r in assets.items() if r.fields["status"] == "online")
    device = online[0]
    gone_device = next(k for k in sorted(assets) if k != device)
    alert, gone_alert = sorted(alerts)[:2]
    hour_ago = change_vendor_side(env, device, gone_device, alert, gone_alert)

    after = await read_all(env.connector, "assets")
    assert set(after) == set(assets) - {gone_device}       # a snapshot: absence is the deletion
    changed = after[device].fields
    assert changed["name"] == "RENAMED-01" and changed["status"] == "offline"
    assert close_to(changed["last_seen_at"], hour_ago)
    untouched = next(k for k in sorted(assets) if k not in (device, gone_device))
    assert after[untouched] == assets[untouched]

    now_alerts = await read_all(env.connector, "alerts")
    assert set(now_alerts) == set(alerts) - {gone_alert}
    if env.vendor not in ("kaseya_vsax", "ninjaone"):
        assert now_alerts[alert].fields["status"] == "acknowledged"
    if env.vendor == "ninjaone":
        assert now_alerts[alert].fields["status"] == "open"
        assert now_alerts[alert].fields["message"] == "Disk C: 2% free"
        assert now_alerts[alert].fields["updated_at"] > alerts[alert].fields["updated_at"]


async def test_a_429_mid_read_is_waited_out(env):
    full = await read_all(env.connector, "assets")
    env.connector.sync_page_size = 2
    pages = env.connector.read("assets", None)
    first = await anext(pages)
    env.sim.faults.add(Fault(kind="status", status=429, retry_after=1, method="GET",
                             path=DEVICE_LIST[env.vendor][1]))
    rest = [page async for page in pages]
    assert {r.external_id for page in [first, *rest] for r in page} == set(full)
    assert env.sim.faults.active == []                      # the refusal was met and waited out
    assert env.http.calls[(env.vendor, "429")] == 1


# --- NinjaOne backup jobs -------------------------------------------------------------------------
@pytest.fixture
async def ninja(storage):
    async with started(storage, ("connectwise", "ninjaone", "datto_bcdr"), "rmm") as value:
        yield value


async def test_ninjaone_backup_runs_fold_into_one_job_per_plan(ninja):
    assert await read_all(ninja.connector, "backup_jobs") == {}     # demo seeding adds none
    assert ninja.sim.count("GET", "/v2/backup/jobs") == 1
    device = min(ninja.sim.devices.values(), key=lambda d: d["id"])
    now = time.time()
    common = {"deviceId": device["id"], "organizationId": device["organizationId"],
              "planType": "IMAGE"}
    ninja.sim.add_backup_job(**common, planName="Nightly image", jobStatus="COMPLETED",
                             jobStartTime=now - 90_000, jobEndTime=now - 86_400,
                             totalActualStorageBytes=120_000_000_000)
    ninja.sim.add_backup_job(**common, planName="Nightly image", jobStatus="FAILED",
                             jobStartTime=now - 3_600, jobEndTime=now - 3_000,
                             totalActualStorageBytes=121_000_000_000)
    ninja.sim.add_backup_job(**common, planName="Files", jobStatus="PROCESSING", jobStartTime=now - 60)
    # `include=active` selects jobs of active devices: a deleted device's plans are not read.
    gone = max(ninja.sim.devices.values(), key=lambda d: d["id"])
    ninja.sim.remove_device(gone["id"])
    ninja.sim.add_backup_job(**{**common, "deviceId": gone["id"]}, planName="Old",
                             jobStatus="COMPLETED", jobStartTime=now)
    ninja.connector.sync_page_size = 1
    jobs = await read_all(ninja.connector, "backup_jobs")
    assert ninja.sim.count("GET", "/v2/backup/jobs") == 1 + 4      # named cursor, one run a page
    nightly, files = jobs[f"{device['id']}:Nightly image"], jobs[f"{device['id']}:Files"]
    assert set(jobs) == {nightly.external_id, files.external_id}     # deleted plans are absent
    assert nightly.fields["name"] == "Nightly image" and nightly.fields["last_status"] == "failed"
    assert close_to(nightly.fields["last_run_at"], datetime.fromtimestamp(now - 3_600, UTC))
    assert close_to(nightly.fields["last_success_at"], datetime.fromtimestamp(now - 86_400, UTC))
    assert nightly.fields["size_gb"] == 121.0
    assert nightly.links == {"asset": str(device["id"]), "customer": str(device["organizationId"])}
    assert files.fields["last_status"] == "running" and "last_success_at" not in files.fields


@pytest.mark.off_contract("a maintenance page answered 200 instead of the alert list")
async def test_ninjaone_a_200_that_is_not_an_alert_list_is_an_error_not_an_empty_snapshot(ninja):
    ninja.sim.faults.add(Fault(kind="status", status=200, method="GET", path=r"/v2/alerts$"))
    with pytest.raises(VendorError) as err:
        await read_pages(ninja.connector, "alerts")
    assert err.value.status == 200 and "/v2/alerts" in str(err.value)
