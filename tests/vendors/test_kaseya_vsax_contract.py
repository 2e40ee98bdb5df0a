"""Kaseya VSA X against what is public about its API (vectis/vendors/kaseya_vsax/contract.json:
paths, auth, `$top`/`$skip` and the `{Data, Meta}` envelope; item fields unverified): every read
the connector and the sync make, the contract's bite, and the tolerant mapping the findings ask
for (kind from the OS text, address objects, AssetInfo inventory, organization by name)."""
from __future__ import annotations

import pytest

from vectis.simulators.fleet import ROOT_PATH
from vectis.vendors import simkit
from vectis.vendors.base import VERBS, AlertDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.kaseya_vsax.connector import KaseyaVsaxConnector
from vectis.vendors.kaseya_vsax.reader import device_kind, device_record
from vectis.vendors.kaseya_vsax.simulator import ROOT, KaseyaVsaxSimulator

from ..support.vendor_contracts import VENDORS_DIR, contract


@pytest.fixture
async def http():
    client = VendorHttp(policy=RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0))
    yield client
    await client.close()


@pytest.fixture
async def sim():
    sim = KaseyaVsaxSimulator()
    sim.seed(
        organizations=[{"Id": 1, "Name": "Acme"}, {"Id": 2, "Name": "Beta"}],
        devices=[{"Identifier": "d1", "Name": "DC01", "GroupName": "Acme - HQ", "SiteName": "HQ",
                  "OrganizationId": 1, "OrganizationName": "Acme", "IsOnline": True},
                 {"Identifier": "d2", "Name": "LT-7", "GroupName": "Laptops",
                  "OrganizationName": "Beta"}],
        assets=[{"Identifier": "d1", "Name": "DC01", "Description": "Windows Server 2022 Standard",
                 "IpAddresses": ["10.0.0.5"], "LastSeenOnline": "2024-05-01T10:00:00Z",
                 "System": {"Manufacturer": "Dell Inc.", "Model": "PowerEdge R650",
                            "SerialNumber": "7XK2LM3"}},
                {"Identifier": "d2", "Name": "LT-7", "Description": "Windows 11 Pro (24H2)",
                 "IpAddresses": [{"Name": "Wi-Fi", "MAC": "00:11:22:33:44:55",
                                  "IPs": [{"IP": "fe80::1", "V6": True}, {"IP": "192.168.1.20", "V6": False}]}],
                 "AssetInfo": [{"CategoryName": "Operating System",
                                "CategoryData": {"Name": "Windows 11 Pro", "Version": "24H2"}},
                               {"CategoryName": "System",
                                "CategoryData": {"Manufacturer": "Lenovo", "SerialNumber": "PF3ABC"}}]}],
        notifications=[{"Id": 900, "Title": "CPU high", "Message": "CPU > 90%", "Priority": "Critical",
                        "DeviceIdentifier": "d1", "OrganizationId": 1, "CreatedAt": "2024-05-01T10:00:00Z"}])
    await sim.start()
    yield sim
    await sim.stop()


def conn(sim, http, **override) -> KaseyaVsaxConnector:
    return KaseyaVsaxConnector(sim.base_url + ROOT, {**sim.credentials, **override}, http)


async def read_all(connector, entity):
    return {r.external_id: r for page in [p async for p in connector.read(entity, None)] for r in page}


async def test_every_read_and_entity_against_the_simulator(sim, http, exchanges):
    connector = conn(sim, http)
    assert ROOT_PATH["kaseya_vsax"] == ROOT == "/api/v3"
    assert [o["Name"] for o in await connector.list_organizations()] == ["Acme", "Beta"]
    assert len(await connector.list_devices()) == len(await connector.list_assets()) == 2
    assert [n["Id"] for n in await connector.list_alerts()] == [900]
    assert (await connector.get_alert(900))["Title"] == "CPU high"
    for entity in connector.SYNC_ENTITIES:
        assert await read_all(connector, entity)
    for verb in VERBS:
        assert connector.effects[verb]
        with pytest.raises(VerbUnsupported):
            await connector.plan(verb, AlertDraft("900"))
    vsax = contract("kaseya_vsax")
    assert {vsax.operation(e.method, e.path).name for e in exchanges} == \
        {"list_organizations", "list_devices", "list_assets", "list_notifications", "get_notification"}
    assert all(not vsax.check(e) for e in exchanges)
    assert len(sim.notifications) == 1                      # the destructive DELETE is never sent


def test_no_published_examples_and_every_operation_unverified():
    examples = VENDORS_DIR / "kaseya_vsax" / "examples"
    assert [p.name for p in examples.iterdir()] == ["SOURCES.md"]
    ops = contract("kaseya_vsax").doc["operations"]
    assert all(op["verified"] is False and op["evidence"].startswith("unverified") for op in ops.values())


def test_the_contract_bites():
    vsax = contract("kaseya_vsax")
    page = vsax.validator(vsax.doc["operations"]["list_assets"]["responses"]["200"]["body"])
    assert list(page.iter_errors({"Data": [{"Identifier": "d1"}], "Meta": {"TotalCount": 1}})) == []
    assert list(page.iter_errors([{"Identifier": "d1"}]))                  # no envelope
    assert list(page.iter_errors({"Data": [{"Identifier": "d1", "IpAddresses": [7]}], "Meta": {}}))
    query = vsax.validator(vsax.doc["operations"]["list_devices"]["query"])
    assert list(query.iter_errors({"top": "100", "skip": "0"}))            # without the `$`


async def test_mapping_reads_os_text_address_objects_asset_info_and_org_names(sim, http):
    assets = await read_all(conn(sim, http), "assets")
    dc, laptop = assets["d1"], assets["d2"]
    assert dc.fields["kind"] == "server" and dc.fields["ip_address"] == "10.0.0.5"
    assert dc.fields["site"] == {"name": "HQ"} and dc.links == {"customer": "1"}
    assert dc.fields["hardware"]["serial_number"] == "7XK2LM3"
    assert dc.fields["os"] == {"name": "Windows Server 2022 Standard"}
    assert laptop.fields["kind"] == "workstation" and laptop.fields["ip_address"] == "192.168.1.20"
    assert laptop.fields["os"] == {"name": "Windows 11 Pro", "version": "24H2"}
    assert laptop.fields["hardware"] == {"manufacturer": "Lenovo", "serial_number": "PF3ABC"}
    assert laptop.links == {} and laptop.link_names == {"customer": "Beta"}
    assert "site" not in laptop.fields                      # a plain group name is no site


@pytest.mark.parametrize("text, kind", [
    ("Windows Server 2019 Standard", "server"), ("Ubuntu 22.04 LTS", "server"),
    ("Windows 10 Pro", "workstation"), ("macOS Sonoma", "workstation"), ("FortiOS", "network"),
    ("UniFi OS", "network"), ("Printer firmware", "printer"), ("iOS", "mobile"),
    ("Android", "mobile"), ("", None), ("laptop", "laptop")])
def test_kind_from_the_os_text(text, kind):
    assert device_kind({}, {"Description": text}) == kind


def test_a_device_without_inventory_keeps_what_it_has():
    record = device_record({"Identifier": "x", "Name": "PC", "IsOnline": False}, {})
    assert record.fields["name"] == "PC" and "kind" not in record.fields


async def test_errors_carry_vsax_hints(sim, http):
    with pytest.raises(VendorError) as err:
        await conn(sim, http, token_secret="wrong").list_alerts()
    assert err.value.status == 401 and "API Tokens" in err.value.hint
    assert "admin connect-source t s --credentials-stdin" in err.value.describe("t", "s")


@pytest.mark.off_contract("VSA X answering 200 without its list envelope")
async def test_a_200_without_data_is_an_error_not_an_empty_snapshot(sim, http):
    sim.faults.add(simkit.Fault(kind="status", status=200, path=r"/notifications$"))
    with pytest.raises(VendorError) as err:
        await read_all(conn(sim, http), "alerts")
    assert err.value.status == 200
