"""N-central against its published API (vectis/vendors/ncentral/contract.json; active-issue
fields unverified, from npycentral's model): every call the connector and the sync make, the
published authenticate example replayed, the contract refusing the old invented issue fields, and
the fixes: `_extra` issue fields, the device's customer, paging without totalPages, a 200 without
data, the vendor's 429 back-off, settings and hints."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aiohttp import web

from vectis.vendors import simkit
from vectis.vendors.base import VERBS, AlertDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.ncentral import connector as ncentral
from vectis.vendors.ncentral.connector import NCentralConnector
from vectis.vendors.ncentral.simulator import NCentralSimulator

from ..support.example_server import serving
from ..support.vendor_contracts import VENDORS_DIR, contract

EXAMPLES = VENDORS_DIR / "ncentral" / "examples"


@pytest.fixture
async def http():
    client = VendorHttp(policy=RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0))
    yield client
    await client.close()


@pytest.fixture(autouse=True)
def fresh_tokens():
    ncentral._TOKENS.clear()
    yield
    ncentral._TOKENS.clear()


def issue(task: int, unit: int, device: int, state: int, acked: bool = False) -> dict:
    return {"taskId": task, "orgUnitId": unit, "deviceId": device, "notificationState": state,
            "serviceId": 7, "serviceName": f"Service {task}", "serviceType": "Monitoring",
            "_extra": {"transitionTime": "2024-05-01T10:00:00Z", "deviceName": f"WS-{device}",
                       "numberOfAcknowledgedNotification": 1 if acked else 0,
                       "acknowledgedBy": "ada@example.com" if acked else None}}


@pytest.fixture
async def sim():
    sim = NCentralSimulator()
    sim.seed(
        customers=[{"customerId": 100, "customerName": "Acme"}, {"customerId": 101, "customerName": "Beta"}],
        sites=[{"siteId": 200, "siteName": "Branch", "parentId": 100}],
        devices=[{"deviceId": 1000 + i, "longName": f"WS-{1000 + i}", "customerId": 100 + i % 2,
                  "orgUnitId": 200 if i == 2 else 100 + i % 2, "deviceClass": "Workstations - Windows",
                  "lastApplianceCheckinTime": "2024-05-01T10:00:00"} for i in range(5)],
        issues=[issue(1, 100, 1000, 5), issue(2, 200, 1002, 4, acked=True), issue(3, 101, 1001, 8)],
        inventory={1000: {"serialnumber": "SN1000", "manufacturer": "Dell", "model": "OptiPlex"}})
    await sim.start()
    yield sim
    await sim.stop()


def conn(sim, http, settings=None, **override) -> NCentralConnector:
    return NCentralConnector(sim.base_url, {**sim.credentials, **override}, http, settings)


async def read_all(connector, entity):
    return {r.external_id: r for page in [p async for p in connector.read(entity, None)] for r in page}


async def test_every_call_and_entity_against_the_simulator(sim, http, exchanges):
    connector = conn(sim, http)
    assert [c["customerName"] for c in await connector.list_customers()] == ["Acme", "Beta"]
    assert len(await connector.list_devices(page_size=2)) == 5
    assert {i["taskId"] for i in await connector.list_alerts(sim.so_id)} == {1, 2, 3}
    for entity in connector.SYNC_ENTITIES:
        assert await read_all(connector, entity)
    for verb in VERBS:
        assert connector.effects[verb]
        with pytest.raises(VerbUnsupported):
            await connector.plan(verb, AlertDraft("1"))
    nc = contract("ncentral")
    assert {nc.operation(e.method, e.path).name for e in exchanges} == {
        "authenticate", "list_customers", "list_devices", "get_device_assets", "list_service_orgs",
        "list_active_issues"}
    assert all(not nc.check(e) for e in exchanges)


async def test_the_published_authenticate_answer_is_used_as_served(http):
    example = json.loads((EXAMPLES / "authenticate.200.json").read_text())
    seen: list[str] = []

    async def customers(request):
        seen.append(request.headers["Authorization"])
        return web.json_response({"data": [{"customerId": "5", "customerName": "Acme", "city": "Oslo"}],
                                  "totalItems": 1})

    async with serving("ncentral", EXAMPLES, [("POST", "/api/auth/authenticate", "authenticate.200"),
                                              ("GET", "/api/customers", customers)]) as origin:
        connector = NCentralConnector(origin, {"user_api_token": "eyJx"}, http)
        records = await read_all(connector, "customers")
    assert seen == [f"Bearer {example['tokens']['access']['token']}"]
    assert records["5"].fields == {"name": "Acme", "address": {"city": "Oslo"}}


def test_the_old_invented_issue_fields_fail_the_contract():
    nc = contract("ncentral")
    page = nc.validator(nc.doc["operations"]["list_active_issues"]["responses"]["200"]["body"])
    old = {"data": [{"taskId": 1, "orgUnitId": 100, "customerId": 100, "deviceId": 1000,
                     "deviceName": "WS-1", "serviceName": "Disk", "notificationState": 5,
                     "acknowledged": True, "transitionTime": "2024-05-01T10:00:00Z"}],
           "totalPages": 1}
    problems = [e.message for e in page.iter_errors(old)]
    assert problems and all("Additional properties" in p for p in problems)
    assert "'acknowledged'" in problems[0] and "'customerId'" in problems[0]
    assert list(page.iter_errors({"data": [issue(1, 100, 1000, 5)], "totalItems": 1})) == []


async def test_issue_fields_come_from_extra_and_the_customer_from_the_device(sim, http):
    issues = await read_all(conn(sim, http), "alerts")
    assert issues["1"].fields == {"severity": "critical", "status": "open", "title": "Service 1",
                                  "created_at": datetime(2024, 5, 1, 10, tzinfo=UTC)}
    assert issues["2"].fields["status"] == "acknowledged"
    # Issue 2 is raised at a site (200): its customer is its device's (100), not the site.
    assert issues["2"].links == {"asset": "1002", "customer": "100"}
    assert issues["3"].fields["severity"] == "info"                  # 8 Disabled
    sim.acknowledge_issue(1)
    assert (await read_all(conn(sim, http), "alerts"))["1"].fields["status"] == "acknowledged"


async def test_settings_choose_org_units_and_severities(sim, http, exchanges):
    chosen = conn(sim, http, {"org_unit_ids": "101", "state_severity": "8=major,5=major"})
    issues = await read_all(chosen, "alerts")
    assert set(issues) == {"3"} and issues["3"].fields["severity"] == "major"
    assert not any(e.path == "/api/service-orgs" for e in exchanges)
    with pytest.raises(ValueError):
        conn(sim, http, {"state_severity": "5=urgent"})


async def test_lists_without_total_pages_page_on(sim, http):
    sim.page_totals = False                                   # {data, totalItems} only
    connector = conn(sim, http)
    connector.sync_page_size = 2
    assert set(await read_all(connector, "assets")) == {str(1000 + i) for i in range(5)}
    assert sim.count("GET", "/api/devices") == 3


@pytest.mark.off_contract("N-central answering an error inside a 200, as its known issues say")
async def test_a_200_without_data_is_an_error_not_an_empty_snapshot(sim, http):
    sim.faults.add(simkit.Fault(kind="status", status=200, path=r"/active-issues$"))
    with pytest.raises(VendorError) as err:
        await read_all(conn(sim, http), "alerts")
    assert err.value.status == 200


async def test_a_429_is_backed_off_on_the_vendors_schedule(sim, http):
    connector = conn(sim, http)
    connector.rate_limit_backoff = (0.01, 0.02, 0.03)          # the vendor's 2, 5, 10 s, shortened
    assert ncentral.RATE_LIMIT_BACKOFF == (2.0, 5.0, 10.0)
    sim.faults.add(simkit.Fault(kind="status", status=429, path=r"^/api/customers$", count=4))
    assert len(await connector.list_customers()) == 2          # 2 by the client, 2 on the schedule
    assert http.calls[("ncentral", "429")] == 4
    sim.faults.add(simkit.Fault(kind="status", status=429, path=r"^/api/customers$", count=None))
    with pytest.raises(VendorError) as err:
        await connector.list_customers()
    assert err.value.status == 429
    sim.faults.clear()


async def test_errors_carry_ncentral_hints(sim, http):
    with pytest.raises(VendorError) as err:
        await conn(sim, http, user_api_token="eyJwrong").list_customers()
    assert err.value.status == 401 and "User-API token" in err.value.hint
    sim.faults.add(simkit.Fault(kind="status", status=403, path=r"/active-issues$"))
    with pytest.raises(VendorError) as err:
        await read_all(conn(sim, http), "alerts")
    assert err.value.status == 403 and "org_unit_ids" in err.value.hint
