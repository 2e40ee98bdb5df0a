"""HaloPSA read side against a fleet simulator seeded from a real demo tenant: a full read of every
entity gives back the tenant's canonical documents (same ids, mapped values), lists are paged,
an incremental ticket read returns only what changed vendor-side (and deletions), snapshots drop
what the vendor no longer has, and a 429 in the middle of a read is waited out."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.simulators.seeding import load_source_docs
from vectis.sync.records import Record
from vectis.vendors.connections import Connections
from vectis.vendors.halopsa import connector as halopsa
from vectis.vendors.halopsa.simulator import HaloPSASimulator
from vectis.vendors.http import RetryPolicy, VendorHttp

SLUG = "halotest"
# Seeded an hour back: every seeded change is older than a `since` taken during the test, so an
# incremental read can tell vendor-side changes from seeded data without depending on timing.
SEEDED_AT = datetime.now(UTC) - timedelta(hours=1)
SECOND = timedelta(seconds=1)


@dataclass
class Env:
    sim: HaloPSASimulator
    connections: Connections
    source_id: str
    docs: dict[str, list[dict]]

    async def connector(self) -> halopsa.HaloPSA:
        _, connector = await self.connections.connector(SLUG, self.source_id)
        return connector

    def ref(self, doc: dict) -> str | None:
        return next((r["external_id"] for r in doc.get("refs") or () if r["source_id"] == self.source_id),
                    None)

    def with_ref(self, collection: str) -> dict[str, dict]:
        return {self.ref(doc): doc for doc in self.docs[collection] if self.ref(doc)}


@pytest.fixture(autouse=True)
def fresh_tokens():
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()
    yield
    halopsa._TOKENS.clear()
    halopsa._AUTH_SERVERS.clear()


@pytest.fixture
async def env(storage):
    await seed_tenant(storage, SLUG, "Halo Test", passwords={}, customers=4, tickets_per_customer=4,
                      now=SEEDED_AT, vendors=("halopsa", "ninjaone", "datto_bcdr"))
    http = VendorHttp(policy=RetryPolicy(attempts=3, backoff=(0.01, 0.02), timeout=5.0))
    connections = Connections(storage, secrets.token_bytes(32), http)
    fleet = SimulatorFleet()
    try:
        await fleet.start_for_tenants(storage, connections, [SLUG])
        source = next(s for s in await storage.sources.list(SLUG) if s["vendor"] == "halopsa")
        docs = await load_source_docs(storage, SLUG, source["_id"])
        yield Env(fleet.simulator(SLUG, source["_id"]), connections, source["_id"], docs)
    finally:
        await fleet.stop()
        await http.close()


async def read_all(connector, entity: str, since: datetime | None = None) -> tuple[list[Record], int]:
    records, pages = [], 0
    async for page in connector.read(entity, since):
        records += page
        pages += 1
    return records, pages


def close(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.tzinfo is not None and abs(a - b) <= SECOND


def as_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- the full read -----------------------------------------------------------------------------------
async def test_declares_its_entities():
    assert halopsa.HaloPSA.SYNC_ENTITIES == {
        "customers": "snapshot", "contacts": "snapshot", "tickets": "incremental",
        "contracts": "snapshot", "invoices": "snapshot"}


async def test_customers_and_contacts_round_trip(env):
    connector = await env.connector()
    customers, _ = await read_all(connector, "customers")
    canonical = env.with_ref("customers")
    assert len(customers) == len(canonical) > 0
    for record in customers:
        doc = canonical[record.external_id]
        assert record.fields["name"] == doc["name"]
        assert record.fields["status"] == ("churned" if doc["status"] == "churned" else "active")
        assert not record.deleted

    contacts, _ = await read_all(connector, "contacts")
    canonical = env.with_ref("contacts")
    owners = {doc["_id"]: env.ref(doc) for doc in env.docs["customers"]}
    assert len(contacts) == len(canonical) > 0 and {r.external_id for r in contacts} == set(canonical)
    for record in contacts:
        doc = canonical[record.external_id]
        assert {k: record.fields[k] for k in ("name", "email", "phone")} == {
            "name": doc["name"], "email": doc["email"], "phone": doc["phone"]}
        assert record.links == {"customer": owners[doc["customer_id"]]} and not record.deleted


async def test_tickets_and_their_threads_round_trip(env):
    tickets, _ = await read_all(await env.connector(), "tickets")
    canonical = env.with_ref("tickets")
    assert len(tickets) == len(canonical) > 0 and {r.external_id for r in tickets} == set(canonical)
    owners = {doc["_id"]: env.ref(doc) for doc in env.docs["customers"]}
    contacts = {doc["email"]: env.ref(doc) for doc in env.docs["contacts"]}
    messages: dict[str, list[dict]] = {}
    for message in env.docs["ticket_messages"]:
        messages.setdefault(message["ticket_id"], []).append(message)
    for record in tickets:
        doc, fields = canonical[record.external_id], record.fields
        assert {k: fields[k] for k in ("number", "subject", "description", "status", "priority",
                                       "requester")} == {
            k: doc[k] for k in ("number", "subject", "description", "status", "priority", "requester")}
        for key in ("created_at", "updated_at", "closed_at"):
            assert close(fields[key], as_utc(doc[key])), (key, fields[key], doc[key])
        assert record.links == {"customer": owners[doc["customer_id"]],
                                "contact": contacts[doc["requester"]["email"]]}
        thread = {env.ref(m): m for m in messages[doc["_id"]]}
        assert len(record.children) == doc["message_count"] == len(thread)
        for child in record.children:
            message = thread[child.external_id]
            assert child.fields["body"] == message["body"]
            assert child.fields["is_internal"] == message["is_internal"]
            assert close(child.fields["created_at"], as_utc(message["created_at"]))
            author = child.fields["author"]
            assert (author["kind"], author["name"]) == (message["author"]["kind"], message["author"]["name"])
            if author["kind"] == "contact":          # Halo names authors; the requester's address is known
                assert author["email"] in (None, message["author"]["email"])


async def test_contracts_and_invoices_round_trip(env):
    connector = await env.connector()
    owners = {doc["_id"]: env.ref(doc) for doc in env.docs["customers"]}
    contracts, _ = await read_all(connector, "contracts")
    canonical = env.with_ref("contracts")
    assert len(contracts) == len(canonical) > 0
    for record in contracts:
        doc = canonical[record.external_id]
        # Halo keeps only "active": a cancelled contract past its end reads as expired.
        expected = "expired" if doc["status"] == "cancelled" else doc["status"]
        assert (record.fields["name"], record.fields["status"], record.fields["monthly_value"]) == (
            doc["name"], expected, doc["monthly_value"])
        assert close(record.fields["start_date"], as_utc(doc["start_date"]))
        assert close(record.fields["end_date"], as_utc(doc["end_date"]))
        assert record.links == {"customer": owners[doc["customer_id"]]}

    invoices, _ = await read_all(connector, "invoices")
    canonical = env.with_ref("invoices")
    assert len(invoices) == len(canonical) > 0
    for record in invoices:
        doc, fields = canonical[record.external_id], record.fields
        expected = "paid" if doc["status"] == "void" else doc["status"]    # Halo has no void state
        assert (fields["number"], fields["status"], fields["total"], fields["balance"]) == (
            doc["number"], expected, doc["total"], doc["balance"])
        assert close(fields["issued_at"], as_utc(doc["issued_at"]))
        assert close(fields["due_at"], as_utc(doc["due_at"]))
        assert fields["lines"] == doc["lines"]
        assert record.links == {"customer": owners[doc["customer_id"]]}


# --- paging ------------------------------------------------------------------------------------------
async def test_lists_are_read_page_by_page(env):
    connector = await env.connector()
    whole, pages = await read_all(connector, "tickets")
    assert pages == 1
    connector.read_page_size = 3
    paged, pages = await read_all(connector, "tickets")
    assert pages == -(-len(whole) // 3) > 2
    assert [r.external_id for r in paged] == [r.external_id for r in whole]
    asked = [r["params"] for r in env.sim.log if r["path"] == "/api/Tickets"][-pages:]
    assert [(p["pageinate"], p["page_no"], p["page_size"]) for p in asked] == [
        ("true", str(n), "3") for n in range(1, pages + 1)]
    contacts, pages = await read_all(connector, "contacts")
    assert len(contacts) == len(env.with_ref("contacts")) and pages == -(-len(contacts) // 3)


# --- incremental and snapshot changes ----------------------------------------------------------------
async def test_incremental_read_returns_only_changed_tickets(env):
    connector = await env.connector()
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert await read_all(connector, "tickets", since) == ([], 0)
    assert env.sim.log[-1]["params"]["lastupdatefromdate"] == \
        since.replace(microsecond=0, tzinfo=None).isoformat() + "Z"

    ticket_id = min(env.sim.tickets)
    closed = next(s["id"] for s in env.sim.statuses if s["name"] == "Closed")
    env.sim.touch_ticket(ticket_id, status_id=closed, priority_id=1, summary="Renamed at the vendor")
    changed, _ = await read_all(connector, "tickets", since)
    assert [r.external_id for r in changed] == [str(ticket_id)]
    fields = changed[0].fields
    assert (fields["status"], fields["priority"], fields["subject"]) == (
        "closed", "critical", "Renamed at the vendor")
    assert fields["updated_at"] >= since and fields["closed_at"] is not None
    assert len(changed[0].children) == len(env.sim.actions[ticket_id])


async def test_a_deleted_ticket_is_reported_deleted(env):
    connector = await env.connector()
    since = datetime.now(UTC) - timedelta(minutes=1)
    gone = max(env.sim.tickets)
    env.sim.delete_ticket(gone)
    records, _ = await read_all(connector, "tickets", since)
    assert [(r.external_id, r.deleted) for r in records] == [(str(gone), True)]
    everything, _ = await read_all(connector, "tickets")
    assert str(gone) not in {r.external_id for r in everything}


async def test_snapshots_drop_what_the_vendor_no_longer_has(env):
    connector = await env.connector()
    client_id, user_id = min(env.sim.clients), min(env.sim.users)
    env.sim.delete_client(client_id)
    env.sim.deactivate_user(user_id)
    env.sim.delete_contract(env.sim.contracts[0]["id"])
    customers, _ = await read_all(connector, "customers")
    assert str(client_id) not in {r.external_id for r in customers}
    assert len(customers) == len(env.with_ref("customers")) - 1
    contacts, _ = await read_all(connector, "contacts")
    assert [r.external_id for r in contacts if r.deleted] == [str(user_id)]
    contracts, _ = await read_all(connector, "contracts")
    assert len(contracts) == len(env.with_ref("contracts")) - 1


# --- rate limiting -----------------------------------------------------------------------------------
async def test_a_429_in_the_middle_of_a_read_is_waited_out(env):
    connector = await env.connector()
    connector.read_page_size = 4
    expected = len(env.with_ref("tickets"))
    pages = connector.read("tickets", None)
    records = await anext(pages)
    # Halo documents no Retry-After (HaloAPI backs off on its own): the policy's backoff is waited.
    env.sim.faults.add(kind="status", status=429, path=r"^/api/Tickets$", count=1)
    async for page in pages:
        records += page
    assert len(records) == expected and not env.sim.faults.active
    assert env.connections.http.calls[("halopsa", "429")] == 1
    assert env.sim.count("GET", "/api/Tickets") == -(-expected // 4)   # every page served once
