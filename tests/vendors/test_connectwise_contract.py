"""ConnectWise Manage against its contract (vectis/vendors/connectwise/contract.json, written from
CW's published API): every verb and every read crosses the wire to the simulator and is held to
the contract by the autouse check; the published examples validate and replay through the real
connector and reader; the contract refuses the shapes we used to get wrong; and the per-source
choices (board, closing status) behave as a real tenant needs."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.example_server import ExampleServer
from tests.support.vendor_contracts import contract
from vectis.vendors.base import CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.connectwise.connector import ConnectWiseConnector, discover_base_url
from vectis.vendors.connectwise.reader import agreement_record
from vectis.vendors.connectwise.simulator import ROOT, ConnectWiseSimulator
from vectis.vendors.errors import VendorError
from vectis.vendors.http import RetryPolicy, VendorHttp

EXAMPLES = Path(__file__).resolve().parents[2] / "vectis" / "vendors" / "connectwise" / "examples"
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=2.0)
ACME, CONTACT = 250, 77


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture
async def sim():
    simulator = ConnectWiseSimulator()
    simulator.seed(
        companies=[{"id": ACME, "identifier": "Acme", "name": "Acme Corp", "deletedFlag": False,
                    "status": {"id": 1, "name": "Active"}, "types": [{"id": 1, "name": "Client"}]}],
        contacts=[{"id": CONTACT, "firstName": "Dana", "lastName": "Reyes",
                   "company": {"id": ACME, "identifier": "Acme", "name": "Acme Corp"},
                   "communicationItems": [{"type": {"id": 1, "name": "Email"},
                                           "communicationType": "Email",
                                           "value": "dana@acme.test", "defaultFlag": True}]}],
        agreements=[{"id": 3, "name": "Managed Services", "company": {"id": ACME},
                     "type": {"id": 1, "name": "Managed Services"}, "agreementStatus": "Active",
                     "billAmount": 1200, "billingCycle": {"id": 1, "name": "Monthly"}}],
        invoices=[{"id": 4, "invoiceNumber": "INV-1001", "company": {"id": ACME},
                   "status": {"id": 2, "name": "Sent"}, "total": 100.0, "balance": 100.0,
                   "currency": {"id": 1, "currencyCode": "USD"}}])
    await simulator.start()
    yield simulator
    await simulator.stop()


def connector(sim, http, **settings) -> ConnectWiseConnector:
    return ConnectWiseConnector(sim.base_url + ROOT, sim.credentials, http, settings or None)


def draft(subject: str = "Printer on fire") -> TicketDraft:
    return TicketDraft(company_ref=str(ACME), subject=subject, description="Smoke from tray 2.",
                       priority="high", contact_ref=str(CONTACT))


# --- every verb and every entity, held to the contract ------------------------------------------
async def test_every_verb_and_entity_crosses_the_wire_within_the_contract(sim, http, exchanges):
    base = await discover_base_url(http, sim.base_url, sim.credentials["company_id"])
    assert base == sim.base_url + ROOT
    cw = ConnectWiseConnector(base, sim.credentials, http)
    since = datetime.now(UTC)
    ticket = await cw.perform("create_ticket", draft())
    for internal in (True, False):
        await cw.perform("add_note", NoteDraft(ticket.external_id, f"note {internal}", internal))
    assert (await cw.recover("create_ticket", draft(), since)).external_id == ticket.external_id
    assert await cw.recover("add_note", NoteDraft(ticket.external_id, "note True", True), since)
    closed = await cw.perform("close_ticket", CloseDraft(ticket.external_id, "Fuser replaced."))
    assert closed.status == "closed"
    for entity in ConnectWiseConnector.SYNC_ENTITIES:
        for when in (None, since):
            async for page in cw.read(entity, when):
                assert page
    book = contract("connectwise")
    used = {op.name for e in exchanges if (op := book.operation(e.method, e.path))}
    assert used == set(book.doc["operations"])          # every operation the contract lists
    assert all(e.headers["user-agent"].startswith("Vectis-MCP/") for e in exchanges)


# --- published examples ---------------------------------------------------------------------------
CODEBASE = "v2017_3"


@pytest.fixture
async def examples_server():
    root = f"/{CODEBASE}/apis/3.0"
    server = ExampleServer("connectwise", EXAMPLES, [
        ("GET", "/login/companyinfo/{company}", "companyinfo.200"),
        ("GET", root + "/service/priorities", "list_priorities.200"),
        ("GET", root + "/service/boards/{id}/statuses", "list_board_statuses.200"),
        ("GET", root + "/finance/agreements", "list_agreements.200")])
    await server.start()
    yield server
    await server.stop()


async def test_examples_replay_through_the_connector_and_reader(examples_server, http):
    base = await discover_base_url(http, examples_server.base_url, "CW")
    assert base == f"{examples_server.base_url}/v2017_3/apis/3.0"      # Codebase "v2017_3/"
    creds = {"company_id": "CW", "public_key": "p", "private_key": "k", "client_id": "c"}
    cw = ConnectWiseConnector(base, creds, http)
    # One priority carries only id and name: matching is by name.
    assert [await cw.priority_id(p) for p in ("critical", "high", "medium")] == [None, 5, 4]
    # The recorded board marks "In Progress" closed and has no "Closed": the only closed status
    # is what a close uses (it sets closedFlag at CW).
    statuses = await cw._all("/service/boards/1/statuses")
    assert cw._closing_status(1, statuses)["name"] == "In Progress"
    [record] = [r async for page in cw.read("contracts", None) for r in page]
    assert record.external_id == "1" and record.links == {"customer": "2"}
    assert (record.fields["name"], record.fields["kind"], record.fields["status"]) == (
        "Gold Rate", "block_hours", "active")
    assert record.fields["monthly_value"] == 10000.0


# --- the contract bites ---------------------------------------------------------------------------
def test_the_contract_refuses_old_and_invented_shapes():
    book = contract("connectwise")
    statuses = book.doc["operations"]["list_board_statuses"]["responses"]["200"]["body"]
    assert book._errors(statuses, [{"id": 15, "name": "Closed", "closedStatus": True}], "b") == []
    # escalationStatus is an enum; "type" (HaloPSA's idea of a status) is no CW field.
    assert book._errors(statuses, [{"id": 15, "name": "Closed", "escalationStatus": "Done"}], "b")
    assert book._errors(statuses, [{"id": 15, "name": "Closed", "type": "closed"}], "b")
    # References always carry their id: the seed once sent {"name": "Active"}.
    companies = book.doc["operations"]["list_companies"]["responses"]["200"]["body"]
    assert book._errors(companies, [{"id": 1, "name": "A", "status": {"name": "Active"}}], "b")
    # Old-version fields (locationId on boards) are not in the current model.
    boards = book.doc["operations"]["list_boards"]["responses"]["200"]["body"]
    assert book._errors(boards, [{"id": 1, "name": "Help Desk", "locationId": 2}], "b")
    # The error body is {code, message, errors[]}; the generic {"message"} alone is not CW's.
    error = book.doc["errors"]["401"]["body"]
    assert book._errors(error, {"message": "simulated 401"}, "b")
    assert book._errors(error, {"code": "Unauthorized", "message": "no"}, "b") == []
    # A ticket create carries no invented fields.
    create = book.doc["operations"]["create_ticket"]["body"]
    assert book._errors(create, {"summary": "s", "company": {"id": 1}, "queue": 3}, "b")


# --- behaviour: board, closing status, error shapes and hints ------------------------------------
async def test_default_board_skips_project_boards(sim, http):
    [call] = await connector(sim, http).plan("create_ticket", draft())
    assert sim.boards[1]["projectFlag"] and call.body["board"] == {"id": 2}
    [call] = await connector(sim, http, board_id=1).plan("create_ticket", draft())
    assert call.body["board"] == {"id": 1}             # an explicit choice is honoured


async def test_no_service_board_is_a_hint_to_set_board_id(sim, http):
    sim.boards[2]["inactiveFlag"] = True
    with pytest.raises(VendorError) as caught:
        await connector(sim, http).plan("create_ticket", draft())
    assert "--setting board_id=" in caught.value.describe("acme", "cw-1")
    assert "admin connect-source acme cw-1" in caught.value.describe("acme", "cw-1")


async def test_close_never_picks_the_lower_id_cancelled_status(sim, http):
    cw = connector(sim, http)
    statuses = {s["name"]: s["id"] for s in sim.statuses[2]}
    assert statuses["Cancelled"] < statuses["Closed"]
    ticket = await cw.perform("create_ticket", draft())
    await cw.perform("close_ticket", CloseDraft(ticket.external_id))
    stored = sim.tickets[int(ticket.external_id)]
    assert stored["status"]["name"] == "Closed" and stored["closedFlag"] is True


@pytest.mark.parametrize("chosen", ["Cancelled", "cancelled", "10"])
async def test_closed_status_setting_by_name_or_id(sim, http, chosen):
    cw = connector(sim, http, closed_status=chosen)
    ticket = await cw.perform("create_ticket", draft())
    plan = await cw.plan("close_ticket", CloseDraft(ticket.external_id))
    assert plan[-1].body == [{"op": "replace", "path": "status/id", "value": 10}]


@pytest.mark.parametrize(("statuses", "expected"), [
    ([("Cancelled", 1, None), ("Completed", 2, None), ("Resolved", 3, None)], "Resolved"),
    ([("Void", 1, None), ("Done", 2, "Resolved"), ("Archived", 3, None)], "Done"),
    ([("Cancelled", 1, None), ("Finished", 2, None)], "Finished"),
])
async def test_default_closing_status_by_meaning(sim, http, statuses, expected):
    sim.seed(statuses={2: [{"id": 11, "name": "New", "defaultFlag": True}] + [
        {"id": 20 + n, "name": name, "closedStatus": True, "escalationStatus": escalation}
        for n, (name, _, escalation) in enumerate(statuses)]})
    cw = connector(sim, http)
    ticket = await cw.perform("create_ticket", draft())
    await cw.perform("close_ticket", CloseDraft(ticket.external_id))
    assert sim.tickets[int(ticket.external_id)]["status"]["name"] == expected


async def test_only_cancel_like_closed_statuses_fail_with_the_list_and_command(sim, http):
    sim.seed(statuses={2: [{"id": 11, "name": "New", "defaultFlag": True},
                           {"id": 21, "name": "Cancelled", "closedStatus": True},
                           {"id": 22, "name": "Voided", "closedStatus": True}]})
    cw = connector(sim, http)
    ticket = await cw.perform("create_ticket", draft())
    with pytest.raises(VendorError) as caught:
        await cw.perform("close_ticket", CloseDraft(ticket.external_id))
    text = caught.value.describe("acme", "cw-1")
    assert "'Cancelled' (id 21)" in text and "'Voided' (id 22)" in text
    assert ("python server.py admin connect-source acme cw-1 --setting closed_status=<name or id>"
            in text)
    assert caught.value.retry_safe and sim.tickets[int(ticket.external_id)]["closedFlag"] is False


async def test_a_closed_status_setting_the_board_lacks_fails_with_the_list(sim, http):
    cw = connector(sim, http, closed_status="Resolved")
    ticket = await cw.perform("create_ticket", draft())
    with pytest.raises(VendorError) as caught:
        await cw.plan("close_ticket", CloseDraft(ticket.external_id))
    assert "'Resolved'" in str(caught.value)
    assert "'Closed' (id 15)" in caught.value.hint and "'Closed (old)'" not in caught.value.hint


async def test_refused_fields_are_named_with_the_next_step(sim, http):
    with pytest.raises(VendorError) as caught:
        await connector(sim, http, board_id=99).perform("create_ticket", draft())
    error = caught.value
    assert error.status == 400 and "board: Board not found." in str(error)
    assert "--setting board_id=" in error.hint and sim.tickets == {}


@pytest.mark.parametrize("status", [401, 403, 404, 429, 500, 503])
async def test_faults_answer_in_cws_error_shape(sim, http, status):
    sim.faults.add(kind="status", status=status, count=None, path="/service/priorities")
    answer = await http.request("connectwise", "GET", sim.base_url + ROOT + "/service/priorities",
                                idempotent=True, accept=(status,),
                                headers=await connector(sim, http).auth_headers())
    assert answer.status == status and set(answer.body) == {"code", "message"}


def test_effects_and_settings_are_declared():
    assert set(ConnectWiseConnector.effects) == set(ConnectWiseConnector.verbs)
    assert {s.name for s in ConnectWiseConnector.settings} == {"board_id", "closed_status"}
    assert agreement_record({"id": 1, "agreementStatus": "Cancelled"}).fields["status"] == \
        "cancelled"
