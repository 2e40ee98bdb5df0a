"""ConnectWise read side for the sync engine, on a real tenant: demo data seeded into the database,
a simulator fleet seeded from it, and the source's connector reading every entity back. The round
trip gives the canonical values wherever CW can carry them; small pages, incremental reads after
a change at the vendor, deletions and a 429 mid-read are checked on the same setup. The same
round trip runs again on a wider generated tenant (in memory), whose data has every customer,
contract and invoice status.

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
from vectis.vendors.base import Connector
from vectis.vendors.connections import Connections
from vectis.vendors.connectwise.simulator import ROOT, ConnectWiseSimulator
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import make_connector

SLUG = "cwread"
WIDE = "wide-c"          # a generated tenant whose data has every customer/contract/invoice status
POLICY = RetryPolicy(attempts=3, backoff=(0.01,), timeout=5.0)
ENTITIES = {"customers": "customers", "contacts": "contacts", "tickets": "tickets",
            "contracts": "contracts", "invoices": "invoices"}
# What CW cannot tell apart: the stock board files "open" under In Progress and closes
# resolved tickets; a company has no onboarding state.
TICKET_STATUS = {"open": "in_progress", "resolved": "closed"}
CUSTOMER_STATUS = {"onboarding": "active"}


@dataclass
class Env:
    http: VendorHttp
    connector: Connector
    sim: ConnectWiseSimulator
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
    await seed_tenant(storage, SLUG, "CW Read", passwords={}, customers=4, tickets_per_customer=4,
                      now=datetime.now(UTC), vendors=("connectwise", "ninjaone", "datto_bcdr"))
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
                                             vendors=("connectwise", "ninjaone", "datto_bcdr")):
        generated[collection] += batch
    source = next(s for s in generated["sources"] if s["kind"] == "psa")
    canonical = {c: [d for d in generated[c] if any(r["source_id"] == source["_id"]
                                                    for r in d.get("refs") or ())]
                 for c in SOURCE_COLLECTIONS}
    tickets = {t["_id"] for t in canonical["tickets"]}
    canonical["ticket_messages"] = [m for m in generated["ticket_messages"] if m["ticket_id"] in tickets]
    sim, http = ConnectWiseSimulator(), VendorHttp(policy=POLICY)
    seed_from_tenant(sim, "connectwise", {**canonical, "sources": [source]})
    await sim.start()
    try:
        yield Env(http, make_connector("connectwise", sim.base_url + ROOT, sim.credentials, http),
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


# --- the full round trip -------------------------------------------------------------------------
async def test_round_trip_on_the_tenant(env):
    assert set(env.connector.SYNC_ENTITIES) == set(ENTITIES)
    assert set(env.connector.SYNC_ENTITIES.values()) == {"incremental"}
    await check_counts_and_ids(env)
    await check_customers_and_contacts(env)
    await check_tickets_and_threads(env)
    await check_contracts_and_invoices(env)


async def test_round_trip_on_a_wider_tenant(wide):
    statuses = {c: {d["status"] for d in wide.docs(c)} for c in ("customers", "contracts", "invoices")}
    assert statuses == {"customers": {"active", "onboarding", "churned", "prospect"},
                        "contracts": {"active", "pending", "expired", "cancelled"},
                        "invoices": {"open", "overdue", "paid", "void"}}
    await check_counts_and_ids(wide)
    await check_customers_and_contacts(wide)
    await check_tickets_and_threads(wide)
    await check_contracts_and_invoices(wide)


async def check_counts_and_ids(env: Env) -> None:
    for entity, collection in ENTITIES.items():
        docs = env.docs(collection)
        records = await read_all(env.connector, entity)
        assert docs and set(records) == {env.ref(d) for d in docs}, entity
        assert not any(r.deleted for r in records.values())


async def check_customers_and_contacts(env: Env) -> None:
    customers = {env.ref(c): c for c in env.docs("customers")}
    customer_ref = {c["_id"]: ref for ref, c in customers.items()}
    records = await read_all(env.connector, "customers")
    for ref, doc in customers.items():
        fields = records[ref].fields
        assert fields["name"] == doc["name"] and fields["address"] == doc["address"]
        assert fields["status"] == CUSTOMER_STATUS.get(doc["status"], doc["status"])
    records = await read_all(env.connector, "contacts")
    for doc in env.docs("contacts"):
        record = records[env.ref(doc)]
        assert {k: record.fields[k] for k in ("name", "email", "phone", "title", "is_primary")} == \
            {k: doc[k] for k in ("name", "email", "phone", "title", "is_primary")}
        assert record.links == {"customer": customer_ref[doc["customer_id"]]}


async def check_tickets_and_threads(env: Env) -> None:
    contact_ref = {c["email"]: env.ref(c) for c in env.docs("contacts")}
    customer_ref = {c["_id"]: env.ref(c) for c in env.docs("customers")}
    records = await read_all(env.connector, "tickets")
    messages = env.docs("ticket_messages")
    checked_authors = set()
    for doc in env.docs("tickets"):
        record = records[env.ref(doc)]
        f = record.fields
        assert (f["number"], f["subject"], f["description"], f["priority"], f["requester"]) == \
            (doc["number"], doc["subject"], doc["description"], doc["priority"], doc["requester"])
        assert f["status"] == TICKET_STATUS.get(doc["status"], doc["status"])
        assert all(near(f[k], doc[k]) for k in ("created_at", "updated_at", "closed_at"))
        assert f["assignee"] == ({"name": doc["assignee"]["name"], "email": None}
                                 if doc["assignee"] else None)
        assert record.links == {"customer": customer_ref[doc["customer_id"]],
                                "contact": contact_ref[doc["requester"]["email"]]}
        thread = sorted((m for m in messages if m["ticket_id"] == doc["_id"]),
                        key=lambda m: m["created_at"])
        assert [c.external_id for c in record.children] == [env.ref(m) for m in thread]
        for child, message in zip(record.children, thread, strict=True):
            assert child.fields["body"] == message["body"]
            assert child.fields["is_internal"] == message["is_internal"]
            assert near(child.fields["created_at"], message["created_at"])
            author, expected = child.fields["author"], message["author"]
            assert (author["kind"], author["name"]) == (expected["kind"], expected["name"])
            # CW names members by identifier only; contacts' e-mails come from the ticket.
            assert author["email"] == (expected["email"] if expected["kind"] == "contact" else None)
            checked_authors.add(expected["kind"])
    assert checked_authors >= {"contact", "user"}


async def check_contracts_and_invoices(env: Env) -> None:
    records = await read_all(env.connector, "contracts")
    for doc in env.docs("contracts"):
        f = records[env.ref(doc)].fields
        assert (f["name"], f["kind"], f["status"], f["monthly_value"]) == \
            (doc["name"], doc["kind"], doc["status"], doc["monthly_value"])
        assert near(f["start_date"], doc["start_date"]) and near(f["end_date"], doc["end_date"])
    records = await read_all(env.connector, "invoices")
    for doc in env.docs("invoices"):
        f = records[env.ref(doc)].fields
        assert (f["number"], f["status"], f["total"], f["balance"], f["currency"]) == \
            (doc["number"], doc["status"], doc["total"], doc["balance"], doc["currency"])
        assert near(f["issued_at"], doc["issued_at"]) and near(f["due_at"], doc["due_at"])


# --- paging --------------------------------------------------------------------------------------
async def test_small_pages_are_keyed_by_id_and_give_the_same_records(env):
    everything = await read_all(env.connector, "tickets")
    env.connector.sync_page_size = 3
    before = env.sim.count("GET", ROOT + "/service/tickets")
    pages = await read(env.connector, "tickets")
    assert len(pages) == math.ceil(len(everything) / 3)
    assert [len(p) for p in pages[:-1]] == [3] * (len(pages) - 1)
    ids = [int(r.external_id) for page in pages for r in page]
    assert ids == sorted(ids) and {str(i) for i in ids} == set(everything)
    assert {r.external_id: len(r.children) for p in pages for r in p} == \
        {k: len(r.children) for k, r in everything.items()}
    # A full last page needs one more (empty) request to know it was the last.
    requests = env.sim.count("GET", ROOT + "/service/tickets") - before
    assert requests == len(everything) // 3 + 1
    # A deletion mid-read shifts no later page: the next page starts after the last id seen.
    contacts = sorted(await read_all(env.connector, "contacts"), key=int)
    reading, seen = env.connector.read("contacts", None), []
    seen += await anext(reading)
    del env.sim.contacts[int(contacts[0])]
    seen += [r for page in [p async for p in reading] for r in page]
    assert [r.external_id for r in seen] == contacts


# --- incremental reads ---------------------------------------------------------------------------
async def test_incremental_read_returns_only_what_changed_with_the_new_values(env):
    last_run = datetime.now(UTC) + timedelta(minutes=30)
    for entity in ENTITIES:
        assert await read(env.connector, entity, last_run) == [], entity
    tickets = await read_all(env.connector, "tickets")
    open_ticket = next(r for r in tickets.values() if r.fields["status"] != "closed")
    quiet_ticket = next(r for r in tickets.values() if r.fields["status"] == "closed")
    changed_at = env.later(60)
    env.sim.touch_ticket(int(open_ticket.external_id), status="Waiting Customer",
                         summary="Printer still jammed")
    note = env.sim.add_note(int(quiet_ticket.external_id), "Customer called back", internal=True)
    company = min(env.sim.companies)
    env.sim.update("companies", company, name="Renamed Holdings LLC", city="Tulsa")
    contact = min(env.sim.contacts)
    env.sim.update("contacts", contact, title="Head of IT")
    agreement = min(env.sim.agreements)
    env.sim.update("agreements", agreement, agreementStatus="Cancelled", cancelledFlag=True)
    invoice = next(i for i, v in env.sim.invoices.items() if v["status"]["name"] == "Sent")
    env.sim.update("invoices", invoice, status={"id": 3, "name": "Paid"}, balance=0)

    changed = await read_all(env.connector, "tickets", last_run)
    assert set(changed) == {open_ticket.external_id, quiet_ticket.external_id}
    moved = changed[open_ticket.external_id].fields
    assert (moved["status"], moved["subject"]) == ("waiting", "Printer still jammed")
    assert near(moved["updated_at"], changed_at)
    thread = changed[quiet_ticket.external_id].children
    assert thread[-1].external_id == str(note["id"]) and thread[-1].fields["is_internal"] is True
    assert len(thread) == len(quiet_ticket.children) + 1
    customers = await read_all(env.connector, "customers", last_run)
    assert list(customers) == [str(company)]
    assert customers[str(company)].fields["name"] == "Renamed Holdings LLC"
    assert customers[str(company)].fields["address"]["city"] == "Tulsa"
    contacts = await read_all(env.connector, "contacts", last_run)
    assert list(contacts) == [str(contact)] and contacts[str(contact)].fields["title"] == "Head of IT"
    contracts = await read_all(env.connector, "contracts", last_run)
    assert list(contracts) == [str(agreement)] and contracts[str(agreement)].fields["status"] == "cancelled"
    invoices = await read_all(env.connector, "invoices", last_run)
    assert list(invoices) == [str(invoice)]
    assert (invoices[str(invoice)].fields["status"], invoices[str(invoice)].fields["balance"]) == ("paid", 0.0)


async def test_incremental_condition_is_sent_in_whole_seconds(env, monkeypatch):
    calls = []
    real_send = env.connector.send

    async def spy(call, **kw):
        calls.append(call)
        return await real_send(call, **kw)

    monkeypatch.setattr(env.connector, "send", spy)
    await read(env.connector, "customers", datetime(2025, 6, 2, 9, 30, 15, 750000, tzinfo=UTC))
    assert calls[0].params["conditions"] == "lastUpdated>=[2025-06-02T09:30:15Z] and id>0"
    assert calls[0].params["orderBy"] == "id asc"


async def test_deleted_company_and_inactive_contact_come_back_deleted(env):
    last_run = datetime.now(UTC) + timedelta(minutes=30)
    env.later(60)
    company, contact = max(env.sim.companies), max(env.sim.contacts)
    env.sim.delete_company(company)
    env.sim.update("contacts", contact, inactiveFlag=True)
    customers = await read_all(env.connector, "customers", last_run)
    assert list(customers) == [str(company)] and customers[str(company)].deleted
    contacts = await read_all(env.connector, "contacts", last_run)
    assert list(contacts) == [str(contact)] and contacts[str(contact)].deleted
    everything = await read_all(env.connector, "customers")
    assert [k for k, r in everything.items() if r.deleted] == [str(company)]


# --- vendor trouble --------------------------------------------------------------------------------
async def test_429_mid_read_is_waited_out(env):
    env.connector.sync_page_size = 2
    expected = await read_all(env.connector, "customers")
    reading, records = env.connector.read("customers", None), []
    records += await anext(reading)
    env.sim.faults.add(kind="status", status=429, retry_after=1, path=r"/company/companies$")
    started = time.monotonic()
    records += [r for page in [p async for p in reading] for r in page]
    assert time.monotonic() - started >= 0.9                # Retry-After was honoured
    assert [r.external_id for r in records] == list(expected)
    assert env.http.calls[("connectwise", "429")] == 1 and env.sim.faults.active == []


async def test_unknown_entity_is_refused(env):
    with pytest.raises(ValueError):
        await read(env.connector, "alerts")
