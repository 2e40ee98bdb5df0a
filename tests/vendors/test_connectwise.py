"""ConnectWise Manage connector against its simulator: the three ticket verbs end to end, plan ==
what was sent, recovery after a lost answer, the retry rules on real HTTP, and the simulator's
lists (conditions, page/pageSize, Link header)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vectis.vendors.base import ALERT_VERBS, TICKET_VERBS, AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.connectwise.connector import ConnectWiseConnector, discover_base_url
from vectis.vendors.connectwise.simulator import ROOT, ConnectWiseSimulator
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import connector_class

POLICY = RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=1.0)
TICKETS = ROOT + "/service/tickets"
ACME, GLOBEX, CONTACT = 250, 251, 77


def draft(subject: str = "Printer on fire", **kw) -> TicketDraft:
    return TicketDraft(company_ref=str(kw.pop("company", ACME)), subject=subject,
                       description=kw.pop("description", "Smoke from tray 2."), **kw)


def as_sent(call) -> dict:
    return {"method": call.method, "path": ROOT + call.path, "body": call.body}


@pytest.fixture
async def sim():
    simulator = ConnectWiseSimulator()
    simulator.seed(companies=[{"id": ACME, "identifier": "Acme", "name": "Acme Corp"},
                              {"id": GLOBEX, "identifier": "Globex", "name": "Globex"}],
                   contacts=[{"id": CONTACT, "firstName": "Dana", "lastName": "Reyes"}],
                   configurations=[{"id": 9, "name": "SRV-01", "company": {"id": ACME}}],
                   agreements=[{"id": 3, "name": "Managed Services", "company": {"id": ACME}}],
                   invoices=[{"id": 4, "invoiceNumber": "INV-1001", "company": {"id": ACME}}])
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http():
    client = VendorHttp(policy=POLICY)
    yield client
    await client.close()


@pytest.fixture
def cw(sim, http) -> ConnectWiseConnector:
    return ConnectWiseConnector(sim.base_url + ROOT, sim.credentials, http)


async def get(cw: ConnectWiseConnector, path: str, **params):
    return await cw.http.request("connectwise", "GET", cw.base_url + path, idempotent=True,
                                 headers=await cw.auth_headers(), params=params or None)


def test_registered_with_every_ticket_verb():
    assert connector_class("connectwise") is ConnectWiseConnector
    assert ConnectWiseConnector.verbs == frozenset(TICKET_VERBS)
    assert ConnectWiseConnector.missing == {}


async def test_create_ticket_maps_fields_and_sends_the_plan(sim, cw):
    ticket_draft = draft(priority="high", contact_ref=str(CONTACT))
    plan = await cw.plan("create_ticket", ticket_draft)
    result = await cw.perform("create_ticket", ticket_draft)
    assert sim.writes == [as_sent(call) for call in plan]
    ticket = sim.tickets[int(result.external_id)]
    assert ticket["summary"] == "Printer on fire"
    assert ticket["company"]["id"] == ACME and ticket["board"]["id"] == 2   # 1 is a project board
    assert ticket["priority"]["id"] == 15          # "Priority 2 - Quick Response"
    assert ticket["contact"]["id"] == CONTACT and ticket["closedFlag"] is False
    [note] = sim.notes[ticket["id"]]
    assert note["text"] == "Smoke from tray 2." and note["detailDescriptionFlag"]
    assert (result.number, result.status, result.vendor_status) == (result.external_id, "new", 201)
    assert result.created_at is not None and result.created_at.tzinfo is not None


@pytest.mark.parametrize(("priority", "cw_id"),
                         [("critical", 4), ("high", 15), ("medium", 8), ("low", 7)])
async def test_priorities_map_to_cw_priority_ids_by_name(cw, priority, cw_id):
    [call] = await cw.plan("create_ticket", draft(priority=priority))
    assert call.body["priority"] == {"id": cw_id}


async def test_requester_without_contact_id_and_long_summary(sim, cw):
    ticket_draft = draft("x" * 150, requester={"name": "Dana Reyes", "email": "dana@acme.test"})
    result = await cw.perform("create_ticket", ticket_draft)
    ticket = sim.tickets[int(result.external_id)]
    assert ticket["summary"] == "x" * 100        # CW's limit
    assert (ticket["contactName"], ticket["contactEmailAddress"]) == ("Dana Reyes", "dana@acme.test")


async def test_board_from_setting_or_first_active_service_board(sim, http):
    sim.boards[2]["inactiveFlag"] = True
    sim.seed(boards=[{"id": 5, "name": "Service", "inactiveFlag": False}],
             statuses={5: [{"id": 51, "name": "New", "defaultFlag": True}]})
    first_active = ConnectWiseConnector(sim.base_url + ROOT, sim.credentials, http)
    [call] = await first_active.plan("create_ticket", draft())
    assert call.body["board"] == {"id": 5}           # board 1 is a project board
    pinned = ConnectWiseConnector(sim.base_url + ROOT, sim.credentials, http,
                                  settings={"board_id": "2"})
    [call] = await pinned.plan("create_ticket", draft())
    assert call.body["board"] == {"id": 2}
    legacy = ConnectWiseConnector(sim.base_url + ROOT, {**sim.credentials, "board_id": "2"}, http)
    [call] = await legacy.plan("create_ticket", draft())
    assert call.body["board"] == {"id": 2}


@pytest.mark.parametrize("internal", [True, False])
async def test_add_note_sets_the_visibility_flag(sim, cw, internal):
    ticket = await cw.perform("create_ticket", draft())
    sim.writes.clear()
    note_draft = NoteDraft(ticket.external_id, "Replaced the fuser.", internal=internal)
    plan = await cw.plan("add_note", note_draft)
    result = await cw.perform("add_note", note_draft)
    assert sim.writes == [as_sent(call) for call in plan]
    note = sim.notes[int(ticket.external_id)][-1]
    assert str(note["id"]) == result.external_id and note["text"] == "Replaced the fuser."
    assert (note["internalAnalysisFlag"], note["detailDescriptionFlag"]) == (internal, not internal)
    assert result.created_at is not None


async def test_close_posts_resolution_then_moves_to_the_active_closed_status(sim, cw):
    ticket = await cw.perform("create_ticket", draft())
    sim.writes.clear()
    close = CloseDraft(ticket.external_id, resolution="Fuser replaced; printing again.")
    plan = await cw.plan("close_ticket", close)
    assert [c.method for c in plan] == ["POST", "PATCH"]
    # 10 is "Cancelled" (lower id, also closed), 14 is inactive
    assert plan[1].body == [{"op": "replace", "path": "status/id", "value": 15}]
    result = await cw.perform("close_ticket", close)
    assert sim.writes == [as_sent(call) for call in plan]
    stored = sim.tickets[int(ticket.external_id)]
    assert stored["closedFlag"] is True and stored["closedDate"] and stored["status"]["id"] == 15
    resolution = sim.notes[stored["id"]][-1]
    assert resolution["resolutionFlag"] and resolution["text"] == "Fuser replaced; printing again."
    assert (result.external_id, result.status) == (ticket.external_id, "closed")


async def test_close_without_resolution_only_patches(sim, cw):
    ticket = await cw.perform("create_ticket", draft())
    plan = await cw.plan("close_ticket", CloseDraft(ticket.external_id))
    assert [c.method for c in plan] == ["PATCH"]
    await cw.perform("close_ticket", CloseDraft(ticket.external_id))
    assert len(sim.notes[int(ticket.external_id)]) == 1       # just the initial description


async def test_recover_create_finds_the_ticket_or_none(sim, cw):
    since = datetime.now(UTC)
    created = await cw.perform("create_ticket", draft('Quote "this" \\ too'))
    await cw.perform("create_ticket", draft("Unrelated"))
    found = await cw.recover("create_ticket", draft('Quote "this" \\ too'), since)
    assert found is not None and found.external_id == created.external_id
    assert found.number == created.number and found.status == "new"
    assert await cw.recover("create_ticket", draft("Never created"), since) is None
    assert await cw.recover("create_ticket", draft('Quote "this" \\ too', company=GLOBEX),
                            since) is None
    assert await cw.recover("create_ticket", draft('Quote "this" \\ too'),
                            since + timedelta(hours=1)) is None


async def test_recover_add_note_matches_text_and_visibility(cw):
    since = datetime.now(UTC)
    ticket = await cw.perform("create_ticket", draft())
    note = await cw.perform("add_note", NoteDraft(ticket.external_id, "Called back.", True))
    found = await cw.recover("add_note", NoteDraft(ticket.external_id, "Called back.", True), since)
    assert found is not None and found.external_id == note.external_id
    assert await cw.recover("add_note", NoteDraft(ticket.external_id, "Called back.", False),
                            since) is None
    assert await cw.recover("add_note", NoteDraft(ticket.external_id, "Other", True), since) is None
    assert await cw.recover("close_ticket", CloseDraft(ticket.external_id), since) is None


@pytest.mark.parametrize("verb", ALERT_VERBS)
async def test_alert_verbs_are_unsupported(cw, verb):
    with pytest.raises(VerbUnsupported) as caught:
        await cw.plan(verb, AlertDraft("a-1"))
    assert caught.value.reason == f"connectwise does not support {verb}"
    with pytest.raises(VerbUnsupported):
        await cw.perform(verb, AlertDraft("a-1"))


@pytest.mark.parametrize("field", ["private_key", "client_id"])
async def test_wrong_credentials_are_a_safe_401(sim, http, field):
    connector = ConnectWiseConnector(sim.base_url + ROOT, {**sim.credentials, field: "wrong"}, http)
    with pytest.raises(VendorError) as caught:
        await connector.perform("create_ticket", draft())
    assert caught.value.status == 401 and caught.value.retry_safe is True
    assert sim.tickets == {}


async def test_429_with_retry_after_is_retried_once(sim, cw, http):
    sim.faults.add(kind="status", status=429, retry_after=0, method="POST", path="/service/tickets$")
    result = await cw.perform("create_ticket", draft())
    assert sim.count("POST", TICKETS) == 1 and len(sim.tickets) == 1
    assert http.calls[("connectwise", "429")] == 1 and result.external_id


async def test_500_on_create_is_final_and_not_resent(sim, cw, http):
    await cw.plan("create_ticket", draft())          # warm the look-ups: count POSTs only below
    sim.faults.add(kind="status", status=500, method="POST", path="/service/tickets$")
    with pytest.raises(VendorError) as caught:
        await cw.perform("create_ticket", draft())
    assert caught.value.status == 500 and caught.value.retry_safe is False
    assert http.calls[("connectwise", "500")] == 1 and http.calls[("connectwise", "201")] == 0
    assert sim.count("POST", TICKETS) == 0 and sim.tickets == {}


async def test_500_on_the_close_patch_is_retried(sim, cw, http):
    ticket = await cw.perform("create_ticket", draft())
    sim.faults.add(kind="status", status=500, method="PATCH")
    result = await cw.perform("close_ticket", CloseDraft(ticket.external_id))
    assert result.status == "closed" and http.calls[("connectwise", "500")] == 1
    assert sim.count("PATCH", TICKETS + "/{id}") == 1
    assert sim.tickets[int(ticket.external_id)]["closedFlag"] is True


async def test_lost_answer_on_create_then_recover_finds_it(sim, cw):
    since = datetime.now(UTC)
    sim.faults.add(kind="drop_after", method="POST", path="/service/tickets$")
    with pytest.raises(VendorError) as caught:
        await cw.perform("create_ticket", draft())
    assert caught.value.retry_safe is False
    assert sim.count("POST", TICKETS) == 1 and len(sim.tickets) == 1
    found = await cw.recover("create_ticket", draft(), since)
    assert found is not None and int(found.external_id) in sim.tickets


async def test_codebase_discovery(sim, http):
    base = await discover_base_url(http, sim.base_url, sim.credentials["company_id"])
    assert base == sim.base_url + ROOT
    with pytest.raises(VendorError) as caught:
        await discover_base_url(http, sim.base_url, "nobody")
    assert caught.value.status == 404


async def test_validation_and_unknown_ids(sim, cw):
    with pytest.raises(VendorError) as caught:
        await cw.perform("create_ticket", draft(company=999))
    assert caught.value.status == 400 and sim.tickets == {}
    with pytest.raises(VendorError) as caught:
        await cw.perform("add_note", NoteDraft("424242", "x", True))
    assert caught.value.status == 404 and caught.value.retry_safe is True
    sent = len(sim.writes)
    with pytest.raises(VendorError) as caught:
        await cw.perform("create_ticket", draft(company="acme"))
    assert caught.value.retry_safe is True and len(sim.writes) == sent


async def test_ticket_list_conditions_and_link_paging(sim, cw):
    stamp = "2024-03-01T10:00:00Z"
    sim.seed(tickets=[{"id": 10 + i, "summary": f"Disk {i}", "company": {"id": ACME},
                       "_info": {"dateEntered": stamp, "lastUpdated": stamp}} for i in range(5)]
             + [{"id": 30, "summary": "Globex ticket", "company": {"id": GLOBEX},
                 "status": {"id": 15}, "_info": {"dateEntered": stamp, "lastUpdated": stamp}}])
    page = await get(cw, "/service/tickets", conditions="closedFlag=false and company/id=250",
                     pageSize=2, page=1)
    assert [t["id"] for t in page.body] == [10, 11]
    assert 'rel="next"' in page.headers["Link"] and "page=3" in page.headers["Link"]
    last = await get(cw, "/service/tickets", conditions="closedFlag=false and company/id=250",
                     pageSize=2, page=3)
    assert [t["id"] for t in last.body] == [14] and 'rel="next"' not in last.headers["Link"]
    closed = await get(cw, "/service/tickets", conditions="closedFlag=true")
    assert [t["id"] for t in closed.body] == [30]
    named = await get(cw, "/service/tickets", conditions='summary="Disk 3" or summary="Disk 4"')
    assert [t["id"] for t in named.body] == [13, 14]
    recent = await get(cw, "/service/tickets", conditions="lastUpdated>[2024-03-01T10:00:00Z]")
    assert recent.body == []
    with pytest.raises(VendorError) as caught:
        await get(cw, "/service/tickets", conditions="summary = = 1")
    assert caught.value.status == 400


@pytest.mark.off_contract("probes simulator routes the connector never calls")
async def test_finance_and_configuration_lists_are_bare_arrays(cw):
    for path, key in (("/company/configurations", "name"), ("/finance/agreements", "name"),
                      ("/finance/invoices", "invoiceNumber"), ("/company/companies", "name")):
        response = await get(cw, path, conditions="id>0", pageSize=1000)
        assert isinstance(response.body, list) and response.body and key in response.body[0]
    invoice = await get(cw, "/finance/invoices/4")
    assert invoice.body["invoiceNumber"] == "INV-1001"
