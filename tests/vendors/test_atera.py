"""Atera connector against the Atera simulator, over real HTTP."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from vectis.vendors.atera import connector as atera
from vectis.vendors.atera.simulator import ROOT, SIMULATOR
from vectis.vendors.base import AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import connector_class

NOON = datetime(2026, 5, 4, 12, 0, 0, 250000, tzinfo=UTC)
CUSTOMERS = [{"CustomerID": 7, "CustomerName": "Acme Dental", "Domain": "acme.example"},
             {"CustomerID": 8, "CustomerName": "Birch Law", "Domain": "birch.example"}]
CONTACTS = [{"EndUserID": 41, "CustomerID": 7, "Firstname": "Jane", "Lastname": "Doe",
             "Email": "jane@acme.example"},
            {"EndUserID": 40, "CustomerID": 7, "Firstname": "Boss", "Lastname": "Person",
             "Email": "boss@acme.example", "IsContactPerson": True},
            {"EndUserID": 50, "CustomerID": 8, "Firstname": "Bo", "Lastname": "Birch",
             "Email": "bo@birch.example"}]
TICKET = {"TicketID": 3001, "TicketTitle": "Printer jam", "CustomerID": 7, "EndUserID": 41}
ALERTS = [{"AlertID": 90, "Title": "Disk 95%", "Severity": "Warning", "CustomerID": 7},
          {"AlertID": 91, "Title": "CPU", "Severity": "Critical", "CustomerID": 7}]


@pytest.fixture
async def sim():
    simulator = SIMULATOR()
    simulator.seed(customers=CUSTOMERS, contacts=CONTACTS, tickets=[TICKET], alerts=ALERTS,
                   agents=[{"AgentID": 1, "CustomerID": 7, "MachineName": "PC-1"}],
                   contracts=[{"ContractID": 5, "CustomerID": 7, "ContractName": "MSP"}],
                   invoices=[{"InvoiceNumber": 123, "Total": 200.0}])
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http():
    client = VendorHttp(policy=RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=1.0))
    yield client
    await client.close()


@pytest.fixture
def conn(sim, http):
    return connector_class("atera")(sim.base_url + ROOT, sim.credentials, http)


def draft(**kw) -> TicketDraft:
    return TicketDraft(**{"company_ref": "7", "subject": "VPN down", "description": "Since 9am",
                          "priority": "critical", **kw})


async def test_create_ticket_maps_fields(sim, conn):
    result = await conn.perform("create_ticket", draft(contact_ref="41"))
    ticket = sim.tickets[int(result.external_id)]
    assert (ticket["TicketTitle"], ticket["FirstComment"], ticket["TicketPriority"],
            ticket["TicketType"], ticket["EndUserID"], ticket["CustomerID"]) == (
        "VPN down", "Since 9am", "Critical", "Incident", 41, 7)
    assert result.number == ticket["TicketNumber"] and result.status == "open"
    assert result.created_at.tzinfo is not None and result.vendor_status == 201
    assert result.extra["customer_id"] == 7


async def test_end_user_choice(sim, conn):
    known = await conn.perform("create_ticket", draft(requester={"name": "J", "email": "JANE@acme.example"}))
    assert sim.tickets[int(known.external_id)]["EndUserID"] == 41
    new = await conn.perform("create_ticket", draft(requester={"name": "New Person",
                                                               "email": "new@acme.example"}))
    ticket = sim.tickets[int(new.external_id)]
    assert (ticket["EndUserFirstName"], ticket["EndUserLastName"], ticket["CustomerID"]) == (
        "New", "Person", 7)
    nobody = await conn.perform("create_ticket", draft())
    assert sim.tickets[int(nobody.external_id)]["EndUserID"] == 40      # the contact person
    with pytest.raises(VendorError) as caught:
        await conn.plan("create_ticket", draft(requester={"email": "bo@birch.example"}))
    assert caught.value.retry_safe is True and "another" in str(caught.value)
    for canonical, name in atera.PRIORITIES.items():
        (call,) = await conn.plan("create_ticket", draft(priority=canonical, contact_ref="41"))
        assert call.body["TicketPriority"] == name


async def test_plan_is_what_is_sent(sim, conn):
    conn._now = lambda: NOON
    planned = await conn.plan("create_ticket", draft(contact_ref="41"))
    result = await conn.perform("create_ticket", draft(contact_ref="41"))
    note = NoteDraft(ticket_ref=result.external_id, body="Rebooted the firewall", internal=True)
    planned += await conn.plan("add_note", note)
    await conn.perform("add_note", note)
    close = CloseDraft(ticket_ref=result.external_id, resolution="Firmware updated")
    planned += await conn.plan("close_ticket", close)
    await conn.perform("close_ticket", close)
    sent = [{"method": r["method"], "path": r["path"].removeprefix(ROOT), "body": r["body"]}
            for r in sim.log if r["method"] != "GET"]
    assert sent == [{"method": c.method, "path": c.path, "body": c.body} for c in planned]
    assert planned[1].body == {"CommentText": "Rebooted the firewall",
                               "CommentTimestampUTC": "2026-05-04T12:00:00.250Z",
                               "TechnicianCommentDetails": {"TechnicianId": 1, "IsInternal": True,
                                                            "TechnicianEmail": "tech@msp.example"}}
    assert planned[-1].view() == {"method": "PUT", "path": f"/tickets/{result.external_id}",
                                  "body": {"TicketStatus": "Closed"}}


async def test_note_visibility_and_technician(sim, conn, http):
    await conn.perform("add_note", NoteDraft("3001", "Checked the logs", internal=True))
    await conn.perform("add_note", NoteDraft("3001", "We are on it", internal=False))
    by_id = atera.Atera(sim.base_url + ROOT, {"api_key": sim.credentials["api_key"],
                                              "technician_id": "1"}, http)
    result = await by_id.perform("add_note", NoteDraft("3001", "By id", internal=True))
    assert result.external_id and result.created_at.tzinfo is not None
    comments = {c["Comment"]: c for c in sim.comments[3001]}
    assert comments["Checked the logs"]["IsInternal"] is True
    assert comments["We are on it"]["IsInternal"] is False
    assert comments["By id"]["TechnicianContactID"] == 1
    assert sim.tickets[3001]["LastTechnicianComment"] == "By id"
    # Atera posts comments only as an existing technician: an e-mail alone is not enough.
    by_email = atera.Atera(sim.base_url + ROOT, {"api_key": sim.credentials["api_key"],
                                                 "technician_email": "tech@msp.example"}, http)
    with pytest.raises(VendorError) as caught:
        await by_email.plan("add_note", NoteDraft("3001", "x", internal=True))
    assert caught.value.retry_safe and "--setting technician_id=" in caught.value.describe("t", "s")
    chosen = atera.Atera(sim.base_url + ROOT, {"api_key": sim.credentials["api_key"]}, http,
                         settings={"technician_id": "1"})
    (call,) = await chosen.plan("add_note", NoteDraft("3001", "x", internal=True))
    assert call.body["TechnicianCommentDetails"] == {"TechnicianId": 1, "IsInternal": True}


async def test_close_posts_resolution_once_and_closes(sim, conn):
    result = await conn.perform("close_ticket", CloseDraft("3001", resolution="Replaced the roller"))
    ticket = sim.tickets[3001]
    assert result.status == "closed" and ticket["TicketStatus"] == "Closed"
    assert ticket["TicketResolvedDate"]
    await conn.perform("close_ticket", CloseDraft("3001", resolution="Replaced the roller"))
    notes = [c for c in sim.comments[3001] if c["Comment"] == "Replaced the roller"]
    assert len(notes) == 1 and notes[0]["IsInternal"] is False


async def test_recover_create(sim, conn):
    since = datetime.now(UTC)
    assert await conn.recover("create_ticket", draft(), since) is None
    created = await conn.perform("create_ticket", draft(contact_ref="41"))
    found = await conn.recover("create_ticket", draft(), since)
    assert (found.external_id, found.number) == (created.external_id, created.number)
    assert await conn.recover("create_ticket", draft(subject="Other"), since) is None
    assert await conn.recover("create_ticket", draft(company_ref="8"), since) is None
    assert await conn.recover("create_ticket", draft(), since + timedelta(minutes=5)) is None


async def test_recover_note(sim, conn):
    since = datetime.now(UTC)
    note = NoteDraft("3001", "Called the user", internal=True)
    assert await conn.recover("add_note", note, since) is None
    await conn.perform("add_note", note)
    found = await conn.recover("add_note", note, since)
    assert found is not None and found.created_at >= since - timedelta(seconds=1)
    assert await conn.recover("add_note", NoteDraft("3001", "Called the user", False), since) is None
    assert await conn.recover("add_note", note, since + timedelta(minutes=5)) is None


async def test_alert_verbs_missing_with_documented_reason(sim, conn):
    reason = atera.ALERTS_ABSENT
    assert "Atera's own API can resolve" in reason
    assert conn.missing == {"acknowledge_alert": reason, "resolve_alert": reason}
    for verb in ("acknowledge_alert", "resolve_alert"):
        with pytest.raises(VerbUnsupported) as caught:
            await conn.plan(verb, AlertDraft("90"))
        assert caught.value.reason == reason and caught.value.vendor == "atera"
    assert sim.alerts[90]["Archived"] is False and not [r for r in sim.log if "alerts" in r["path"]]


async def test_wrong_credentials(sim, http):
    bad = atera.Atera(sim.base_url + ROOT, {**sim.credentials, "api_key": "nope"}, http)
    with pytest.raises(VendorError) as caught:
        await bad.perform("create_ticket", draft(contact_ref="41"))
    assert caught.value.status == 401 and caught.value.retry_safe is True
    assert "API key" in caught.value.describe("t", "s") and list(sim.tickets) == [3001]


async def test_429_then_success(sim, conn, http):
    sim.faults.add(kind="status", status=429, retry_after=0, method="POST", path="/tickets$")
    result = await conn.perform("create_ticket", draft(contact_ref="41"))
    assert result.external_id
    assert sim.count("POST", f"{ROOT}/tickets") == 1 and http.calls[("atera", "429")] == 1


async def test_500_on_create_is_not_retried(sim, conn, http):
    sim.faults.add(kind="status", status=500, method="POST", path="/tickets$")
    with pytest.raises(VendorError) as caught:
        await conn.perform("create_ticket", draft(contact_ref="41"))
    assert caught.value.status == 500 and caught.value.retry_safe is False
    assert http.calls[("atera", "500")] == 1 and sim.count("POST", f"{ROOT}/tickets") == 0
    assert list(sim.tickets) == [3001]


async def test_500_on_close_is_retried(sim, conn, http):
    sim.faults.add(kind="status", status=500, method="PUT", path="/tickets/3001$")
    result = await conn.perform("close_ticket", CloseDraft("3001"))
    assert result.status == "closed" and sim.tickets[3001]["TicketStatus"] == "Closed"
    assert http.calls[("atera", "500")] == 1 and sim.count("PUT", f"{ROOT}/tickets/{{id}}") == 1


async def test_create_survives_a_failing_follow_up_read(sim, conn, http):
    # The ticket exists once POST /tickets answered; a failing GET must not turn that into an error.
    sim.faults.add(kind="status", status=503, method="GET", path=r"/tickets/\d+$", count=3)
    result = await conn.perform("create_ticket", draft(contact_ref="41"))
    # The ticket is found the way recovery finds it (this customer's, our title, just created).
    assert int(result.external_id) in sim.tickets
    assert result.number == sim.tickets[int(result.external_id)]["TicketNumber"]
    assert http.calls[("atera", "503")] == 3


async def test_lost_answer_on_create_then_recover(sim, conn):
    since = datetime.now(UTC)
    sim.faults.add(kind="drop_after", method="POST", path="/tickets$")
    with pytest.raises(VendorError) as caught:
        await conn.perform("create_ticket", draft(contact_ref="41"))
    assert caught.value.retry_safe is False
    found = await conn.recover("create_ticket", draft(), since)
    assert found is not None and int(found.external_id) in sim.tickets and len(sim.tickets) == 2


async def test_simulator_lists_alert_writes_and_errors(sim, conn):
    for n in range(3):
        await conn.perform("create_ticket", draft(subject=f"T{n}", contact_ref="41"))
    headers = await conn.auth_headers()
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=headers) as s:
        async with s.get(f"{ROOT}/tickets", params={"page": "2", "itemsInPage": "3",
                                                    "customerId": "7"}) as r:
            page = await r.json()
        assert (page["totalItemCount"], page["page"], page["itemsInPage"], page["totalPages"]) == (4, 2, 3, 2)
        assert len(page["items"]) == 1 and "page=1" in page["prevLink"] and page["nextLink"] == ""
        async with s.get(f"{ROOT}/tickets", params={"itemsInPage": "500"}) as r:
            assert (await r.json())["itemsInPage"] == 50
        for path in ("/customers", "/agents", "/contracts", "/billing/invoices", "/alerts"):
            async with s.get(ROOT + path) as r:
                body = await r.json()
            assert set(body) == {"items", "totalItemCount", "page", "itemsInPage", "totalPages",
                                 "prevLink", "nextLink"} and body["items"]
        async with s.put(f"{ROOT}/alerts/90") as r:
            assert r.status == 204 and sim.alerts[90]["Archived"] is True
        async with s.get(f"{ROOT}/alerts", params={"alertStatus": "Open"}) as r:
            assert [a["AlertID"] for a in (await r.json())["items"]] == [91]
        async with s.delete(f"{ROOT}/alerts/91") as r:
            assert r.status == 204 and 91 not in sim.alerts
        async with s.delete(f"{ROOT}/alerts/91") as r:
            assert r.status == 404
        async with s.get(f"{ROOT}/tickets/999") as r:
            problem = await r.json(content_type=None)
            assert r.status == 404 and r.content_type == "application/problem+json"
            assert problem["status"] == 404 and problem["title"] == "Not Found"
        async with s.post(f"{ROOT}/tickets", json={"Description": "x", "EndUserID": 41}) as r:
            assert r.status == 400
            assert "ticket.TicketTitle" in (await r.json(content_type=None))["errors"]
        async with s.post(f"{ROOT}/tickets/3001/comments", json={"CommentText": "x"}) as r:
            assert r.status == 400
        async with s.get(f"{ROOT}/tickets/3001/comments") as r:
            assert (await r.json())["totalItemCount"] == 0
    async with aiohttp.ClientSession(base_url=sim.base_url) as s:
        async with s.get(f"{ROOT}/tickets") as r:
            assert r.status == 401
