"""Autotask read side for the sync engine, on a real tenant: demo data seeded into the database, a
simulator fleet seeded from it, and the source's connector reading every entity back. The round
trip gives the canonical values wherever Autotask can carry them; small pages (nextPageUrl),
incremental reads after a change at the vendor, deactivation as deletion, the invoice snapshot and
a 429 mid-read are checked on the same setup. The same round trip runs again on a wider generated
tenant (in memory), whose data has every customer, contract and invoice status.

Changes at the vendor are stamped by the simulator's clock, moved an hour ahead, and incremental
reads ask from half an hour ahead: seeded records are never newer than the seeding, so the
outcome does not depend on how fast the machine runs."""
from __future__ import annotations

import math
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.generator import generate_tenant
from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.simulators.seeding import SOURCE_COLLECTIONS, load_source_docs, seed_from_tenant
from vectis.sync.records import Record
from vectis.vendors.autotask.simulator import API_RESOURCE_ID, ROOT, AutotaskSimulator
from vectis.vendors.base import Connector
from vectis.vendors.connections import Connections
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import make_connector

SLUG = "atread"
WIDE = "wide-c"          # a generated tenant whose data has every customer/contract/invoice status
POLICY = RetryPolicy(attempts=3, backoff=(0.01,), timeout=5.0)
ENTITIES = ("customers", "contacts", "tickets", "contracts", "invoices")
# What Autotask cannot tell apart: no stock "Open" or "Resolved" ticket status, no onboarding
# company type, contracts only active or inactive (an inactive one that has ended is expired).
TICKET_STATUS = {"open": "in_progress", "resolved": "closed"}
CUSTOMER_STATUS = {"onboarding": "active"}
CONTRACT_STATUS = {"cancelled": "expired"}
WAITING_CUSTOMER, COMPLETE = 7, 5


@dataclass
class Env:
    http: VendorHttp
    connector: Connector
    sim: AutotaskSimulator
    source_id: str
    canonical: dict[str, list[dict]]     # the source's documents, as the simulator was seeded

    def docs(self, collection: str) -> list[dict]:
        return self.canonical[collection]

    def ref(self, doc: dict) -> str:
        return next(r["external_id"] for r in doc["refs"] if r["source_id"] == self.source_id)

    def later(self, minutes: int) -> datetime:
        """Move the vendor's clock `minutes` ahead of now; returns that moment."""
        moment = datetime.now(UTC) + timedelta(minutes=minutes)
        self.sim.clock = lambda: moment
        return moment


@pytest.fixture
async def env(storage):
    await seed_tenant(storage, SLUG, "AT Read", passwords={}, customers=4, tickets_per_customer=4,
                      now=datetime.now(UTC), vendors=("autotask", "ninjaone", "datto_bcdr"))
    http = VendorHttp(policy=POLICY)
    connections = Connections(storage, secrets.token_bytes(32), http)
    fleet = SimulatorFleet()
    try:
        await fleet.start_for_tenants(storage, connections, [SLUG])
        source = next(s for s in await storage.sources.list(SLUG) if s["kind"] == "psa")
        _, connector = await connections.connector(SLUG, source["_id"])
        yield Env(http, connector, fleet.simulator(SLUG, source["_id"]), source["_id"],
                  await load_source_docs(storage, SLUG, source["_id"]))
    finally:
        await fleet.stop()
        await http.close()


@pytest.fixture
async def wide():
    """A wider generated tenant, seeded straight into a simulator (no database)."""
    generated: dict[str, list[dict]] = defaultdict(list)
    for collection, batch in generate_tenant(WIDE, customers=40, tickets_per_customer=1,
                                             now=datetime.now(UTC),
                                             vendors=("autotask", "ninjaone", "datto_bcdr")):
        generated[collection] += batch
    source = next(s for s in generated["sources"] if s["kind"] == "psa")
    canonical = {c: [d for d in generated[c] if any(r["source_id"] == source["_id"]
                                                    for r in d.get("refs") or ())]
                 for c in SOURCE_COLLECTIONS}
    tickets = {t["_id"] for t in canonical["tickets"]}
    canonical["ticket_messages"] = [m for m in generated["ticket_messages"] if m["ticket_id"] in tickets]
    sim, http = AutotaskSimulator(), VendorHttp(policy=POLICY)
    seed_from_tenant(sim, "autotask", {**canonical, "sources": [source]})
    await sim.start()
    try:
        yield Env(http, make_connector("autotask", sim.base_url + ROOT, sim.credentials, http),
                  sim, source["_id"], canonical)
    finally:
        await sim.stop()
        await http.close()


async def read(connector: Connector, entity: str, since: datetime | None = None) -> list[list[Record]]:
    return [page async for page in connector.read(entity, since)]


async def read_all(connector: Connector, entity: str, since: datetime | None = None) -> dict[str, Record]:
    return {r.external_id: r for page in await read(connector, entity, since) for r in page}


def near(a: datetime | None, b: datetime | None) -> bool:
    """Equal within a second (vendors keep whole seconds or milliseconds)."""
    if a is None or b is None:
        return a is b
    return abs(a - b) < timedelta(seconds=1)


def spy(connector: Connector, monkeypatch) -> list:
    calls, real_send = [], connector.send

    async def send(call, **kw):
        calls.append(call)
        return await real_send(call, **kw)

    monkeypatch.setattr(connector, "send", send)
    return calls


# --- the full round trip -------------------------------------------------------------------------
async def test_round_trip_on_the_tenant(env):
    assert env.connector.SYNC_ENTITIES == {
        "customers": "incremental", "contacts": "incremental", "tickets": "incremental",
        "contracts": "incremental", "invoices": "snapshot"}
    await check_counts_and_ids(env)
    await check_customers_and_contacts(env)
    await check_tickets_and_notes(env)
    await check_contracts_and_invoices(env)


async def test_round_trip_on_a_wider_tenant(wide):
    statuses = {c: {d["status"] for d in wide.docs(c)} for c in ("customers", "contracts", "invoices")}
    assert statuses == {"customers": {"active", "onboarding", "churned", "prospect"},
                        "contracts": {"active", "pending", "expired", "cancelled"},
                        "invoices": {"open", "overdue", "paid", "void"}}
    await check_counts_and_ids(wide)
    await check_customers_and_contacts(wide)
    await check_tickets_and_notes(wide)
    await check_contracts_and_invoices(wide)


async def check_counts_and_ids(env: Env) -> None:
    for entity in ENTITIES:
        docs = env.docs(entity)
        records = await read_all(env.connector, entity)
        assert docs and set(records) == {env.ref(d) for d in docs}, entity
        # Churned customers are of type Cancellation: former customers, not removed records.
        assert not any(r.deleted for r in records.values()), entity


async def check_customers_and_contacts(env: Env) -> None:
    customers = {env.ref(c): c for c in env.docs("customers")}
    customer_ref = {c["_id"]: ref for ref, c in customers.items()}
    records = await read_all(env.connector, "customers")
    for ref, doc in customers.items():
        fields = records[ref].fields
        assert fields["name"] == doc["name"]
        # Autotask names the country by a countryID the demo seeding does not set.
        assert fields["address"] == {k: v for k, v in doc["address"].items() if k != "country"}
        assert fields["status"] == CUSTOMER_STATUS.get(doc["status"], doc["status"])
    records = await read_all(env.connector, "contacts")
    for doc in env.docs("contacts"):
        record = records[env.ref(doc)]
        assert {k: record.fields[k] for k in ("name", "email", "phone", "title", "is_primary")} == \
            {k: doc[k] for k in ("name", "email", "phone", "title", "is_primary")}
        assert record.links == {"customer": customer_ref[doc["customer_id"]]}


async def check_tickets_and_notes(env: Env) -> None:
    contact_ref = {c["email"]: env.ref(c) for c in env.docs("contacts")}
    customer_ref = {c["_id"]: env.ref(c) for c in env.docs("customers")}
    records = await read_all(env.connector, "tickets")
    messages = env.docs("ticket_messages")
    internal = 0
    for doc in env.docs("tickets"):
        record = records[env.ref(doc)]
        f = record.fields
        assert (f["number"], f["subject"], f["description"], f["priority"], f["requester"]) == \
            (doc["number"], doc["subject"], doc["description"], doc["priority"], doc["requester"])
        assert f["status"] == TICKET_STATUS.get(doc["status"], doc["status"])
        assert all(near(f[k], doc[k]) for k in ("created_at", "updated_at", "closed_at"))
        assert f["assignee"] is None          # the demo seeding assigns no Autotask resource
        assert record.links == {"customer": customer_ref[doc["customer_id"]],
                                "contact": contact_ref[doc["requester"]["email"]]}
        thread = sorted((m for m in messages if m["ticket_id"] == doc["_id"]),
                        key=lambda m: m["created_at"])
        assert [c.external_id for c in record.children] == [env.ref(m) for m in thread]
        for child, message in zip(record.children, thread, strict=True):
            assert child.fields["body"] == message["body"]
            assert child.fields["is_internal"] == message["is_internal"]
            assert near(child.fields["created_at"], message["created_at"])
            if message["author"]["kind"] == "contact":
                assert child.fields["author"] == message["author"]
            else:                             # seeded without a creator resource
                assert "author" not in child.fields
            internal += message["is_internal"]
    assert internal > 0


async def check_contracts_and_invoices(env: Env) -> None:
    records = await read_all(env.connector, "contracts")
    for doc in env.docs("contracts"):
        f = records[env.ref(doc)].fields
        assert (f["name"], f["kind"]) == (doc["name"], doc["kind"])
        assert f["status"] == CONTRACT_STATUS.get(doc["status"], doc["status"])
        assert near(f["start_date"], doc["start_date"]) and near(f["end_date"], doc["end_date"])
    records = await read_all(env.connector, "invoices")
    for doc in env.docs("invoices"):
        f = records[env.ref(doc)].fields
        assert (f["number"], f["status"], f["total"]) == (doc["number"], doc["status"], doc["total"])
        # A partly paid invoice is unpaid to Autotask: it owes the whole total.
        assert f["balance"] == (doc["total"] if doc["status"] in ("open", "overdue") else 0.0)
        assert near(f["issued_at"], doc["issued_at"]) and near(f["due_at"], doc["due_at"])


# --- paging --------------------------------------------------------------------------------------
async def test_small_pages_follow_next_page_urls(env, monkeypatch):
    everything = await read_all(env.connector, "tickets")
    env.connector.sync_page_size = 3
    calls = spy(env.connector, monkeypatch)
    pages = await read(env.connector, "tickets")
    assert len(pages) == math.ceil(len(everything) / 3) and all(len(p) <= 3 for p in pages)
    ids = [int(r.external_id) for page in pages for r in page]
    assert ids == sorted(ids) and {str(i) for i in ids} == set(everything)
    assert {r.external_id: len(r.children) for p in pages for r in p} == \
        {k: len(r.children) for k, r in everything.items()}
    ticket_calls = [c for c in calls if c.path.startswith("/Tickets/query")]
    # Each next page is POSTed with the first query's body, as Autotask's clients do.
    assert [c.method for c in ticket_calls] == ["POST"] * len(pages)
    assert all(c.path == "/Tickets/query/next" and c.body == ticket_calls[0].body
               for c in ticket_calls[1:])
    # Each page's notes come in one `in` query (followed to its own next pages).
    note_queries = [c for c in calls if c.path == "/TicketNotes/query"]
    assert len(note_queries) == len(pages)
    assert note_queries[0].body["filter"] == [{"op": "in", "field": "ticketID", "value": ids[:3]}]


async def test_incremental_filter_is_sent_in_whole_seconds(env, monkeypatch):
    calls = spy(env.connector, monkeypatch)
    since = datetime(2025, 6, 2, 9, 30, 15, 750000, tzinfo=UTC)
    await read(env.connector, "tickets", since)
    await read(env.connector, "contracts", since)
    await read(env.connector, "invoices", since)
    bodies = [c.body for c in calls if c.method == "POST" and c.path.endswith("/query")]
    stamp = "2025-06-02T09:30:15Z"
    assert bodies[0] == {"filter": [{"op": "or", "items": [
        {"op": "gte", "field": "lastActivityDate", "value": stamp},
        {"op": "gte", "field": "lastTrackedModificationDateTime", "value": stamp}]}],
        "maxRecords": 500}
    assert bodies[-2]["filter"] == [{"op": "gte", "field": "lastModifiedDateTime", "value": stamp}]
    assert bodies[-1]["filter"] == [{"op": "gte", "field": "id", "value": 0}]   # a snapshot


# --- incremental reads ---------------------------------------------------------------------------
async def test_incremental_read_returns_only_what_changed_with_the_new_values(env):
    last_run = datetime.now(UTC) + timedelta(minutes=30)
    for entity in ("customers", "contacts", "tickets", "contracts"):
        assert await read(env.connector, entity, last_run) == [], entity
    tickets = await read_all(env.connector, "tickets")
    waiting, done = (next(r for r in tickets.values() if r.fields["status"] != "closed"),
                     next(r for r in tickets.values() if r.fields["status"] == "closed"))
    quiet_ticket, assigned = [r for r in tickets.values() if r not in (waiting, done)][:2]
    changed_at = env.later(60)
    env.sim.touch_ticket(int(waiting.external_id), status=WAITING_CUSTOMER,
                         title="Printer still jammed")
    env.sim.touch_ticket(int(done.external_id), status=WAITING_CUSTOMER)   # reopened
    note = env.sim.add_note(int(quiet_ticket.external_id), "Customer called back", internal=True)
    env.sim.touch_ticket(int(assigned.external_id), assignedResourceID=API_RESOURCE_ID,
                         status=COMPLETE)
    company = next(i for i, c in env.sim.companies.items() if c["isActive"])
    env.sim.update("Companies", company, companyName="Renamed Holdings LLC", city="Tulsa")
    contact = min(env.sim.contacts)
    env.sim.update("Contacts", contact, title="Head of IT")
    contract = next(i for i, c in env.sim.contracts.items() if c["status"] == 1)
    env.sim.update("Contracts", contract, status=0)

    changed = await read_all(env.connector, "tickets", last_run)
    assert set(changed) == {r.external_id for r in (waiting, done, quiet_ticket, assigned)}
    moved = changed[waiting.external_id].fields
    assert (moved["status"], moved["subject"]) == ("waiting", "Printer still jammed")
    assert near(moved["updated_at"], changed_at)
    reopened = changed[done.external_id].fields
    assert (reopened["status"], reopened["closed_at"]) == ("waiting", None)
    thread = changed[quiet_ticket.external_id].children
    assert len(thread) == len(quiet_ticket.children) + 1 and thread[-1].external_id == str(note["id"])
    api_user = {"name": "API User", "email": env.sim.credentials["username"]}
    assert thread[-1].fields["is_internal"] is True
    assert thread[-1].fields["author"] == {"kind": "user", **api_user}
    completed = changed[assigned.external_id].fields
    assert completed["assignee"] == api_user and completed["status"] == "closed"
    assert near(completed["closed_at"], changed_at)
    customers = await read_all(env.connector, "customers", last_run)
    assert list(customers) == [str(company)]
    assert customers[str(company)].fields["name"] == "Renamed Holdings LLC"
    assert customers[str(company)].fields["address"]["city"] == "Tulsa"
    contacts = await read_all(env.connector, "contacts", last_run)
    assert list(contacts) == [str(contact)] and contacts[str(contact)].fields["title"] == "Head of IT"
    contracts = await read_all(env.connector, "contracts", last_run)
    # Deactivated while its dates still run: ended early.
    assert list(contracts) == [str(contract)] and contracts[str(contract)].fields["status"] == "cancelled"


async def test_deactivated_company_and_contact_come_back_deleted(env):
    last_run = datetime.now(UTC) + timedelta(minutes=30)
    env.later(60)
    company = next(i for i, c in env.sim.companies.items() if c["isActive"])
    contact = max(env.sim.contacts)
    env.sim.deactivate_company(company)
    env.sim.update("Contacts", contact, isActive=0)
    customers = await read_all(env.connector, "customers", last_run)
    assert list(customers) == [str(company)] and customers[str(company)].deleted
    assert customers[str(company)].fields["status"] == "churned"
    contacts = await read_all(env.connector, "contacts", last_run)
    assert list(contacts) == [str(contact)] and contacts[str(contact)].deleted


async def test_invoice_snapshot_shows_changes_and_loses_deleted_invoices(env):
    before = await read_all(env.connector, "invoices", datetime.now(UTC) + timedelta(minutes=30))
    assert len(before) == len(env.docs("invoices"))       # `since` is ignored
    unpaid = next(i for i, v in env.sim.invoices.items() if not v["paidDate"] and not v["isVoided"])
    gone = max(env.sim.invoices)
    env.later(60)
    env.sim.update("Invoices", unpaid, paidDate=env.sim.now())
    env.sim.delete_invoice(gone)
    after = await read_all(env.connector, "invoices", datetime.now(UTC) + timedelta(minutes=30))
    assert set(after) == set(before) - {str(gone)}
    assert (after[str(unpaid)].fields["status"], after[str(unpaid)].fields["balance"]) == ("paid", 0.0)


# --- vendor trouble --------------------------------------------------------------------------------
async def test_429_mid_read_is_waited_out(env):
    env.connector.sync_page_size = 2
    expected = await read_all(env.connector, "contacts")
    reading, records = env.connector.read("contacts", None), []
    records += await anext(reading)
    env.sim.faults.add(kind="status", status=429, retry_after=1, path=r"/Contacts/query")
    started = time.monotonic()
    records += [r for page in [p async for p in reading] for r in page]
    assert time.monotonic() - started >= 0.9                # Retry-After was honoured
    assert [r.external_id for r in records] == list(expected)
    assert env.http.calls[("autotask", "429")] == 1 and env.sim.faults.active == []


async def test_unknown_entity_is_refused(env):
    with pytest.raises(ValueError):
        await read(env.connector, "assets")
