"""HaloPSA connector against the HaloPSA simulator, over real HTTP."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from vectis.vendors.base import AlertDraft, CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError, VerbUnsupported
from vectis.vendors.halopsa import connector as halopsa
from vectis.vendors.halopsa.simulator import SIMULATOR
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import connector_class

CLIENT = {"id": 12, "name": "Acme Dental"}
USER = {"id": 301, "name": "Jane Doe", "emailaddress": "jane@acme.example", "client_id": 12}
TICKET = {"id": 77, "summary": "Printer jam", "details": "Tray 2", "client_id": 12, "status_id": 2}


@pytest.fixture(autouse=True)
def fresh_tokens():
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()
    yield
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()


@pytest.fixture
async def sim():
    simulator = SIMULATOR()
    simulator.seed(clients=[CLIENT, {"id": 13, "name": "Old Co", "inactive": True}], users=[USER],
                   tickets=[TICKET])
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
    return connector_class("halopsa")(sim.base_url, sim.credentials, http)


def writes(sim) -> list[dict]:
    return [{"method": r["method"], "path": r["path"], "body": r["body"]}
            for r in sim.log if r["method"] != "GET"]


def draft(**kw) -> TicketDraft:
    return TicketDraft(**{"company_ref": "12", "subject": "VPN down", "description": "Since 9am",
                          "priority": "high", **kw})


async def test_create_ticket_maps_fields(sim, conn):
    result = await conn.perform("create_ticket", draft(contact_ref="301"))
    ticket = sim.tickets[int(result.external_id)]
    assert {k: ticket[k] for k in ("summary", "details", "client_id", "priority_id",
                                   "tickettype_id", "status_id", "user_id")} == {
        "summary": "VPN down", "details": "Since 9am", "client_id": 12, "priority_id": 2,
        "tickettype_id": 1, "status_id": 1, "user_id": 301}
    assert ticket["user_email"] == "jane@acme.example"
    assert result.number == result.external_id and result.status == "new"
    assert result.created_at.tzinfo is not None and result.vendor_status == 200


async def test_priorities_and_requester_by_email(sim, conn):
    for canonical, halo_id in {"critical": 1, "high": 2, "medium": 3, "low": 4}.items():
        result = await conn.perform("create_ticket", draft(
            priority=canonical, requester={"name": "Jane Doe", "email": "JANE@acme.example"}))
        ticket = sim.tickets[int(result.external_id)]
        assert ticket["priority_id"] == halo_id and ticket["user_id"] == 301


async def test_plan_is_what_is_sent(sim, conn):
    planned = await conn.plan("create_ticket", draft())
    result = await conn.perform("create_ticket", draft())
    note = NoteDraft(ticket_ref=result.external_id, body="Rebooted the firewall", internal=True)
    planned += await conn.plan("add_note", note)
    await conn.perform("add_note", note)
    close = CloseDraft(ticket_ref=result.external_id, resolution="Firmware updated")
    planned += await conn.plan("close_ticket", close)
    await conn.perform("close_ticket", close)
    assert writes(sim) == [{"method": c.method, "path": c.path, "body": c.body} for c in planned]
    assert [c.view()["path"] for c in planned] == ["/api/Tickets", "/api/Actions", "/api/Actions",
                                                   "/api/Tickets"]


async def test_note_visibility(sim, conn):
    internal = await conn.perform("add_note", NoteDraft("77", "Checked the logs", internal=True))
    public = await conn.perform("add_note", NoteDraft("77", "We are on it", internal=False))
    actions = {a["id"]: a for a in sim.actions[77]}
    assert internal.external_id.startswith("77:") and public.external_id.startswith("77:")
    first, second = (actions[int(r.external_id.rpartition(":")[2])] for r in (internal, public))
    assert (first["hiddenfromuser"], first["sendemail"], first["note"]) == (True, False, "Checked the logs")
    assert (second["hiddenfromuser"], second["sendemail"]) == (False, True)
    assert internal.created_at.tzinfo is not None and internal.extra["ticket_id"] == 77


async def test_close_posts_resolution_once_and_closes(sim, conn):
    result = await conn.perform("close_ticket", CloseDraft("77", resolution="Replaced the roller"))
    assert result.status == "closed" and sim.tickets[77]["status_id"] == 9
    assert sim.tickets[77]["dateclosed"]
    notes = [a for a in sim.actions[77] if a["note"] == "Replaced the roller"]
    assert len(notes) == 1 and notes[0]["hiddenfromuser"] is False
    # Closing again (e.g. a retry after a lost answer) does not repeat the resolution note.
    assert [c.path for c in await conn.plan("close_ticket", CloseDraft("77", "Replaced the roller"))] \
        == ["/api/Tickets"]
    await conn.perform("close_ticket", CloseDraft("77", resolution="Replaced the roller"))
    assert len([a for a in sim.actions[77] if a["note"] == "Replaced the roller"]) == 1


async def test_recover_create(sim, conn):
    since = datetime.now(UTC)
    assert await conn.recover("create_ticket", draft(), since) is None
    created = await conn.perform("create_ticket", draft())
    found = await conn.recover("create_ticket", draft(), since)
    assert found.external_id == created.external_id and found.status == "new"
    assert await conn.recover("create_ticket", draft(subject="Other"), since) is None
    assert await conn.recover("create_ticket", draft(), since + timedelta(minutes=5)) is None


async def test_recover_note(sim, conn):
    since = datetime.now(UTC)
    note = NoteDraft("77", "Called the user", internal=False)
    assert await conn.recover("add_note", note, since) is None
    posted = await conn.perform("add_note", note)
    found = await conn.recover("add_note", note, since)
    assert found.external_id == posted.external_id
    assert await conn.recover("add_note", NoteDraft("77", "Called the user", True), since) is None
    assert await conn.recover("close_ticket", CloseDraft("77"), since) is None


async def test_alert_verbs_unsupported(conn):
    assert conn.missing == {} and not conn.supports("acknowledge_alert")
    for verb in ("acknowledge_alert", "resolve_alert"):
        with pytest.raises(VerbUnsupported) as caught:
            await conn.perform(verb, AlertDraft("1"))
        assert caught.value.reason == f"halopsa does not support {verb}"


async def test_wrong_credentials(sim, http):
    bad = halopsa.HaloPSA(sim.base_url, {**sim.credentials, "client_secret": "nope"}, http)
    with pytest.raises(VendorError) as caught:
        await bad.perform("create_ticket", draft())
    assert caught.value.status == 401 and caught.value.retry_safe is True
    assert not sim.tickets.keys() - {77}
    wrong_tenant = halopsa.HaloPSA(sim.base_url, {**sim.credentials, "tenant": "other"}, http)
    with pytest.raises(VendorError) as caught:
        await wrong_tenant.perform("add_note", NoteDraft("77", "x", internal=True))
    assert caught.value.status == 401 and sim.count("POST", "/api/Actions") == 0


async def test_token_cached_shared_and_renewed_after_expiry(sim, conn, http):
    await conn.perform("create_ticket", draft())
    twin = halopsa.HaloPSA(sim.base_url, dict(sim.credentials), http)
    await twin.perform("add_note", NoteDraft("77", "one", internal=True))
    assert sim.count("POST", "/auth/token") == 1
    sim.expire_tokens()
    result = await conn.perform("add_note", NoteDraft("77", "two", internal=True))
    assert result.external_id
    assert sim.count("POST", "/auth/token") == 2
    assert sim.count("POST", "/api/Actions") == 2


async def test_cached_token_is_not_lent_to_a_wrong_secret(sim, conn, http):
    await conn.perform("add_note", NoteDraft("77", "warm the cache", internal=True))
    impostor = halopsa.HaloPSA(sim.base_url, {**sim.credentials, "client_secret": "guess"}, http)
    with pytest.raises(VendorError) as caught:
        await impostor.perform("add_note", NoteDraft("77", "sneaky", internal=True))
    assert caught.value.status == 401


async def test_429_then_success(sim, conn, http):
    sim.faults.add(kind="status", status=429, method="POST", path="^/api/Tickets$")
    result = await conn.perform("create_ticket", draft())
    assert result.external_id
    assert sim.count("POST", "/api/Tickets") == 1 and http.calls[("halopsa", "429")] == 1


async def test_500_on_create_is_not_retried(sim, conn, http):
    sim.faults.add(kind="status", status=500, method="POST", path="^/api/Tickets$")
    with pytest.raises(VendorError) as caught:
        await conn.perform("create_ticket", draft())
    assert caught.value.status == 500 and caught.value.retry_safe is False
    assert http.calls[("halopsa", "500")] == 1 and sim.count("POST", "/api/Tickets") == 0
    assert list(sim.tickets) == [77]


async def test_500_on_close_upsert_is_retried(sim, conn, http):
    sim.faults.add(kind="status", status=500, method="POST", path="^/api/Tickets$")
    result = await conn.perform("close_ticket", CloseDraft("77"))
    assert result.status == "closed" and sim.tickets[77]["status_id"] == 9
    assert http.calls[("halopsa", "500")] == 1 and sim.count("POST", "/api/Tickets") == 1


async def test_lost_answer_on_create_then_recover(sim, conn):
    since = datetime.now(UTC)
    sim.faults.add(kind="drop_after", method="POST", path="^/api/Tickets$")
    with pytest.raises(VendorError) as caught:
        await conn.perform("create_ticket", draft())
    assert caught.value.retry_safe is False
    found = await conn.recover("create_ticket", draft(), since)
    assert found is not None and int(found.external_id) in sim.tickets
    assert len(sim.tickets) == 2


async def test_simulator_lists_and_errors(sim, conn):
    for n in range(3):
        await conn.perform("create_ticket", draft(subject=f"T{n}"))
    headers = await conn.auth_headers()
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=headers) as s:
        async with s.get("/api/Tickets", params={"pageinate": "true", "page_size": "3",
                                                 "page_no": "2", "client_id": "12"}) as r:
            page = await r.json()
        assert page["record_count"] == 4 and len(page["tickets"]) == 1 and page["page_no"] == 2
        assert "details" not in page["tickets"][0]
        async with s.get("/api/Client") as r:
            assert [c["id"] for c in (await r.json())["clients"]] == [12]
        for path, key in (("/api/ClientContract", "contracts"), ("/api/Invoice", "invoices")):
            async with s.get(path, params={"client_id": "12"}) as r:
                assert (await r.json()) == {"record_count": 0, key: []}
        async with s.get("/api/Tickets/999") as r:
            assert r.status == 404
        async with s.post("/api/Tickets", json=[{"client_id": 12}]) as r:
            assert r.status == 400 and "summary" in await r.text()
        async with s.post("/api/Tickets", json={"summary": "not an array"}) as r:
            assert r.status == 400
    async with aiohttp.ClientSession(base_url=sim.base_url) as s:
        async with s.get("/api/Tickets") as r:
            assert r.status == 401
        async with s.get("/api/authinfo") as r:
            assert (await r.json())["auth_url"].endswith("/auth")
