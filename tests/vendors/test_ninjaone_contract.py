"""NinjaOne against its published API (vectis/vendors/ninjaone/contract.json): every verb and read
held to the contract, the published examples replayed through the reader, the contract refusing
the old `status: ACKNOWLEDGED` alert, and the fixes it forced: both alert verbs RESET the condition
(the alert leaves GET /v2/alerts, sync resolves it, the tool says so), the token scope setting,
node-only `/v2/devices`, NinjaOne's error bodies and hints."""
from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

import pytest
from aiohttp import web

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.sync.engine import SyncEngine
from vectis.vendors import simkit
from vectis.vendors.base import VERBS, AlertDraft
from vectis.vendors.connections import Connections
from vectis.vendors.errors import VendorError
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.ninjaone import connector as ninjaone
from vectis.vendors.ninjaone.connector import NinjaOneConnector
from vectis.vendors.ninjaone.simulator import NinjaOneSimulator
from vectis.vendors.simkit import Fault

from ..support.example_server import serving
from ..support.vendor_contracts import VENDORS_DIR, contract

EXAMPLES = VENDORS_DIR / "ninjaone" / "examples"
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0)
UID = "5d0f2c1e-8a4b-4c1e-9d3f-2b7a6e1c0a11"
OTHER = "7b1e9f00-3c2d-4e5f-8a9b-0c1d2e3f4a5b"
JOB = "00000000-0000-4000-8000-000000000001"


@pytest.fixture(autouse=True)
def fresh_token_cache():
    ninjaone._TOKENS.clear()
    yield
    ninjaone._TOKENS.clear()


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


def alert(uid: str, device_id: int) -> dict:
    return {"uid": uid, "deviceId": device_id, "message": "Disk C: below 10% free",
            "subject": "Disk space", "createTime": 1_700_000_000.0, "updateTime": 1_700_000_000.0,
            "sourceType": "CONDITION_AGENT_DISK_FREE_SPACE", "sourceName": "Disk free",
            "severity": "MAJOR", "priority": "HIGH", "data": {}}


@pytest.fixture
async def sim():
    simulator = NinjaOneSimulator()
    simulator.seed(
        organizations=[{"id": 1, "name": "Acme", "nodeApprovalMode": "AUTOMATIC"}],
        devices=[{"id": 101, "organizationId": 1, "nodeClass": "WINDOWS_SERVER",
                  "displayName": "SRV-01", "systemName": "SRV-01", "offline": False,
                  "lastContact": 1_700_000_000.0, "ipAddresses": ["10.0.0.5"],
                  "os": {"name": "Windows Server 2022", "releaseId": "21H2", "buildNumber": "20348"},
                  "system": {"manufacturer": "Dell", "model": "R650", "serialNumber": "SN1",
                             "totalPhysicalMemory": 64 * 1024 ** 3}},
                 {"id": 102, "organizationId": 1, "nodeClass": "WINDOWS_WORKSTATION",
                  "displayName": "WS-01", "offline": True}],
        alerts=[alert(UID, 101), alert(OTHER, 102)],
        backup_jobs=[{"jobId": JOB, "jobStatus": "FAILED", "planName": "Nightly", "planType": "IMAGE",
                      "deviceId": 101, "organizationId": 1, "jobStartTime": 1_700_000_000.0}])
    await simulator.start()
    yield simulator
    await simulator.stop()


def conn(sim, http, settings=None, **override) -> NinjaOneConnector:
    return NinjaOneConnector(sim.base_url, {**sim.credentials, **override}, http, settings)


async def read_all(connector, entity):
    return {r.external_id: r for page in [p async for p in connector.read(entity, None)] for r in page}


# --- every verb and entity, held to the contract by the autouse check -------------------------------
async def test_every_verb_and_entity_against_the_simulator(sim, http, exchanges):
    connector = conn(sim, http)
    assert set(connector.effects) == set(connector.verbs) == {"acknowledge_alert", "resolve_alert"}
    assert all("reset" in connector.effects[v] for v in connector.verbs)
    assert set(VERBS) - connector.verbs == {"create_ticket", "add_note", "close_ticket"}
    for entity in connector.SYNC_ENTITIES:
        assert await read_all(connector, entity)
    assert [o["id"] for o in await connector.list_organizations()] == [1]
    assert [d["id"] for d in await connector.list_devices()] == [101, 102]
    assert (await connector.get_device(101))["os"]["buildNumber"] == "20348"
    assert [j["jobId"] for j in await connector.list_backup_jobs(include="all")] == [JOB]
    await connector.perform("acknowledge_alert", AlertDraft(UID, note="On it"))
    await connector.perform("resolve_alert", AlertDraft(OTHER))
    assert await connector.list_alerts() == []
    names = contract("ninjaone").doc["operations"]
    seen = {contract("ninjaone").operation(e.method, e.path).name for e in exchanges}
    assert seen == set(names)                       # every operation the contract lists, used
    assert all(e.headers["user-agent"].startswith("Vectis-MCP/") for e in exchanges)
    assert all(not contract("ninjaone").check(e) for e in exchanges)


# --- published examples ------------------------------------------------------------------------------
@pytest.fixture
async def replay():
    """The published examples served verbatim at NinjaOne's paths. The token answer is ours (none
    is published); `/v2/devices-detailed` serves the published `GET /v2/device/{id}` Device as a
    one-item list (the same DTO)."""
    def serve(name, listed=False):
        async def handler(request):
            raw = (EXAMPLES / name).read_bytes()
            return web.Response(body=b"[" + raw + b"]" if listed else raw, content_type="application/json")
        return handler

    async def token(request):
        return web.json_response({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

    async def organizations(request):
        return web.json_response([])

    async with serving("ninjaone", EXAMPLES, [
            ("POST", "/ws/oauth/token", token), ("GET", "/v2/organizations", organizations),
            ("GET", "/v2/alerts", "list_alerts.200"), ("GET", "/v2/devices", "list_devices.200"),
            ("GET", "/v2/devices-detailed", serve("get_device.200.json", listed=True))]) as origin:
        yield origin


async def test_published_examples_read_back_as_vectis_stores_them(replay, http):
    connector = NinjaOneConnector(replay, {"client_id": "c", "client_secret": "s"}, http)
    alerts = await read_all(connector, "alerts")
    record = alerts["50edcf11-de92-4ecb-955b-c8066488b6cc"]
    # No status and no severity in the live alert: listed = open; the owner comes from /v2/devices.
    assert record.fields == {
        "status": "open", "title": "41",
        "message": json.loads((EXAMPLES / "list_alerts.200.json").read_text())[0]["message"],
        "created_at": datetime.fromtimestamp(1730332915, UTC),
        "updated_at": datetime.fromtimestamp(1730332915, UTC)}
    assert record.links == {"asset": "33"}            # device 33 is not in the published list
    device = (await read_all(connector, "assets"))["7"]
    assert device.fields["name"] == "ccesxi03.cc.local" and device.fields["kind"] == "server"
    assert device.fields["ip_address"] == "192.168.50.43"
    assert device.fields["last_seen_at"] == datetime.fromtimestamp(1742412689.092, UTC)
    assert "os" not in device.fields and "hardware" not in device.fields   # a VM host has neither
    assert device.links == {"customer": "2"}


# --- the contract bites ------------------------------------------------------------------------------
def test_the_old_acknowledged_alert_and_full_node_list_fail_the_contract():
    ninja = contract("ninjaone")
    alerts = ninja.validator(ninja.doc["operations"]["list_alerts"]["responses"]["200"]["body"])
    old = [{**alert(UID, 101), "status": "ACKNOWLEDGED", "sourceType": "CONDITION"}]
    problems = {e.message for e in alerts.iter_errors(old)}
    assert any("'status' was unexpected" in p for p in problems)
    assert any("'CONDITION' is not one of" in p for p in problems)
    assert list(alerts.iter_errors([alert(UID, 101)])) == []
    nodes = ninja.validator(ninja.doc["operations"]["list_devices"]["responses"]["200"]["body"])
    assert any("'os' was unexpected" in e.message
               for e in nodes.iter_errors([{"id": 1, "os": {"name": "Windows"}}]))
    body = ninja.doc["operations"]["token"]["body"]
    assert list(ninja.validator(body).iter_errors(
        {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s",
         "scope": "monitoring admin"}))


async def test_a_simulator_that_kept_the_reset_alert_listed_is_caught(sim, http):
    # What the old simulator served after a reset: the same alert, listed, with a status.
    await conn(sim, http).perform("acknowledge_alert", AlertDraft(UID))
    assert UID not in sim.alerts
    exchange = simkit.Exchange(
        vendor="ninjaone", method="GET", path="/v2/alerts", query={}, headers={}, body=b"",
        status=200, response_headers={},
        response_body=json.dumps([{**alert(UID, 101), "status": "ACKNOWLEDGED"}]).encode())
    assert any("'status' was unexpected" in p for p in contract("ninjaone").check(exchange))


# --- behaviour of the fixes ----------------------------------------------------------------------------
async def test_both_verbs_reset_and_a_retry_on_a_reset_alert_is_success(sim, http):
    connector = conn(sim, http)
    first = await connector.perform("acknowledge_alert", AlertDraft(UID, note="n"))
    assert first.extra == {"alert_ref": UID, "effect": "reset", "listed": False}
    assert [a["uid"] for a in await connector.list_alerts()] == [OTHER]
    # The real API no longer has it: both idempotent verbs take that as done.
    for verb in ("acknowledge_alert", "resolve_alert"):
        again = await connector.perform(verb, AlertDraft(UID))
        assert again.vendor_status == 404 and again.extra["already"] is True
    assert sim.resets == {UID: [{"note": "n"}]}
    back = sim.raise_again(UID)                       # the condition still holds
    assert {a["uid"] for a in await connector.list_alerts()} == {OTHER, back["uid"]}


async def test_the_scope_setting_reaches_the_token_request_and_an_ungranted_one_says_what_to_do(sim, http):
    await conn(sim, http).list_alerts()
    assert sim.token_requests[-1]["scope"] == "monitoring management"
    ninjaone._TOKENS.clear()
    with pytest.raises(VendorError) as err:           # the old default: `control` is not granted
        await conn(sim, http, settings={"scope": "monitoring management control"}).list_alerts()
    assert err.value.status == 400 and err.value.retry_safe is True
    text = err.value.describe("acme", "src_1")
    assert "invalid_scope" in text and "--setting scope=" in text
    assert "admin connect-source acme src_1" in text
    sim.granted_scopes.add("control")
    await conn(sim, http, settings={"scope": "monitoring management control"}).list_alerts()
    assert sim.token_requests[-1]["scope"] == "monitoring management control"


async def test_errors_have_ninjaone_shapes_and_hints(sim, http):
    with pytest.raises(VendorError) as err:
        await conn(sim, http, client_secret="wrong").list_alerts()
    assert err.value.status == 401 and "API Services" in err.value.describe()
    connector = conn(sim, http)
    await connector.list_alerts()
    sim.faults.add(Fault(kind="status", status=403, method="DELETE"))
    with pytest.raises(VendorError) as err:
        await connector.perform("resolve_alert", AlertDraft(UID))
    assert err.value.status == 403 and "management scope" in err.value.describe()
    sim.invalidate_tokens()
    sim.token_valid_for = 0
    with pytest.raises(VendorError) as err:
        await connector.list_alerts()
    assert err.value.status == 401 and "Invalid credentials" in str(err.value)   # the live body
    sim.token_valid_for = None
    with pytest.raises(VendorError) as err:
        await connector.get_device(999)
    assert err.value.status == 404 and "Device 999 not found" in str(err.value)  # errorMessage


async def test_devices_list_serves_node_fields_and_include_selects_by_device(sim, http):
    connector = conn(sim, http)
    node = (await connector.list_devices())[0]
    assert "os" not in node and "system" not in node and "ipAddresses" not in node
    assert (await connector.get_device(101))["system"]["serialNumber"] == "SN1"
    assert len(await connector.list_backup_jobs(include="active")) == 1
    sim.remove_device(101)
    assert await connector.list_backup_jobs(include="active") == []
    assert len(await connector.list_backup_jobs(include="deleted")) == 1


async def test_an_alert_reset_at_ninjaone_is_resolved_by_the_next_sync(storage):
    slug = "ninjareset"
    await seed_tenant(storage, slug, "Ninjareset", passwords={}, customers=3, tickets_per_customer=1,
                      now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
    http = VendorHttp(policy=POLICY)
    fleet = SimulatorFleet()
    try:
        connections = Connections(storage, secrets.token_bytes(32), http)
        await fleet.start_for_tenants(storage, connections, [slug])
        source = next(s for s in await storage.sources.list(slug) if s["kind"] == "rmm")
        sim = fleet.simulator(slug, source["_id"])
        db = storage.db.tenant(slug)
        engine = SyncEngine(storage, connections)
        assert all(r.ok for r in await engine.sync_source(slug, source["_id"]))
        # Acknowledged alerts in the demo data were reset at NinjaOne: none is listed, and the
        # first sync resolves them.
        assert await db.alerts.count_documents({"source_id": source["_id"], "status": "acknowledged"}) == 0
        doc = await db.alerts.find_one({"source_id": source["_id"], "status": "open"}, sort=[("_id", 1)])
        uid = next(r["external_id"] for r in doc["refs"] if r["source_id"] == source["_id"])
        _, connector = await connections.connector(slug, source["_id"])
        await connector.perform("acknowledge_alert", AlertDraft(uid, note="Looking"))
        assert all(r.ok for r in await engine.sync_source(slug, source["_id"], entities=("alerts",)))
        after = await db.alerts.find_one({"_id": doc["_id"]})
        assert after["status"] == "resolved" and after["resolved_at"]
        back = sim.raise_again(uid)                   # still full: NinjaOne raises it again
        assert all(r.ok for r in await engine.sync_source(slug, source["_id"], entities=("alerts",)))
        again = await db.alerts.find_one({"refs.external_id": back["uid"]})
        assert again["status"] == "open" and again["title"] == doc["title"]
    finally:
        await fleet.stop()
        await http.close()
