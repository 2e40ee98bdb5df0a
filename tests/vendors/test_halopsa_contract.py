"""HaloPSA against its published API (vectis/vendors/halopsa/contract.json): every verb and every
read entity over real HTTP to the simulator (the autouse contract check validates each exchange),
the published examples replayed through the reader and connector, the old wrong shapes refused by
the contract, and the behaviour of each fidelity fix (closing status, ticket type, details,
inactive contracts, invoice lines, "no date" values, the auth server from authinfo)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from vectis.vendors import simkit
from vectis.vendors.base import CloseDraft, NoteDraft, TicketDraft
from vectis.vendors.errors import VendorError
from vectis.vendors.halopsa import connector as halopsa
from vectis.vendors.halopsa.simulator import HaloPSASimulator
from vectis.vendors.halopsa.wire import NO_DATE
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.reading import THREADS_AT_ONCE

from ..support.vendor_contracts import VENDORS_DIR, contract

EXAMPLES = VENDORS_DIR / "halopsa" / "examples"
PAST = "2024-01-15T09:30:00.1234567Z"
CLIENTS = [{"id": 12, "name": "Acme Dental"}, {"id": 13, "name": "Old Co", "inactive": True}]
USERS = [{"id": 301, "name": "Jane Doe", "emailaddress": "jane@acme.example", "client_id": 12,
          "title": "Ms"},
         {"id": 302, "name": "Gone User", "emailaddress": "gone@acme.example", "client_id": 12,
          "inactive": True}]
TICKETS = [{"id": 77, "summary": "Printer jam", "details": "Tray 2", "client_id": 12,
            "user_id": 301, "status_id": 2, "priority_id": 2, "dateoccurred": PAST,
            "lastactiondate": PAST, "last_update": PAST},
           {"id": 78, "summary": "Old laptop", "details": "Recycled", "client_id": 12,
            "status_id": 9, "priority_id": 4, "dateoccurred": PAST, "lastactiondate": PAST,
            "last_update": PAST, "dateclosed": NO_DATE}]
ACTIONS = [{"ticket_id": 77, "id": 1, "note": "Looking into it", "outcome": "Note",
            "hiddenfromuser": False, "datetime": PAST, "who": "Sam Tech"}]
CONTRACTS = [{"id": 5, "client_id": 12, "ref": "Managed", "start_date": "2024-01-01T00:00:00",
              "end_date": NO_DATE, "active": True, "periodchargeamount": 1200.0},
             {"id": 6, "client_id": 12, "ref": "Old plan", "start_date": "2020-01-01T00:00:00",
              "end_date": "2021-01-01T00:00:00", "active": False, "periodchargeamount": 300.0}]
INVOICES = [{"id": 40, "client_id": 12, "invoicenumber": "INV-40", "invoice_date": PAST,
             "duedate": NO_DATE, "total": 150.0, "amountdue": 150.0, "posted": True,
             "paymentstatus": 0,
             "lines": [{"item_shortdescription": "Support hours", "qty_order": 2.0,
                        "unit_price": 75.0, "net_amount": 150.0}]}]


@pytest.fixture(autouse=True)
def fresh_caches():
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()
    yield
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()


@pytest.fixture
def seen():
    """The contract operation of every exchange any simulator served during the test."""
    ops: list[str] = []
    halo = contract("halopsa")

    def observe(exchange):
        op = halo.operation(exchange.method, exchange.path)
        if exchange.vendor == "halopsa" and op is not None:
            ops.append(op.name)

    simkit.EXCHANGE_OBSERVERS.append(observe)
    yield ops
    simkit.EXCHANGE_OBSERVERS.remove(observe)


def seeded(**kw) -> HaloPSASimulator:
    sim = HaloPSASimulator(**kw)
    sim.seed(clients=CLIENTS, users=USERS, tickets=TICKETS, actions=ACTIONS, contracts=CONTRACTS,
             invoices=INVOICES)
    return sim


@pytest.fixture
async def sim():
    simulator = seeded()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def http():
    client = VendorHttp(policy=RetryPolicy(attempts=3, backoff=(0.01, 0.02, 0.05), timeout=2.0))
    yield client
    await client.close()


def connect(sim, http, credentials=None, **settings) -> halopsa.HaloPSA:
    return halopsa.HaloPSA(sim.base_url, credentials or sim.credentials, http, settings or None)


def draft(**kw) -> TicketDraft:
    return TicketDraft(**{"company_ref": "12", "subject": "VPN down", "description": "Since 9am",
                          "priority": "high", **kw})


async def read_all(conn, entity, since=None):
    records = []
    async for page in conn.read(entity, since):
        records += page
    return {r.external_id: r for r in records}


def posted(sim, path: str) -> list:
    return [r["body"] for r in sim.log if r["method"] == "POST" and r["path"] == path]


# --- every verb and entity, held to the contract ------------------------------------------------
async def test_every_verb_and_entity_against_the_simulator(sim, http, seen):
    conn = connect(sim, http)
    since = datetime.now(UTC) - timedelta(seconds=30)
    created = await conn.perform("create_ticket", draft(requester={"name": "Jane Doe",
                                                                   "email": "jane@acme.example"}))
    note = await conn.perform("add_note", NoteDraft(created.external_id, "Rebooted", internal=True))
    closed = await conn.perform("close_ticket", CloseDraft(created.external_id, resolution="Fixed"))
    assert (created.status, closed.status) == ("new", "closed")
    assert (await conn.recover("create_ticket", draft(), since)).external_id == created.external_id
    assert (await conn.recover("add_note", NoteDraft(created.external_id, "Rebooted", True),
                               since)).external_id == note.external_id
    for entity in conn.SYNC_ENTITIES:
        assert await read_all(conn, entity)
    assert str(created.external_id) in await read_all(conn, "tickets", since)
    assert set(seen) == set(contract("halopsa").doc["operations"])


# --- published examples ---------------------------------------------------------------------------
async def test_published_statuses_and_ticket_replayed_through_the_reader_and_connector(http):
    statuses = json.loads((EXAMPLES / "list_statuses.200.json").read_text())
    ticket = json.loads((EXAMPLES / "upsert_tickets.200.json").read_text())
    sim = HaloPSASimulator()
    # The published status array is the instance's; the published ticket is what it stores.
    sim.seed(statuses=statuses, clients=[{"id": 12, "name": "York University"}], tickets=[ticket])
    await sim.start()
    try:
        conn = connect(sim, http)
        records = await read_all(conn, "tickets")
        record = records["110043"]
        assert {k: record.fields[k] for k in ("number", "subject", "description", "status",
                                              "priority", "requester", "closed_at")} == {
            "number": "110043", "subject": "New computer request",
            "description": "I need a new computer<br>MacBook Pro 14", "status": "new",
            "priority": "medium", "closed_at": None,
            "requester": {"name": "Example Requester", "email": "requester@example.invalid"}}
        assert record.fields["created_at"] == datetime(2022, 9, 30, 8, 23, 56, 421438, tzinfo=UTC)
        assert record.fields["updated_at"] == datetime(2022, 9, 30, 8, 24, 2, 202645, tzinfo=UTC)
        assert record.links == {"customer": "12", "contact": "399"}
        closed = await conn.perform("close_ticket", CloseDraft("110043"))
        assert closed.status == "closed" and sim.tickets[110043]["status_id"] == 9
    finally:
        await sim.stop()


class ReplayedCreate(HaloPSASimulator):
    """Answers a ticket create with the published live answer, verbatim."""

    async def post_tickets(self, request: web.Request) -> web.Response:
        return web.Response(body=(EXAMPLES / "upsert_tickets.200.json").read_bytes(),
                            content_type="application/json")


async def test_published_create_answer_replayed_through_the_connector(http):
    sim = ReplayedCreate()
    sim.seed(statuses=json.loads((EXAMPLES / "list_statuses.200.json").read_text()))
    await sim.start()
    try:
        result = await connect(sim, http).perform("create_ticket", draft())
    finally:
        await sim.stop()
    assert (result.external_id, result.number, result.status, result.vendor_status) == (
        "110043", "110043", "new", 200)
    assert result.created_at == datetime(2022, 9, 30, 8, 23, 56, 421438, tzinfo=UTC)
    assert result.extra == {"client_id": 12}


# --- the contract bites -----------------------------------------------------------------------------
def test_the_old_wrong_shapes_fail_the_contract():
    halo = contract("halopsa")
    ops = {o.name: o for o in halo.operations}

    def valid(schema, value) -> bool:
        return not list(halo.validator(schema).iter_errors(value))

    statuses = ops["list_statuses"].spec["responses"]["200"]["body"]
    assert valid(statuses, [{"id": 9, "name": "Closed", "type": 0}])
    assert not valid(statuses, [{"id": 9, "name": "Closed", "type": "closed"}])   # old simulator
    tickets_query = ops["list_tickets"].spec["query"]
    assert valid(tickets_query, {"order": "id", "pageinate": "true"})
    assert not valid(tickets_query, {"order": "id", "includedetails": "true"})   # old reader
    assert valid(ops["get_ticket"].spec["query"], {"includedetails": "true"})
    # The old simulator answered creates 201 with an array; Halo documents 200.
    assert halo.response_spec(ops["upsert_tickets"], 201) is None
    assert halo.response_spec(ops["create_actions"], 201) is None
    users = ops["list_users"].spec["responses"]["200"]["body"]
    assert not valid(users, {"record_count": 1, "users": [{"id": 1, "jobtitle": "CTO"}]})
    token = ops["get_token"]
    assert token.spec["content_type"].startswith("application/x-www-form-urlencoded")


# --- closing status ---------------------------------------------------------------------------------
async def test_closes_with_halos_closed_id_even_when_renamed(http):
    sim = HaloPSASimulator()
    renamed = [{"id": 1, "name": "New", "type": 0}, {"id": 2, "name": "In Progress", "type": 0},
               {"id": 9, "name": "Completed", "type": 0}]
    sim.seed(statuses=renamed, clients=CLIENTS, tickets=[TICKETS[0]])
    await sim.start()
    try:
        result = await connect(sim, http).perform("close_ticket", CloseDraft("77"))
    finally:
        await sim.stop()
    assert result.status == "closed" and sim.tickets[77]["status_id"] == 9
    assert not sim.tickets[77]["dateclosed"].startswith("1900")


async def test_closing_status_is_a_setting(http):
    sim = HaloPSASimulator()
    sim.seed(statuses=[*sim.statuses, {"id": 12, "name": "Cancelled", "type": 0}],
             closed_ids={9, 12}, clients=CLIENTS, tickets=[TICKETS[0]])
    await sim.start()
    try:
        conn = connect(sim, http, closed_status_id=12)
        plan = await conn.plan("close_ticket", CloseDraft("77"))
        result = await conn.perform("close_ticket", CloseDraft("77"))
        records = await read_all(conn, "tickets")
    finally:
        await sim.stop()
    assert plan[-1].body == [{"id": 77, "status_id": 12}]
    assert result.status == "closed" and sim.tickets[77]["status_id"] == 12
    assert records["77"].fields["status"] == "closed" and records["77"].fields["closed_at"]


async def test_a_missing_closing_status_says_how_to_set_it(http):
    sim = HaloPSASimulator()
    sim.seed(statuses=[{"id": 1, "name": "New", "type": 0}, {"id": 2, "name": "Done", "type": 0}],
             clients=CLIENTS, tickets=[TICKETS[0]])
    await sim.start()
    try:
        with pytest.raises(VendorError) as caught:
            await connect(sim, http).perform("close_ticket", CloseDraft("77", resolution="x"))
    finally:
        await sim.stop()
    text = caught.value.describe("acme", "src_halo")
    assert "no status 9" in text and "2 Done" in text
    assert ("python server.py admin connect-source acme src_halo --setting closed_status_id=<id>"
            in text)
    assert posted(sim, "/api/Tickets") == [] and posted(sim, "/api/Actions") == []


# --- ticket type, status, priority and outcomes -----------------------------------------------------
async def test_ticket_type_new_status_and_priorities_are_settings(sim, http):
    await connect(sim, http).perform("create_ticket", draft())
    (default,) = posted(sim, "/api/Tickets")[-1]
    assert default["tickettype_id"] == 1 and "status_id" not in default   # the type's start status
    assert default["priority_id"] == 2
    conn = connect(sim, http, ticket_type_id=3, new_status_id=2,
                   priority_ids="critical=4,high=3,medium=2,low=1")
    result = await conn.perform("create_ticket", draft())
    (chosen,) = posted(sim, "/api/Tickets")[-1]
    assert (chosen["tickettype_id"], chosen["status_id"], chosen["priority_id"]) == (3, 2, 3)
    assert sim.tickets[int(result.external_id)]["tickettype_id"] == 3
    assert result.status == "in_progress"


async def test_a_ticket_type_that_needs_more_fields_says_what_to_do(sim, http):
    with pytest.raises(VendorError) as caught:
        await connect(sim, http, ticket_type_id=29).perform("create_ticket", draft())
    assert caught.value.status == 400 and caught.value.retry_safe
    assert "category_1" in str(caught.value)
    assert "--setting ticket_type_id=<id>" in caught.value.describe("acme", "src_halo")
    assert set(sim.tickets) == {77, 78}


async def test_unknown_new_status_is_refused_before_sending(sim, http):
    with pytest.raises(VendorError) as caught:
        await connect(sim, http, new_status_id=55).perform("create_ticket", draft())
    assert "--setting new_status_id=<id>" in caught.value.describe()
    assert posted(sim, "/api/Tickets") == []


async def test_bad_priority_map_says_how_to_fix_it(sim, http):
    with pytest.raises(VendorError) as caught:
        await connect(sim, http, priority_ids="urgent=1").perform("create_ticket", draft())
    assert "priority_ids=critical=1,high=2,medium=3,low=4" in caught.value.describe()


async def test_outcomes_are_settings(sim, http):
    conn = connect(sim, http, note_outcome="Update", private_note_outcome="Tech Note",
                   resolution_outcome="Resolved")
    await conn.perform("add_note", NoteDraft("77", "public", internal=False))
    await conn.perform("add_note", NoteDraft("77", "private", internal=True))
    await conn.perform("close_ticket", CloseDraft("77", resolution="done"))
    assert [a[0]["outcome"] for a in posted(sim, "/api/Actions")] == ["Update", "Tech Note",
                                                                      "Resolved"]
    defaults = connect(sim, http)
    await defaults.perform("add_note", NoteDraft("77", "again", internal=False))
    assert posted(sim, "/api/Actions")[-1][0]["outcome"] == "Note"


async def test_creates_answer_one_object(sim, http):
    result = await connect(sim, http).perform("add_note", NoteDraft("77", "hi", internal=True))
    assert result.vendor_status == 200 and result.external_id.startswith("77:")


# --- reading ----------------------------------------------------------------------------------------
async def test_details_come_from_the_single_ticket_with_bounded_concurrency(http):
    sim = HaloPSASimulator()
    many = [{"id": 500 + n, "summary": f"T{n}", "details": f"Body {n}", "client_id": 12,
             "status_id": 2, "dateoccurred": PAST} for n in range(12)]
    sim.seed(clients=CLIENTS, tickets=many)
    await sim.start()
    try:
        records = await read_all(connect(sim, http), "tickets")
    finally:
        await sim.stop()
    assert {r.fields["description"] for r in records.values()} == {f"Body {n}" for n in range(12)}
    lists = [r["params"] for r in sim.log if r["path"] == "/api/Tickets"]
    assert lists and all("includedetails" not in p for p in lists)
    singles = [r for r in sim.log if r["path"].startswith("/api/Tickets/")]
    assert len(singles) == 12 and all(r["params"] == {"includedetails": "true"} for r in singles)
    assert sim.max_in_flight <= THREADS_AT_ONCE


async def test_a_ticket_gone_between_list_and_details_keeps_no_description(sim, http):
    class Vanishing(HaloPSASimulator):
        async def get_ticket(self, request):
            return web.Response(status=404, text="Ticket not found")

    gone = Vanishing()
    gone.seed(clients=CLIENTS, tickets=[TICKETS[0]])
    await gone.start()
    try:
        records = await read_all(connect(gone, http), "tickets")
    finally:
        await gone.stop()
    assert "description" not in records["77"].fields and records["77"].fields["subject"]


async def test_contracts_include_inactive_and_no_date_reads_as_none(sim, http):
    conn = connect(sim, http)
    contracts = await read_all(conn, "contracts")
    assert {k: (r.fields["status"], r.fields["end_date"]) for k, r in contracts.items()} == {
        "5": ("active", None), "6": ("expired", datetime(2021, 1, 1, tzinfo=UTC))}
    assert [r["params"]["includeinactive"] for r in sim.log
            if r["path"] == "/api/ClientContract"] == ["true"]


async def test_invoices_ask_for_lines_and_no_due_date_is_not_overdue(sim, http):
    invoices = await read_all(connect(sim, http), "invoices")
    fields = invoices["40"].fields
    assert fields["lines"] == [{"description": "Support hours", "quantity": 2.0,
                                "unit_price": 75.0, "amount": 150.0}]
    assert fields["due_at"] is None and fields["status"] == "open"


async def test_closed_ticket_without_a_close_date_and_contacts_without_title(sim, http):
    conn = connect(sim, http)
    tickets = await read_all(conn, "tickets")
    old = tickets["78"].fields
    assert old["status"] == "closed" and old["closed_at"] == old["updated_at"]
    assert old["priority"] == "low"
    contacts = await read_all(conn, "contacts")
    assert "title" not in contacts["301"].fields and contacts["302"].deleted


async def test_simulator_without_parameters_leaves_out_what_halo_leaves_out(sim, http):
    conn = connect(sim, http)
    headers = await conn.auth_headers()
    # A probe by hand (not the connector): Halo ignores `includedetails` on the list.
    async with aiohttp.ClientSession(base_url=sim.base_url, headers=headers) as session:
        async with session.get("/api/ClientContract") as r:
            assert [c["id"] for c in (await r.json())["contracts"]] == [5]
        async with session.get("/api/Invoice") as r:
            assert "lines" not in (await r.json())["invoices"][0]
        async with session.get("/api/Tickets/77") as r:
            assert "details" not in await r.json()
        async with session.get("/api/Tickets", params={"includedetails": "true"}) as r:
            assert "details" not in (await r.json())["tickets"][0]
        async with session.get("/api/AuthInfo") as r:
            assert (await r.json())["auth_url"] == f"{sim.base_url}/auth"


# --- authentication ---------------------------------------------------------------------------------
async def test_the_auth_server_comes_from_authinfo(http):
    auth = HaloPSASimulator()
    api = seeded(auth_root=None)
    await auth.start()
    api.auth_root = auth.base_url          # the instance names another origin's auth server
    auth.credentials, auth.tokens = api.credentials, api.tokens
    await api.start()
    try:
        await connect(api, http).perform("add_note", NoteDraft("77", "one", internal=True))
        await connect(api, http).perform("add_note", NoteDraft("77", "two", internal=True))
    finally:
        await api.stop()
        await auth.stop()
    assert auth.count("POST", "/auth/token") == 1 and api.count("POST", "/auth/token") == 0
    assert api.count("GET", "/api/authinfo") == 1        # cached for the instance


async def test_without_authinfo_the_token_url_falls_back(http):
    sim = seeded(authinfo=False)
    await sim.start()
    try:
        await connect(sim, http).perform("add_note", NoteDraft("77", "one", internal=True))
    finally:
        await sim.stop()
    assert sim.count("GET", "/api/authinfo") == 1 and sim.count("POST", "/auth/token") == 1


async def test_the_auth_url_setting_skips_discovery(sim, http):
    conn = connect(sim, http, auth_url=f"{sim.base_url}/auth/")
    await conn.perform("add_note", NoteDraft("77", "one", internal=True))
    assert sim.count("GET", "/api/authinfo") == 0 and sim.count("POST", "/auth/token") == 1


async def test_the_tenant_comes_from_authinfo_when_not_configured(sim, http):
    # The simulator refuses a token request without its tenant, so this succeeds only with the
    # `tenant_id` authinfo gave.
    credentials = {k: v for k, v in sim.credentials.items() if k != "tenant"}
    result = await connect(sim, http, credentials).perform("add_note",
                                                           NoteDraft("77", "x", internal=True))
    assert result.external_id and sim.count("GET", "/api/authinfo") == 1
    halopsa._AUTH_SERVERS.clear()
    sim.authinfo_served = False             # no authinfo, no tenant: Halo refuses the token
    halopsa._TOKENS.clear()
    with pytest.raises(VendorError) as caught:
        await connect(sim, http, credentials).perform("add_note", NoteDraft("77", "y", True))
    assert caught.value.status == 401


async def test_refused_credentials_point_at_the_halo_api_application(sim, http):
    bad = connect(sim, http, {**sim.credentials, "client_secret": "wrong"})
    with pytest.raises(VendorError) as caught:
        await bad.perform("add_note", NoteDraft("77", "x", internal=True))
    text = caught.value.describe("acme", "src_halo")
    assert caught.value.status == 401 and "Configuration > Integrations > HaloPSA API" in text
    assert "admin connect-source acme src_halo --base-url URL --credentials-stdin" in text


async def test_errors_have_halos_shape(sim, http):
    sim.faults.add(kind="status", status=429, retry_after=5, method="GET", path="^/api/Status$")
    sim.faults.add(kind="status", status=503, method="GET", path="^/api/Status$")
    result = await connect(sim, http).perform("close_ticket", CloseDraft("77"))
    assert result.status == "closed"
    assert http.calls[("halopsa", "429")] == 1 and http.calls[("halopsa", "503")] == 1
    response = sim.error_response(429, "slow down", retry_after=5)
    assert "Retry-After" not in response.headers and response.text == "slow down"
    assert sim.error_response(401, "no").headers["WWW-Authenticate"] == "Bearer"


def test_settings_are_declared_with_defaults():
    defaults = {s.name: s.default for s in halopsa.HaloPSA.settings}
    assert defaults == {"closed_status_id": 9, "new_status_id": None, "ticket_type_id": 1,
                        "priority_ids": "critical=1,high=2,medium=3,low=4",
                        "note_outcome": "Note", "private_note_outcome": "Private Note",
                        "resolution_outcome": "Note", "auth_url": None}
    assert set(halopsa.HaloPSA.effects) == set(halopsa.HaloPSA.verbs)
