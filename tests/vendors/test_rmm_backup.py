"""Read-only vendors against their simulators: Datto BCDR, Kaseya VSA X and N-central. Each has
no write verb (the public docs' reasons), authenticates its own way, and pages its lists."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from vectis.vendors.base import AlertDraft
from vectis.vendors.datto_bcdr.connector import DattoBcdrConnector
from vectis.vendors.datto_bcdr.simulator import DattoBcdrSimulator, backup_entry
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.kaseya_vsax.connector import KaseyaVsaxConnector
from vectis.vendors.kaseya_vsax.simulator import KaseyaVsaxSimulator
from vectis.vendors.ncentral import connector as ncentral
from vectis.vendors.ncentral.connector import NCentralConnector
from vectis.vendors.ncentral.simulator import NCentralSimulator
from vectis.vendors.registry import make_connector
from vectis.vendors.simkit import Fault

POLICY = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=1.0)

REASONS = {
    "datto_bcdr": "Datto BCDR REST surface is read-only.",
    "kaseya_vsax": "Kaseya VSA X notifications API documents only DELETE (destructive); "
                   "no acknowledge or close verb.",
    "ncentral": "N-central exposes no documented notification-update REST verb.",
}


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture(autouse=True)
def fresh_token_cache():
    ncentral._TOKENS.clear()
    yield
    ncentral._TOKENS.clear()


@pytest.mark.parametrize("vendor, cls", [("datto_bcdr", DattoBcdrConnector),
                                         ("kaseya_vsax", KaseyaVsaxConnector),
                                         ("ncentral", NCentralConnector)])
async def test_alert_verbs_are_unsupported_with_the_documented_reason(vendor, cls, http):
    conn = make_connector(vendor, "http://127.0.0.1:9", {}, http)
    assert type(conn) is cls and conn.verbs == frozenset()
    assert conn.missing == {"acknowledge_alert": REASONS[vendor], "resolve_alert": REASONS[vendor]}
    for verb in ("acknowledge_alert", "resolve_alert"):
        for step in (conn.plan(verb, AlertDraft("1")), conn.perform(verb, AlertDraft("1"))):
            with pytest.raises(VerbUnsupported) as err:
                await step
            assert err.value.reason == REASONS[vendor] and err.value.verb == verb
    assert http.calls == {}      # refused before any request


# --- Datto BCDR -------------------------------------------------------------------------------
def backup(status: str, when: int, error: str | None = None) -> dict:
    return backup_entry(status, datetime.fromtimestamp(when, UTC), error)


@pytest.fixture
async def datto():
    sim = DattoBcdrSimulator()
    sim.seed(
        devices=[{"serialNumber": f"A0B1C2D3E4F{i}", "name": f"Client {i} SIRIS", "hidden": i == 6,
                  "activeTickets": 0, "lastSeenDate": "2024-05-01T10:00:00+00:00",
                  "localStorageUsed": {"size": 100 + i, "units": "GB"}} for i in range(8)],
        assets={"A0B1C2D3E4F0": [
            {"name": "dc01", "volume": "4b65219643aa4bc78e359928ead7fab5", "type": "agent",
             "os": "Windows Server 2019", "isPaused": False, "isArchived": False,
             "lastSnapshot": 1_714_557_600, "latestOffsite": 1_714_550_000,
             "backups": [backup("failure", 1_714_557_600, "VSS writer failed"),
                         backup("success", 1_714_554_000)]},
            {"name": "files", "volume": "files", "type": "share", "isPaused": False,
             "isArchived": False, "lastSnapshot": 1_714_500_000, "backups": []},
        ]},
        alerts={"A0B1C2D3E4F0": [{"type": "Device Not Seen Alert", "threshold": 60 + i,
                                  "unit": "Minutes", "dateTriggered": f"2024-05-01T10:0{i}:00+00:00",
                                  "dateSent": None} for i in range(5)]},
    )
    await sim.start()
    yield sim
    await sim.stop()


def datto_conn(sim, http, **override) -> DattoBcdrConnector:
    return DattoBcdrConnector(sim.base_url + sim.root, {**sim.credentials, **override}, http)


async def test_datto_auth_good_and_bad(datto, http):
    device = await datto_conn(datto, http).get_device("A0B1C2D3E4F1")
    assert device["name"] == "Client 1 SIRIS"
    with pytest.raises(VendorError) as err:
        await datto_conn(datto, http, secret_key="nope").list_devices()
    assert err.value.status == 401 and err.value.retry_safe is True
    assert datto.count("GET", "/v1/bcdr/device") == 0


async def test_datto_devices_page_through_three_pages(datto, http):
    devices = await datto_conn(datto, http).list_devices(per_page=3, show_hidden=True)
    assert [d["serialNumber"][-1] for d in devices] == list("01234567")
    assert datto.count("GET", "/v1/bcdr/device") == 3
    visible = await datto_conn(datto, http).list_devices(per_page=3)
    assert len(visible) == 7 and all(not d["hidden"] for d in visible)


async def test_datto_backups_per_device_newest_first(datto, http):
    conn = datto_conn(datto, http)
    backups = await conn.list_backups(per_page=5)
    assert len(backups) == 7
    first = backups[0]
    assert first["device"]["serialNumber"] == "A0B1C2D3E4F0"
    agent = first["assets"][0]
    assert agent["backups"][0]["backup"] == {"status": "failure", "errorMessage": "VSS writer failed"}
    assert agent["backups"][0]["timestamp"] == "2024-05-01T10:00:00+00:00"
    alerts = await conn.list_device_alerts("A0B1C2D3E4F0", per_page=2)
    assert [a["threshold"] for a in alerts] == [60 + i for i in range(5)]
    assert datto.count("GET", "/v1/bcdr/device/{serial}/alert") == 3
    with pytest.raises(VendorError) as err:
        await conn.list_assets("UNKNOWN")
    assert err.value.status == 404


async def test_datto_429_with_retry_after_then_success(datto, http):
    datto.faults.add(Fault(kind="status", status=429, retry_after=0, method="GET"))
    devices = await datto_conn(datto, http).list_devices()
    assert len(devices) == 7
    assert datto.count("GET", "/v1/bcdr/device") == 1
    assert http.calls[("datto_bcdr", "429")] == 1 and http.calls[("datto_bcdr", "200")] == 1


# --- Kaseya VSA X -----------------------------------------------------------------------------
@pytest.fixture
async def vsax():
    sim = KaseyaVsaxSimulator()
    sim.seed(
        organizations=[{"Id": i, "Name": f"Org {i}"} for i in range(1, 4)],
        devices=[{"Identifier": f"dev-{i}", "Name": f"PC-{i}", "GroupName": "Org 1 - Main",
                  "SiteId": 1} for i in range(4)],
        assets=[{"Identifier": "dev-0", "Name": "PC-0", "IpAddresses": ["10.0.0.5"],
                 "LastSeenOnline": "2024-05-01T10:00:00Z", "FirewallEnabled": True}],
        notifications=[{"Id": 900 + i, "Title": f"CPU high {i}", "Message": "CPU > 90% for 10 min",
                        "Priority": "Critical", "DeviceIdentifier": "dev-1",
                        "CreatedAt": "2024-05-01T10:00:00Z"} for i in range(7)],
    )
    await sim.start()
    yield sim
    await sim.stop()


def vsax_conn(sim, http, **override) -> KaseyaVsaxConnector:
    return KaseyaVsaxConnector(sim.base_url + sim.root, {**sim.credentials, **override}, http)


async def test_vsax_auth_good_and_bad(vsax, http):
    assert [o["Name"] for o in await vsax_conn(vsax, http).list_organizations()] == \
        ["Org 1", "Org 2", "Org 3"]
    with pytest.raises(VendorError) as err:
        await vsax_conn(vsax, http, token_secret="nope").list_alerts()
    assert err.value.status == 401 and err.value.retry_safe is True


async def test_vsax_notifications_page_with_top_and_skip(vsax, http):
    conn = vsax_conn(vsax, http)
    alerts = await conn.list_alerts(page_size=3)
    assert [a["Id"] for a in alerts] == list(range(900, 907))
    assert vsax.count("GET", "/api/v3/notifications") == 3
    assert len(await conn.list_devices(page_size=2)) == 4
    assert (await conn.list_assets())[0]["IpAddresses"] == ["10.0.0.5"]
    assert (await conn.get_alert(903))["Title"] == "CPU high 3"
    with pytest.raises(VendorError) as err:
        await conn.get_alert(1)
    assert err.value.status == 404
    assert len(vsax.notifications) == 7      # reading never deletes


async def test_vsax_429_with_retry_after_then_success(vsax, http):
    vsax.faults.add(Fault(kind="status", status=429, retry_after=0, path=r"^/api/v3/notifications$"))
    assert len(await vsax_conn(vsax, http).list_alerts(page_size=10)) == 7
    assert vsax.count("GET", "/api/v3/notifications") == 1
    assert http.calls[("kaseya_vsax", "429")] == 1


# --- N-central --------------------------------------------------------------------------------
AUTH = "/api/auth/authenticate"
REFRESH = "/api/auth/refresh"


def ncentral_sim(**kwargs) -> NCentralSimulator:
    sim = NCentralSimulator(**kwargs)
    sim.seed(
        customers=[{"customerId": 100 + i, "customerName": f"Customer {i}"} for i in range(5)],
        sites=[{"siteId": 200, "siteName": "Branch", "parentId": 100}],
        devices=[{"deviceId": 1000 + i, "longName": f"WS-{i}", "customerId": 100 + i % 5,
                  "orgUnitId": 100 + i % 5} for i in range(7)],
        issues=[{"orgUnitId": 100, "deviceId": 1000, "serviceName": "Disk", "notificationState": 5},
                {"orgUnitId": 200, "deviceId": 1005, "serviceName": "Backup", "notificationState": 5},
                {"orgUnitId": 101, "deviceId": 1001, "serviceName": "CPU", "notificationState": 4}],
    )
    return sim


@pytest.fixture
async def nc():
    sim = ncentral_sim()
    await sim.start()
    yield sim
    await sim.stop()


def nc_conn(sim, http, **override) -> NCentralConnector:
    return NCentralConnector(sim.base_url, {**sim.credentials, **override}, http)


async def test_ncentral_auth_good_and_bad(nc, http):
    customers = await nc_conn(nc, http).list_customers()
    assert [c["customerName"] for c in customers][:2] == ["Customer 0", "Customer 1"]
    assert nc.count("POST", AUTH) == 1
    with pytest.raises(VendorError) as err:
        await nc_conn(nc, http, user_api_token="eyJwrong").list_customers()
    assert err.value.status == 401 and err.value.retry_safe is True
    assert nc.count("GET", "/api/customers") == 1


async def test_ncentral_devices_page_through_three_pages(nc, http):
    devices = await nc_conn(nc, http).list_devices(page_size=3)
    assert [d["deviceId"] for d in devices] == list(range(1000, 1007))
    assert nc.count("GET", "/api/devices") == 3
    assert nc.count("POST", AUTH) == 1        # one exchange serves every page


async def test_ncentral_active_issues_cover_the_org_unit_subtree(nc, http):
    conn = nc_conn(nc, http)
    assert {i["deviceId"] for i in await conn.list_alerts(nc.so_id, page_size=1)} == {1000, 1005, 1001}
    assert nc.count("GET", "/api/org-units/{id}/active-issues") == 3
    assert {i["deviceId"] for i in await conn.list_alerts(100)} == {1000, 1005}
    with pytest.raises(VendorError) as err:
        await conn.list_alerts(999)
    assert err.value.status == 404


async def test_ncentral_revoked_access_token_is_renewed_by_refresh(nc, http):
    conn = nc_conn(nc, http)
    await conn.list_customers()
    nc.expire_access_tokens()
    await conn.list_customers()
    assert nc.count("POST", AUTH) == 1 and nc.count("POST", REFRESH) == 1
    assert nc.count("GET", "/api/customers") == 2


async def test_ncentral_refused_refresh_falls_back_to_authenticate(nc, http):
    conn = nc_conn(nc, http)
    await conn.list_customers()
    nc.invalidate_tokens()
    await conn.list_customers()
    assert nc.count("POST", REFRESH) == 1 and nc.count("POST", AUTH) == 2


async def test_ncentral_access_near_expiry_is_refreshed_before_use(http):
    sim = ncentral_sim(access_ttl=30)        # inside the renewal margin from the start
    await sim.start()
    try:
        conn = nc_conn(sim, http)
        await conn.list_customers()
        await conn.list_customers()
        assert sim.count("POST", AUTH) == 1 and sim.count("POST", REFRESH) == 1
    finally:
        await sim.stop()


async def test_ncentral_429_with_retry_after_then_success(nc, http):
    nc.faults.add(Fault(kind="status", status=429, retry_after=0, method="GET", path=r"^/api/devices$"))
    assert len(await nc_conn(nc, http).list_devices()) == 7
    assert nc.count("GET", "/api/devices") == 1
    assert http.calls[("ncentral", "429")] == 1
