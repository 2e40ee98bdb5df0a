"""Autotask connector against its simulator: the three ticket verbs end to end with picklists read
at plan time, plan == what was sent, recovery after a lost answer, the retry rules on real HTTP,
and the simulator's query language and paging."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from vectis.vendors.autotask import connector as autotask
from vectis.vendors.autotask.connector import AutotaskConnector, zone_base_url
from vectis.vendors.autotask.simulator import ROOT, ZONE_PATH, AutotaskSimulator, picklist
from vectis.vendors.base import ALERT_VERBS, TICKET_VERBS, AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import connector_class

POLICY = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=1.0)
TICKETS = ROOT + "/Tickets"
ACME, GLOBEX, CONTACT = 500, 501, 30682
DEFAULT_QUEUE = 29682833      # "Level I Support", the picklist's default (Client Portal is first)


def draft(subject: str = "Printer on fire", **kw) -> TicketDraft:
    return TicketDraft(company_ref=str(kw.pop("company", ACME)), subject=subject,
                       description=kw.pop("description", "Smoke from tray 2."), **kw)


def as_sent(call) -> dict:
    return {"method": call.method, "path": ROOT + call.path, "body": call.body}


def tickets_field(sim: AutotaskSimulator, name: str) -> dict:
    return next(f for f in sim.fields["Tickets"] if f["name"] == name)


@pytest.fixture
async def sim():
    simulator = AutotaskSimulator()
    simulator.seed(companies=[{"id": ACME, "companyName": "Acme Corp", "isActive": True,
                               "companyType": 1},
                              {"id": GLOBEX, "companyName": "Globex", "isActive": True,
                               "companyType": 1}],
                   contacts=[{"id": CONTACT, "companyID": ACME, "firstName": "Dana"}],
                   configuration_items=[{"id": 7, "companyID": ACME, "referenceTitle": "SRV-01"}],
                   contracts=[{"id": 8, "companyID": ACME, "contractName": "Managed",
                               "status": 1}],
                   invoices=[{"id": 9, "companyID": ACME, "invoiceNumber": "1001"}])
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture
def at(sim, http) -> AutotaskConnector:
    return AutotaskConnector(sim.base_url + ROOT, sim.credentials, http)


async def call(at: AutotaskConnector, method: str, path: str, body=None, **params):
    return await at.http.request("autotask", method, at.base_url + path, idempotent=True,
                                 headers=await at.auth_headers(), json=body,
                                 params=params or None)


def test_registered_with_every_ticket_verb():
    assert connector_class("autotask") is AutotaskConnector
    assert AutotaskConnector.verbs == frozenset(TICKET_VERBS)
    assert AutotaskConnector.missing == {}


async def test_create_ticket_maps_fields_and_sends_the_plan(sim, at):
    ticket_draft = draft(priority="critical", contact_ref=str(CONTACT))
    plan = await at.plan("create_ticket", ticket_draft)
    result = await at.perform("create_ticket", ticket_draft)
    assert sim.writes == [as_sent(c) for c in plan]
    ticket = sim.tickets[int(result.external_id)]
    assert (ticket["companyID"], ticket["title"], ticket["description"]) == (
        ACME, "Printer on fire", "Smoke from tray 2.")
    assert (ticket["status"], ticket["priority"], ticket["queueID"], ticket["contactID"]) == (
        1, 4, DEFAULT_QUEUE, CONTACT)
    assert re.fullmatch(r"T\d{8}\.0001", result.number) and result.number == ticket["ticketNumber"]
    assert (result.status, result.vendor_status) == ("new", 200)
    assert result.created_at is not None and result.created_at.tzinfo is not None


@pytest.mark.parametrize(("priority", "value"),
                         [("critical", 4), ("high", 1), ("medium", 2), ("low", 3)])
async def test_priorities_map_to_the_stock_picklist(at, priority, value):
    [plan] = await at.plan("create_ticket", draft(priority=priority))
    assert plan.body["priority"] == value


async def test_priority_and_queue_are_read_from_the_tenant_picklists(sim, http):
    tickets_field(sim, "priority")["picklistValues"] = picklist(
        ((11, "P1 - Critical"), (12, "P2 - High"), (13, "P3 - Normal"), (14, "P4 - Low")))
    connector = AutotaskConnector(sim.base_url + ROOT, sim.credentials, http)
    bodies = [(await connector.plan("create_ticket", draft(priority=p)))[0].body
              for p in ("critical", "high", "medium", "low")]
    assert [b["priority"] for b in bodies] == [11, 12, 13, 14]
    assert bodies[0]["queueID"] == DEFAULT_QUEUE       # the default, not the first (Client Portal)
    pinned = AutotaskConnector(sim.base_url + ROOT, sim.credentials, http,
                               settings={"queue_id": "8"})
    [plan] = await pinned.plan("create_ticket", draft())
    assert plan.body["queueID"] == 8
    await pinned.perform("create_ticket", draft(priority="low"))
    assert [t["priority"] for t in sim.tickets.values()] == [14]


async def test_long_title_is_cut_to_the_field_length(sim, at):
    result = await at.perform("create_ticket", draft("x" * 300))
    assert sim.tickets[int(result.external_id)]["title"] == "x" * 255


@pytest.mark.parametrize(("internal", "publish"), [(True, 2), (False, 1)])
async def test_add_note_sets_publish(sim, at, internal, publish):
    ticket = await at.perform("create_ticket", draft())
    sim.writes.clear()
    note_draft = NoteDraft(ticket.external_id, "Replaced the fuser.\nTested OK.", internal)
    plan = await at.plan("add_note", note_draft)
    result = await at.perform("add_note", note_draft)
    assert sim.writes == [as_sent(c) for c in plan]
    note = sim.notes[int(result.external_id)]
    assert (note["ticketID"], note["title"], note["description"], note["publish"],
            note["noteType"]) == (int(ticket.external_id), "Replaced the fuser.",
                                  "Replaced the fuser.\nTested OK.", publish, 2)  # Task Detail
    assert result.created_at is not None


async def test_close_posts_resolution_then_completes(sim, at):
    ticket = await at.perform("create_ticket", draft())
    sim.writes.clear()
    close = CloseDraft(ticket.external_id, resolution="Fuser replaced; printing again.")
    plan = await at.plan("close_ticket", close)
    assert [(c.method, c.path) for c in plan] == [
        ("POST", f"/Tickets/{ticket.external_id}/Notes"), ("PATCH", "/Tickets")]
    assert plan[1].body == {"id": int(ticket.external_id), "status": 5,
                            "resolution": "Fuser replaced; printing again."}
    result = await at.perform("close_ticket", close)
    assert sim.writes == [as_sent(c) for c in plan]
    stored = sim.tickets[int(ticket.external_id)]
    assert stored["status"] == 5 and stored["completedDate"]
    [resolution] = sim.notes.values()
    assert (resolution["title"], resolution["description"], resolution["publish"]) == (
        "Resolution", "Fuser replaced; printing again.", 1)
    assert (result.external_id, result.status) == (ticket.external_id, "closed")


async def test_close_without_resolution_only_patches(sim, at):
    ticket = await at.perform("create_ticket", draft())
    assert [c.method for c in await at.plan("close_ticket", CloseDraft(ticket.external_id))] == \
        ["PATCH"]
    await at.perform("close_ticket", CloseDraft(ticket.external_id))
    assert sim.notes == {} and sim.tickets[int(ticket.external_id)]["status"] == 5


async def test_recover_create_finds_the_ticket_or_none(at):
    since = datetime.now(UTC)
    created = await at.perform("create_ticket", draft())
    await at.perform("create_ticket", draft("printer ON FIRE"))      # differs only in case
    found = await at.recover("create_ticket", draft(), since)
    assert found is not None and found.external_id == created.external_id
    assert (found.number, found.status) == (created.number, "new")
    assert await at.recover("create_ticket", draft("Never created"), since) is None
    assert await at.recover("create_ticket", draft(company=GLOBEX), since) is None
    assert await at.recover("create_ticket", draft(), since + timedelta(hours=1)) is None


async def test_recover_add_note_matches_text_and_visibility(at):
    since = datetime.now(UTC)
    ticket = await at.perform("create_ticket", draft())
    note = await at.perform("add_note", NoteDraft(ticket.external_id, "Called back.", True))
    found = await at.recover("add_note", NoteDraft(ticket.external_id, "Called back.", True), since)
    assert found is not None and found.external_id == note.external_id
    assert await at.recover("add_note", NoteDraft(ticket.external_id, "Called back.", False),
                            since) is None
    assert await at.recover("add_note", NoteDraft(ticket.external_id, "Other", True), since) is None


async def test_recover_follows_next_page_urls(sim, at, monkeypatch):
    monkeypatch.setattr(autotask, "MAX_RECORDS", 2)
    since = datetime.now(UTC)
    for _ in range(4):
        await at.perform("create_ticket", draft("Same title"))
    target = await at.perform("create_ticket", draft())
    found = await at.recover("create_ticket", draft(), since)
    rows = await at.query("/Tickets", [{"op": "eq", "field": "companyID", "value": ACME}])
    assert found is not None and found.external_id == target.external_id
    assert len(rows) == 5 and sim.count("POST", TICKETS.replace("Tickets", "{entity}/query/next")) >= 2


@pytest.mark.parametrize("verb", ALERT_VERBS)
async def test_alert_verbs_are_unsupported(at, verb):
    with pytest.raises(VerbUnsupported) as caught:
        await at.plan(verb, AlertDraft("a-1"))
    assert caught.value.reason == f"autotask does not support {verb}"


@pytest.mark.parametrize("field", ["secret", "integration_code", "username"])
async def test_wrong_credentials_are_a_safe_401(sim, http, field):
    connector = AutotaskConnector(sim.base_url + ROOT, {**sim.credentials, field: "wrong"}, http)
    with pytest.raises(VendorError) as caught:
        await connector.perform("create_ticket", draft())
    assert caught.value.status == 401 and caught.value.retry_safe is True
    assert sim.tickets == {}


async def test_429_with_retry_after_is_retried_once(sim, at, http):
    sim.faults.add(kind="status", status=429, retry_after=0, method="POST", path="/Tickets$")
    result = await at.perform("create_ticket", draft())
    assert sim.count("POST", TICKETS) == 1 and len(sim.tickets) == 1
    assert http.calls[("autotask", "429")] == 1 and result.number


async def test_500_on_create_is_final_and_not_resent(sim, at, http):
    sim.faults.add(kind="status", status=500, method="POST", path="/Tickets$")
    with pytest.raises(VendorError) as caught:
        await at.perform("create_ticket", draft())
    assert caught.value.status == 500 and caught.value.retry_safe is False
    assert http.calls[("autotask", "500")] == 1
    assert sim.count("POST", TICKETS) == 0 and sim.tickets == {}


async def test_500_on_the_close_patch_is_retried(sim, at, http):
    ticket = await at.perform("create_ticket", draft())
    sim.faults.add(kind="status", status=500, method="PATCH")
    result = await at.perform("close_ticket", CloseDraft(ticket.external_id))
    assert result.status == "closed" and http.calls[("autotask", "500")] == 1
    assert sim.count("PATCH", TICKETS) == 1 and sim.tickets[int(ticket.external_id)]["status"] == 5


async def test_lost_answer_on_create_then_recover_finds_it(sim, at):
    since = datetime.now(UTC)
    sim.faults.add(kind="drop_after", method="POST", path="/Tickets$")
    with pytest.raises(VendorError) as caught:
        await at.perform("create_ticket", draft())
    assert caught.value.retry_safe is False
    assert sim.count("POST", TICKETS) == 1 and len(sim.tickets) == 1
    found = await at.recover("create_ticket", draft(), since)
    assert found is not None and int(found.external_id) in sim.tickets and found.number


async def test_failed_read_back_still_reports_the_created_ticket(sim, at):
    sim.faults.add(kind="status", status=404, method="GET", path=r"/Tickets/\d+$")
    result = await at.perform("create_ticket", draft())
    assert int(result.external_id) in sim.tickets and result.number is None


async def test_zone_lookup_points_at_the_simulator(sim, http):
    base = await zone_base_url(http, sim.credentials["username"], sim.base_url + ZONE_PATH)
    assert base == sim.base_url + ROOT
    with pytest.raises(VendorError) as caught:
        await zone_base_url(http, "nobody@example.test", sim.base_url + ZONE_PATH)
    assert caught.value.status == 500 and "no Autotask zone" in str(caught.value)


async def test_validation_and_unknown_ids(sim, at):
    with pytest.raises(VendorError) as caught:
        await at.perform("create_ticket", draft(company=999))
    assert caught.value.status == 400 and "companyID" in str(caught.value)
    with pytest.raises(VendorError) as caught:
        await call(at, "POST", "/Tickets", {"companyID": ACME, "title": "t", "status": 1,
                                            "priority": 2, "assignedResourceID": 5})
    assert caught.value.status == 400 and "assignedResourceRoleID" in str(caught.value)
    with pytest.raises(VendorError) as caught:
        await at.perform("add_note", NoteDraft("424242", "x", True))
    assert caught.value.status == 404 and caught.value.retry_safe is True
    missing = await call(at, "GET", "/Tickets/424242")     # Autotask: 200 with a null item
    assert (missing.status, missing.body) == (200, {"item": None})
    assert sim.tickets == {}


@pytest.mark.off_contract("sends malformed queries, includeFields and /query/count on purpose")
async def test_query_filters_envelope_and_limits(sim, at):
    stamp = "2024-03-01T10:00:00.000Z"
    sim.seed(tickets=[{"id": 10 + i, "companyID": ACME, "title": f"Disk {i}", "status": 1,
                       "createDate": stamp} for i in range(5)]
             + [{"id": 30, "companyID": GLOBEX, "title": "Globex VPN", "status": 5,
                 "createDate": stamp}])
    open_acme = await call(at, "POST", "/Tickets/query", {"filter": [
        {"op": "noteq", "field": "status", "value": 5},
        {"op": "eq", "field": "companyid", "value": ACME}], "maxRecords": 2})
    assert [t["id"] for t in open_acme.body["items"]] == [10, 11]
    details = open_acme.body["pageDetails"]
    assert (details["count"], details["requestCount"], details["prevPageUrl"]) == (2, 2, None)
    following = await at.query("/Tickets", [{"op": "gte", "field": "id", "value": 0}])
    assert len(following) == 6
    nested = await call(at, "POST", "/Tickets/query", {"filter": [{"op": "or", "items": [
        {"op": "contains", "field": "title", "value": "vpn"},
        {"op": "and", "items": [{"op": "eq", "field": "title", "value": "disk 3"},
                                {"op": "lt", "field": "createDate",
                                 "value": "2024-03-02T00:00:00Z"}]}]}],
        "includeFields": ["title"]})
    assert nested.body["items"] == [{"id": 13, "title": "Disk 3"}, {"id": 30, "title": "Globex VPN"}]
    count = await call(at, "POST", "/Tickets/query/count",
                       {"filter": [{"op": "in", "field": "id", "value": [10, 30, 99]}]})
    assert count.body == {"queryCount": 2}
    for bad in ({"filter": []}, {"filter": [{"op": "near", "field": "id", "value": 1}]},
                {"filter": [{"op": "gte", "field": "id", "value": 0}], "maxRecords": 501}):
        with pytest.raises(VendorError) as caught:
            await call(at, "POST", "/Tickets/query", bad)
        assert caught.value.status == 400
    single = await call(at, "GET", "/Tickets/30")
    assert single.body["item"]["title"] == "Globex VPN"


async def test_notes_and_finance_entities_are_queryable(sim, at):
    ticket = await at.perform("create_ticket", draft())
    await at.perform("add_note", NoteDraft(ticket.external_id, "One", True))
    for entity, key in (("Companies", "companyName"), ("Contracts", "contractName"), ("Invoices", "invoiceNumber"),
                        ("TicketNotes", "description")):
        rows = await at.query(f"/{entity}", [{"op": "gte", "field": "id", "value": 0}])
        assert rows and key in rows[0]
