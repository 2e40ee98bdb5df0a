"""Atera against its published API (vectis/vendors/atera/contract.json): every verb and read held to
the contract, the published examples replayed through the reader, the contract refusing the old
shapes (an integer ActionID, invoices with a customer id, ASP.NET `Message` errors, e-mail-only
technicians), and the fixes they forced: a create answered without a usable ActionID finds its
ticket, the close status, ticket type, technician and auth scheme as settings, alerts read by
alertStatus, contacts by `Email` 50 a page."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from vectis.vendors.atera import connector as atera
from vectis.vendors.atera.connector import Atera
from vectis.vendors.atera.simulator import ROOT, AteraSimulator
from vectis.vendors.base import AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp

from ..support.example_server import serving
from ..support.vendor_contracts import VENDORS_DIR, contract

EXAMPLES = VENDORS_DIR / "atera" / "examples"
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=3.0)
CUSTOMERS = [{"CustomerID": 7, "CustomerName": "Acme Dental", "Domain": "acme.example"},
             {"CustomerID": 8, "CustomerName": "Birch Law", "Domain": "birch.example"}]
CONTACTS = [{"EndUserID": 41, "CustomerID": 7, "Firstname": "Jane", "Lastname": "Doe",
             "Email": "jane@acme.example"},
            {"EndUserID": 50, "CustomerID": 8, "Firstname": "Bo", "Lastname": "Birch",
             "Email": "bo@birch.example"}]
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZW5hbnQifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture
async def sim():
    simulator = AteraSimulator()
    simulator.seed(
        customers=CUSTOMERS, contacts=CONTACTS,
        tickets=[{"TicketID": 3001, "TicketTitle": "Printer jam", "CustomerID": 7, "EndUserID": 41}],
        alerts=[{"AlertID": 90, "Title": "Disk 95%", "Severity": "Warning", "CustomerID": 7},
                {"AlertID": 91, "Title": "CPU", "Severity": "Critical", "CustomerID": 7,
                 "SnoozedEndDate": "2099-01-01T00:00:00Z"},
                {"AlertID": 92, "Title": "Old", "Severity": "Information", "CustomerID": 7,
                 "Archived": True, "ArchivedDate": "2026-01-01T00:00:00Z"}],
        agents=[{"AgentID": 1, "CustomerID": 7, "MachineName": "PC-1", "OSType": "Work Station"}],
        contracts=[{"ContractID": 5, "CustomerID": 7, "ContractName": "MSP", "Active": True,
                    "ContractType": "BlockHours"}],
        invoices=[{"InvoiceNumber": 123, "Total": 200.0, "To": {"CompanyName": "Acme Dental"}}])
    await simulator.start()
    yield simulator
    await simulator.stop()


def conn(sim, http, settings=None, **override) -> Atera:
    return Atera(sim.base_url + ROOT, {**sim.credentials, **override}, http, settings)


def draft(**kw) -> TicketDraft:
    return TicketDraft(**{"company_ref": "7", "subject": "VPN down", "description": "Since 9am",
                          "priority": "high", "contact_ref": "41", **kw})


async def read_all(connector, entity, since=None):
    return {r.external_id: r for page in [p async for p in connector.read(entity, since)] for r in page}


# --- every verb and entity, held to the contract by the autouse check -------------------------------
async def test_every_verb_and_entity_against_the_simulator(sim, http, exchanges):
    connector = conn(sim, http)
    assert set(connector.effects) == set(connector.verbs)
    created = await connector.perform("create_ticket", draft())
    await connector.perform("create_ticket", draft(contact_ref=None,
                                                   requester={"name": "Kim", "email": "kim@acme.example"}))
    await connector.perform("add_note", NoteDraft(created.external_id, "Rebooted", internal=True))
    await connector.perform("close_ticket", CloseDraft(created.external_id, resolution="Fixed"))
    for entity in connector.SYNC_ENTITIES:
        assert await read_all(connector, entity)
    assert await read_all(connector, "tickets", datetime.now(UTC) - timedelta(hours=1))
    for verb in ("acknowledge_alert", "resolve_alert"):
        with pytest.raises(VerbUnsupported):
            await connector.plan(verb, AlertDraft("90"))
    atera_contract = contract("atera")
    seen = {atera_contract.operation(e.method, e.path).name for e in exchanges}
    assert seen == set(atera_contract.doc["operations"])
    assert all(not atera_contract.check(e) for e in exchanges)


# --- published examples ------------------------------------------------------------------------------
def test_the_nonconforming_published_examples_are_refused():
    """The conforming examples are checked with every vendor's (test_contract_check.py)."""
    atera_contract = contract("atera")
    # The swagger's generator printed enums as numbers: kept apart, and the contract refuses them.
    odd = {"get_ticket.200.json": {"$ref": "#/defs/Ticket"}, "item.Alert.json": {"$ref": "#/defs/Alert"},
           "item.Contract.json": {"$ref": "#/defs/Contract"}}
    for name, schema in odd.items():
        assert list(atera_contract.validator(schema).iter_errors(
            json.loads((EXAMPLES / "_nonconforming" / name).read_text()))), name
    sources = (EXAMPLES / "SOURCES.md").read_text()
    assert all(name in sources for name in odd)


def page(*items) -> dict:
    """The list envelope both specs give (the wrapper is ours; the items are published)."""
    return {"items": list(items), "totalItemCount": len(items), "page": 1, "itemsInPage": 50,
            "totalPages": 1 if items else 0, "prevLink": "", "nextLink": ""}


@pytest.fixture
async def replay():
    """Published examples served at Atera's paths, each list item in a page envelope; alerts
    answer the newer spec's empty page (`items: null`)."""
    def item(name):
        async def handler(request):
            return web.json_response(page(json.loads((EXAMPLES / name).read_text())))
        return handler

    async def no_alerts(request):
        return web.json_response({**page(), "items": None})

    async with serving("atera", EXAMPLES, [
            ("GET", ROOT + "/agents", item("item.Agent.json")),
            ("GET", ROOT + "/contacts", item("item.Contact.json")),
            ("GET", ROOT + "/customers", item("item.Customer.json")),
            ("GET", ROOT + "/billing/invoices", item("item.Invoice.json")),
            ("GET", ROOT + "/alerts", no_alerts),
            ("PUT", ROOT + "/tickets/{id}", "update_ticket.200")]) as origin:
        yield origin + ROOT


async def test_published_examples_read_back_as_vectis_stores_them(replay, http):
    connector = Atera(replay, {"api_key": "k", "technician_id": "1"}, http)
    agent = (await read_all(connector, "assets"))["12"]
    assert agent.fields == {"name": "WINDOWS10", "status": "online",
                            "last_seen_at": datetime(2026, 3, 23, 23, 10, 36, 574783, tzinfo=UTC),
                            "hardware": {"cpu": "Intel(R) Celeron(R) M processor 1.60GHz", "ram_gb": 0.5},
                            "os": {"name": "Microsoft Windows 10", "version": "1803", "build": "17134.165"},
                            "ip_address": "10.0.0.1"}
    assert agent.links == {"customer": "1"} and agent.link_names == {"customer": "Default Customer"}
    contact = (await read_all(connector, "contacts"))["54"]
    assert contact.fields == {"name": "John Smith", "email": "support@customer.com",
                              "phone": "3-656-1213", "title": "CTO", "is_primary": True}
    assert contact.links == {"customer": "12"} and contact.deleted is False
    customer = (await read_all(connector, "customers"))["1"]
    assert customer.fields["name"] == "Example Customer"
    assert customer.fields["address"]["postal_code"] == "5000CR"
    invoice = (await read_all(connector, "invoices"))["123"]
    # "$" is no currency code; the billed company is named, never numbered.
    assert invoice.fields == {"number": "00000123", "total": 200.0,
                              "issued_at": datetime(2026, 3, 23, 23, 10, 36, 590410, tzinfo=UTC),
                              "lines": [{"description": "Example Description", "quantity": 1.0,
                                         "unit_price": 200.0, "amount": 200.0}]}
    assert invoice.links == {} and invoice.link_names == {"customer": "Example To Customer"}
    assert await read_all(connector, "alerts") == {}        # `items: null` is an empty page
    closed = await connector.perform("close_ticket", CloseDraft("5"))
    assert closed.status == "closed" and closed.vendor_status == 200


# --- the contract bites ------------------------------------------------------------------------------
def test_the_old_shapes_fail_the_contract():
    atera_contract = contract("atera")
    ops = atera_contract.doc["operations"]

    def errors(schema, value):
        return [e.message for e in atera_contract.validator(schema).iter_errors(value)]

    assert errors(ops["create_ticket"]["responses"]["201"]["body"], {"ActionID": 5001})
    assert not errors(ops["create_ticket"]["responses"]["201"]["body"], {"ActionID": "5001"})
    assert not errors(ops["create_ticket"]["responses"]["201"]["body"], {"ActionID": None})
    assert any("'CustomerID'" in m and "unexpected" in m for m in errors(
        {"$ref": "#/defs/Invoice"}, {"InvoiceNumber": 1, "CustomerID": 7, "CustomerName": "Acme"}))
    assert errors(atera_contract.doc["errors"]["404"]["body"],
                  {"Message": "Ticket 9 was not found."})
    assert any("'TechnicianId' is a required property" in m for m in errors(
        ops["add_ticket_comment"]["body"],
        {"CommentText": "x", "TechnicianCommentDetails": {"IsInternal": True,
                                                          "TechnicianEmail": "t@x"}}))
    assert errors({"$ref": "#/defs/Contract"}, {"ContractID": 1, "ContractType": "Block"})
    assert errors(ops["list_alerts"]["query"], {"alertStatus": "Archived"})


# --- behaviour of the fixes ----------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["null", "empty"])
async def test_a_create_answered_without_actionid_finds_its_ticket(sim, http, answer):
    sim.create_answer = answer
    result = await conn(sim, http).perform("create_ticket", draft())
    ticket = sim.tickets[int(result.external_id)]
    assert ticket["TicketTitle"] == "VPN down" and result.vendor_status == 201
    assert result.number == ticket["TicketNumber"] and len(sim.tickets) == 2


async def test_an_actionid_that_is_not_our_ticket_is_not_trusted(sim, http):
    sim.create_answer = "action"                      # ActionID "1": no ticket of ours
    result = await conn(sim, http).perform("create_ticket", draft())
    assert sim.tickets[int(result.external_id)]["TicketTitle"] == "VPN down"
    assert result.external_id != "1" and len(sim.tickets) == 2
    sim.create_answer = "result"
    await conn(sim, http).perform("create_ticket", draft(subject="Second"))
    sim.create_answer = "action"                      # ActionID "2"... still not ours
    third = await conn(sim, http).perform("create_ticket", draft(subject="Third"))
    assert sim.tickets[int(third.external_id)]["TicketTitle"] == "Third"


async def test_a_create_that_cannot_be_found_fails_without_inviting_a_duplicate(sim, http):
    sim.create_answer = "empty"
    # The end user belongs to another customer: Atera files the ticket there, so nothing of
    # customer 7 carries our title.
    with pytest.raises(VendorError) as err:
        await conn(sim, http).perform("create_ticket", draft(contact_ref="50"))
    assert err.value.retry_safe is False and "look for the ticket in Atera" in err.value.describe()


async def test_settings_change_the_requests(sim, http):
    connector = conn(sim, http, settings={"close_status": "Resolved", "ticket_type": "Request"})
    (create,) = await connector.plan("create_ticket", draft())
    assert create.body["TicketType"] == "Request"
    calls = await connector.plan("close_ticket", CloseDraft("3001"))
    assert [c.view() for c in calls] == [{"method": "PUT", "path": "/tickets/3001",
                                          "body": {"TicketStatus": "Resolved"}}]
    result = await connector.perform("close_ticket", CloseDraft("3001"))
    assert sim.tickets[3001]["TicketStatus"] == "Resolved" and result.status == "closed"
    with pytest.raises(ValueError):
        conn(sim, http, settings={"closing": "x"})


async def test_a_jwt_key_is_sent_as_bearer(sim, http, exchanges):
    sim.credentials["api_key"] = JWT
    await conn(sim, http).perform("add_note", NoteDraft("3001", "via JWT", internal=False))
    assert exchanges[-1].headers["authorization"] == f"Bearer {JWT}"
    assert "x-api-key" not in exchanges[-1].headers
    legacy = conn(sim, http, settings={"auth_scheme": "key"})
    assert await legacy.auth_headers() == {"X-API-KEY": JWT, "Accept": "application/json"}
    assert "Authorization" in await conn(sim, http, api_key="k" * 120).auth_headers()
    assert "X-API-KEY" in await conn(sim, http, api_key="0123abcd" * 4).auth_headers()


async def test_contact_search_uses_email_and_new_end_users_get_a_last_name(sim, http):
    connector = conn(sim, http)
    (call,) = await connector.plan("create_ticket", draft(contact_ref=None,
                                                          requester={"name": "Kim", "email": "kim@acme.example"}))
    assert call.body["EndUserFirstName"] == call.body["EndUserLastName"] == "Kim"
    searches = [r["params"] for r in sim.log if r["path"].endswith("/contacts")]
    assert searches[-1] == {"Email": "kim@acme.example", "page": "1", "itemsInPage": "50"}


async def test_alerts_are_read_open_then_snoozed(sim, http):
    alerts = await read_all(conn(sim, http), "alerts")
    assert set(alerts) == {"90", "91"}                # the archived one is not read
    assert alerts["90"].fields["status"] == "open" and alerts["91"].fields["status"] == "acknowledged"
    assert [r["params"]["alertStatus"] for r in sim.log if r["path"].endswith("/alerts")] == \
        ["Open", "Snoozed"]


def test_a_ticket_number_of_zero_is_no_number():
    result = atera._ticket_result({"TicketID": 77, "TicketNumber": "0", "TicketStatus": "Open"})
    assert result.number == "77" and result.external_id == "77"


async def test_refusals_are_problem_details(sim, http):
    with pytest.raises(VendorError) as err:
        await conn(sim, http).perform("add_note", NoteDraft("999", "x", internal=True))
    assert err.value.status == 404 and "Ticket 999 was not found." in str(err.value)
