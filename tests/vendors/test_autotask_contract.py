"""Autotask PSA against its contract (vectis/vendors/autotask/contract.json, written from the
vendor's swagger, developer pages and public clients): every verb and every read crosses the wire
to the simulator and is held to the contract by the autouse check; the published examples
validate and replay through the real connector and reader; the contract refuses the shapes we
used to get wrong; and the per-source queue, paging and error shapes behave as Autotask does."""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from tests.support.example_server import ExampleServer
from tests.support.vendor_contracts import contract
from vectis.vendors.autotask.connector import AutotaskConnector, zone_base_url
from vectis.vendors.autotask.reader import note_record, person
from vectis.vendors.autotask.simulator import ROOT, ZONE_PATH, AutotaskSimulator, picklist
from vectis.vendors.base import CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError
from vectis.vendors.http import RetryPolicy, VendorHttp

EXAMPLES = Path(__file__).resolve().parents[2] / "vectis" / "vendors" / "autotask" / "examples"
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=2.0)
ACME, CONTACT = 500, 30682
STAMP = "2024-03-01T10:00:00.000Z"


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture
async def sim():
    simulator = AutotaskSimulator()
    simulator.seed(
        companies=[{"id": ACME, "companyName": "Acme Corp", "isActive": True, "companyType": 1}],
        contacts=[{"id": CONTACT, "companyID": ACME, "firstName": "Dana", "lastName": "Reyes",
                   "emailAddress": "dana@acme.test", "isActive": 1}],
        contracts=[{"id": 8, "companyID": ACME, "contractName": "Managed", "status": 1,
                    "contractType": 7, "startDate": STAMP}],
        invoices=[{"id": 9, "companyID": ACME, "invoiceNumber": "1001", "invoiceTotal": 10.0,
                   "invoiceDateTime": STAMP, "isVoided": False}],
        tickets=[{"id": 40 + n, "companyID": ACME, "title": f"Disk {n}", "contactID": CONTACT,
                  "queueID": 29682833} for n in range(5)])
    await simulator.start()
    yield simulator
    await simulator.stop()


def connector(sim, http, **settings) -> AutotaskConnector:
    return AutotaskConnector(sim.base_url + ROOT, sim.credentials, http, settings or None)


def draft(subject: str = "Printer on fire") -> TicketDraft:
    return TicketDraft(company_ref=str(ACME), subject=subject, description="Smoke from tray 2.",
                       priority="high", contact_ref=str(CONTACT))


def queues(sim) -> dict:
    return next(f for f in sim.fields["Tickets"] if f["name"] == "queueID")


async def probe(method: str, url: str, headers: dict) -> tuple[int, dict]:
    """A request as a test sends it by hand (not the connector's), to see how the simulator
    answers what Vectis never sends."""
    async with aiohttp.ClientSession() as session, \
            session.request(method, url, headers=headers) as answer:
        return answer.status, await answer.json()


# --- every verb and every entity, held to the contract ------------------------------------------
async def test_every_verb_and_entity_crosses_the_wire_within_the_contract(sim, http, exchanges):
    base = await zone_base_url(http, sim.credentials["username"], sim.base_url + ZONE_PATH)
    at = AutotaskConnector(base, sim.credentials, http)
    at.sync_page_size = 2                               # every read follows nextPageUrl
    since = datetime.now(UTC)
    ticket = await at.perform("create_ticket", draft())
    for internal in (True, False):
        await at.perform("add_note", NoteDraft(ticket.external_id, f"note {internal}", internal))
    assert (await at.recover("create_ticket", draft(), since)).external_id == ticket.external_id
    assert await at.recover("add_note", NoteDraft(ticket.external_id, "note True", True), since)
    assert (await at.perform("close_ticket", CloseDraft(ticket.external_id, "Done."))).status == \
        "closed"
    for entity in AutotaskConnector.SYNC_ENTITIES:
        for when in (None, since):
            async for page in at.read(entity, when):
                assert page
    book = contract("autotask")
    used = {op.name for e in exchanges if (op := book.operation(e.method, e.path))}
    # Everything but the GET next page (Vectis never sends it) and the Contacts/Resources/...
    # queries, which all appear.
    assert used == set(book.doc["operations"]) - {"query_next_get"}
    assert not [e for e in exchanges if e.method == "GET" and e.path.endswith("/query/next")]
    assert all(e.status == 200 for e in exchanges)


# --- published examples ---------------------------------------------------------------------------
@pytest.fixture
async def examples_server():
    server = ExampleServer("autotask", EXAMPLES, [
        (method, ROOT + path, name + ".200") for method, path, name in (
            ("GET", "/Tickets/entityInformation/fields", "ticket_fields"),
            ("GET", "/TicketNotes/entityInformation/fields", "ticket_note_fields"),
            ("POST", "/Tickets/query", "query_tickets"),
            ("POST", "/TicketNotes/query", "query_ticket_notes"),
            ("POST", "/Contacts/query", "query_contacts"),
            ("POST", "/Resources/query", "query_resources"))])
    await server.start()
    yield server
    await server.stop()


async def test_examples_replay_through_the_connector_and_reader(examples_server, http):
    creds = {"username": "u@x.test", "secret": "s", "integration_code": "I"}
    at = AutotaskConnector(examples_server.base_url + ROOT, creds, http)
    # The recorded tenant's only queue is the system Client Portal queue, with no default:
    # Vectis refuses to guess and lists the queues.
    with pytest.raises(VendorError) as caught:
        await at.plan("create_ticket", draft())
    assert "5 'Client Portal'" in caught.value.hint and "--setting queue_id=" in caught.value.hint
    assert await at.priority_value("high") == 1
    assert at.canonical_status(10) == "in_progress"            # "Scheduled"
    assert at.canonical_status(12) == "waiting"                # "Waiting Vendor"
    assert await at.note_type() == 2                           # "Task Detail"
    assert [r async for page in at.read("tickets", None) for r in page] == []   # empty page
    [contact] = [r async for page in at.read("contacts", None) for r in page]
    assert (contact.external_id, contact.links, contact.deleted) == ("29683589", {"customer": "174"},
                                                                     False)
    assert contact.fields == {"name": "Mary Smith", "email": "brobertson@autotaskdemo.com",
                              "phone": "551-555-5513", "title": None, "is_primary": False}
    resources: dict = {}
    await at._by_id("/Resources", [10], resources)
    assert person(resources[10]) == {"name": "Autotask Administrator", "email": None}
    [row] = await at.query("/TicketNotes", [{"op": "eq", "field": "ticketID", "value": 100}])
    note = note_record(row, {}, resources)
    assert note.external_id == "45" and note.fields["body"] == "Note description"
    assert note.fields["is_internal"] is False                 # publish 1: All Autotask Users
    assert note.fields["author"] == {"kind": "user", "name": "Autotask Administrator",
                                     "email": None}
    assert note.fields["created_at"] == datetime(2018, 1, 23, 11, tzinfo=UTC)


async def test_the_vendors_own_query_example_is_served(sim, http):
    body = json.loads((EXAMPLES / "query_tickets.request.json").read_text())
    answer = await http.request("autotask", "POST", sim.base_url + ROOT + "/Tickets/query",
                                idempotent=True, json=body,
                                headers=await connector(sim, http).auth_headers())
    details = answer.body["pageDetails"]
    assert len(answer.body["items"]) == 5 and details["requestCount"] == 10


# --- the contract bites ---------------------------------------------------------------------------
def test_the_contract_refuses_old_and_invented_shapes():
    book = contract("autotask")
    # A missing item is 200 {"item": null}; a 404 there is not what Autotask answers.
    assert book.response_spec(book.operation("GET", ROOT + "/Tickets/1"), 200)
    item = book.doc["operations"]["get_ticket"]["responses"]["200"]["body"]
    assert book._errors(item, {"item": None}, "b") == []
    # Errors are a list of strings; the generic {"message"} body is not Autotask's.
    errors = book.doc["errors"]["400"]["body"]
    assert book._errors(errors, {"message": "simulated 400"}, "b")
    assert book._errors(errors, {"errors": [{"message": "x"}]}, "b")
    # The old GET next page carries no body and, after a POST query, no search=: the contract
    # requires search on a GET next page, and PATCH goes to the collection URL only.
    get_next = book.doc["operations"]["query_next_get"]["query"]
    assert book._errors(get_next, {"paging": "{}"}, "q")
    assert book.operation("PATCH", ROOT + "/Tickets/5") is None
    # The child-notes query route we used to serve is no Autotask route.
    assert book.operation("POST", ROOT + "/Tickets/5/Notes/query") is None
    # A create with a field Autotask's TicketModel lacks is refused.
    create = book.doc["operations"]["create_ticket"]["body"]
    assert book._errors(create, {"companyID": 1, "title": "t", "status": 1, "priority": 2,
                                 "queue": 5}, "b")


# --- behaviour --------------------------------------------------------------------------------
async def test_next_page_is_posted_with_the_same_body_and_get_is_refused(sim, http):
    at = connector(sim, http)
    headers = await at.auth_headers()
    first = await http.request("autotask", "POST", sim.base_url + ROOT + "/Tickets/query",
                               idempotent=True, headers=headers,
                               json={"filter": [{"op": "gte", "field": "id", "value": 0}],
                                     "maxRecords": 2})
    next_url = first.body["pageDetails"]["nextPageUrl"]
    assert "search=" not in next_url                    # a POST query's link carries paging only
    status, body = await probe("GET", next_url, headers)
    assert status == 405 and "errors" in body
    posted = await http.request("autotask", "POST", next_url, idempotent=True, headers=headers,
                                json={"filter": [{"op": "gte", "field": "id", "value": 0}],
                                      "maxRecords": 2})
    assert [t["id"] for t in posted.body["items"]] == [42, 43]
    rows = await at.query("/Tickets", [{"op": "gte", "field": "id", "value": 0}])
    assert [t["id"] for t in rows] == [40, 41, 42, 43, 44]


async def test_queue_default_is_the_picklist_default_never_client_portal(sim, http):
    [call] = await connector(sim, http).plan("create_ticket", draft())
    assert call.body["queueID"] == 29682833             # "Level I Support", the default value
    [call] = await connector(sim, http, queue_id=8).plan("create_ticket", draft())
    assert call.body["queueID"] == 8
    queues(sim)["picklistValues"] = picklist(((29683482, "Client Portal"), (8, "Post Sale")),
                                             default=29683482)
    with pytest.raises(VendorError) as caught:
        await connector(sim, http).plan("create_ticket", draft())
    text = caught.value.describe("acme", "at-1")
    assert "29683482 'Client Portal'" in text and "8 'Post Sale'" in text
    assert "python server.py admin connect-source acme at-1 --setting queue_id=<value>" in text


async def test_a_refused_queue_names_the_setting(sim, http):
    with pytest.raises(VendorError) as caught:
        await connector(sim, http, queue_id=77).perform("create_ticket", draft())
    assert caught.value.status == 400 and "queueID" in str(caught.value)
    assert "--setting queue_id=" in caught.value.hint and len(sim.tickets) == 5


async def test_close_fills_the_resolution_and_completes(sim, http):
    at = connector(sim, http)
    await at.perform("close_ticket", CloseDraft("40", resolution="Disk replaced."))
    ticket = sim.tickets[40]
    assert (ticket["status"], ticket["resolution"]) == (5, "Disk replaced.")
    assert ticket["completedDate"]


async def test_unknown_ids_and_zone_users_answer_as_autotask_does(sim, http):
    at = connector(sim, http)
    headers = await at.auth_headers()
    for path in ("/Tickets/999999", "/Tickets/40/Notes/999999", "/Contacts/1"):
        assert await probe("GET", sim.base_url + ROOT + path, headers) == (200, {"item": None})
    with pytest.raises(VendorError) as caught:
        await zone_base_url(http, "nobody@example.test", sim.base_url + ZONE_PATH)
    assert caught.value.status == 500 and "--credentials-stdin" in caught.value.hint


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
async def test_faults_answer_in_autotasks_error_shape(sim, http, status):
    sim.faults.add(kind="status", status=status, count=None, path="/Tickets/entityInformation")
    answer = await http.request("autotask", "GET",
                                sim.base_url + ROOT + "/Tickets/entityInformation/fields",
                                idempotent=True, accept=(status,),
                                headers=await connector(sim, http).auth_headers())
    assert answer.status == status and isinstance(answer.body["errors"], list)
    if status == 429:
        assert "Itgenatr005" in answer.body["errors"][0]


def test_effects_and_settings_are_declared():
    assert set(AutotaskConnector.effects) == set(AutotaskConnector.verbs)
    assert [s.name for s in AutotaskConnector.settings] == ["queue_id"]


async def test_a_thread_limit_answered_as_a_500_is_waited_out_even_for_a_create(sim, http):
    """Autotask refuses a call over its thread limit with Itgenatr005, at times as a 500: the
    vendor processed nothing, so even a create is sent again, once, and succeeds."""
    sim.faults.add(kind="status", status=500, message="Thread Threshold Exceeded (Itgenatr005)",
                   method="POST", path="/Tickets$")
    result = await connector(sim, http, queue_id=29682833).perform("create_ticket", draft("Throttled"))
    assert result.external_id
    assert sim.count("POST", ROOT + "/Tickets") == 1      # the refused attempt never reached it
    assert http.calls[("autotask", "500")] == 1
    other = sim.faults.add(kind="status", status=500, method="POST", path="/Tickets$")
    with pytest.raises(VendorError) as caught:          # a plain 500 after a POST is no throttle
        await connector(sim, http, queue_id=29682833).perform("create_ticket", draft("Failing"))
    assert caught.value.retry_safe is False and other not in sim.faults.active
