"""Atera read side against fleet simulators seeded from real demo tenants: Atera as a tenant's PSA
(customers, contacts, tickets with comments, contracts, invoices) and as its RMM (agents, alerts).
A full read gives back the canonical documents wherever Atera can carry the values, lists are
paged, an incremental ticket read returns only what changed vendor-side (and deletions), snapshots
drop what the vendor no longer has, and a 429 in the middle of a read is waited out."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from vectis.demo.seed import seed_tenant
from vectis.simulators.fleet import SimulatorFleet
from vectis.simulators.seeding import load_source_docs
from vectis.sync.records import Record
from vectis.vendors.atera.connector import Atera
from vectis.vendors.atera.simulator import AteraSimulator
from vectis.vendors.connections import Connections
from vectis.vendors.http import RetryPolicy, VendorHttp

SLUG = "ateratest"
# Seeded an hour back: every seeded change is older than a `since` taken during the test, so an
# incremental read can tell vendor-side changes from seeded data without depending on timing.
SEEDED_AT = datetime.now(UTC) - timedelta(hours=1)
SECOND = timedelta(seconds=1)
# Atera's statuses are Open / Pending / Resolved / Closed; its alert severities three.
TICKET_STATUS = {"new": "open", "open": "open", "in_progress": "open", "waiting": "waiting",
                 "resolved": "resolved", "closed": "closed"}
SEVERITY = {"critical": "critical", "major": "moderate", "moderate": "moderate", "minor": "info",
            "info": "info"}


@dataclass
class Env:
    sim: AteraSimulator
    connections: Connections
    source_id: str
    docs: dict[str, list[dict]]

    async def connector(self) -> Atera:
        _, connector = await self.connections.connector(SLUG, self.source_id)
        return connector

    def ref(self, doc: dict) -> str | None:
        return next((r["external_id"] for r in doc.get("refs") or () if r["source_id"] == self.source_id),
                    None)

    def with_ref(self, collection: str) -> dict[str, dict]:
        return {self.ref(doc): doc for doc in self.docs[collection] if self.ref(doc)}


async def start(storage, vendors: tuple[str, str, str], kind: str):
    await seed_tenant(storage, SLUG, "Atera Test", passwords={}, customers=4, tickets_per_customer=4,
                      now=SEEDED_AT, vendors=vendors)
    http = VendorHttp(policy=RetryPolicy(attempts=3, backoff=(0.01, 0.02), timeout=5.0))
    connections = Connections(storage, secrets.token_bytes(32), http)
    fleet = SimulatorFleet()
    await fleet.start_for_tenants(storage, connections, [SLUG])
    source = next(s for s in await storage.sources.list(SLUG) if s["kind"] == kind)
    docs = await load_source_docs(storage, SLUG, source["_id"])
    return fleet, http, Env(fleet.simulator(SLUG, source["_id"]), connections, source["_id"], docs)


@pytest.fixture
async def psa(storage):
    """Atera as the tenant's PSA."""
    fleet, http, env = await start(storage, ("atera", "ninjaone", "datto_bcdr"), "psa")
    try:
        yield env
    finally:
        await fleet.stop()
        await http.close()


@pytest.fixture
async def rmm(storage):
    """Atera as the tenant's RMM: its agents and alerts are the tenant's devices and alerts."""
    fleet, http, env = await start(storage, ("halopsa", "atera", "datto_bcdr"), "rmm")
    try:
        yield env
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


# --- the full read: the PSA side -------------------------------------------------------------------
async def test_declares_its_entities():
    assert Atera.SYNC_ENTITIES == {
        "customers": "snapshot", "contacts": "snapshot", "assets": "snapshot",
        "tickets": "incremental", "alerts": "snapshot", "contracts": "snapshot",
        "invoices": "snapshot"}


async def test_customers_and_contacts_round_trip(psa):
    connector = await psa.connector()
    customers, _ = await read_all(connector, "customers")
    canonical = psa.with_ref("customers")
    assert len(customers) == len(canonical) > 0
    for record in customers:
        doc = canonical[record.external_id]
        assert record.fields == {"name": doc["name"], "address": doc["address"]}

    contacts, _ = await read_all(connector, "contacts")
    canonical = psa.with_ref("contacts")
    owners = {doc["_id"]: psa.ref(doc) for doc in psa.docs["customers"]}
    assert len(contacts) == len(canonical) > 0 and {r.external_id for r in contacts} == set(canonical)
    for record in contacts:
        doc = canonical[record.external_id]
        assert record.fields == {k: doc[k] for k in ("name", "email", "phone", "title", "is_primary")}
        assert record.links == {"customer": owners[doc["customer_id"]]} and not record.deleted


async def test_tickets_and_their_comments_round_trip(psa):
    tickets, _ = await read_all(await psa.connector(), "tickets")
    canonical = psa.with_ref("tickets")
    assert len(tickets) == len(canonical) > 0 and {r.external_id for r in tickets} == set(canonical)
    owners = {doc["_id"]: psa.ref(doc) for doc in psa.docs["customers"]}
    contacts = {doc["email"]: psa.ref(doc) for doc in psa.docs["contacts"]}
    messages: dict[str, list[dict]] = {}
    for message in psa.docs["ticket_messages"]:
        messages.setdefault(message["ticket_id"], []).append(message)
    for record in tickets:
        doc, fields = canonical[record.external_id], record.fields
        assert {k: fields[k] for k in ("number", "subject", "description", "priority", "requester")} == {
            k: doc[k] for k in ("number", "subject", "description", "priority", "requester")}
        assert fields["status"] == TICKET_STATUS[doc["status"]]
        assignee = doc["assignee"] and {"name": None, "email": doc["assignee"]["email"]}
        assert fields["assignee"] == assignee            # Atera's list carries the e-mail only
        for key in ("created_at", "updated_at", "closed_at"):
            assert close(fields[key], as_utc(doc[key])), (key, fields[key], doc[key])
        assert record.links == {"customer": owners[doc["customer_id"]],
                                "contact": contacts[doc["requester"]["email"]]}
        thread = sorted(messages[doc["_id"]], key=lambda m: m["created_at"])
        assert len(record.children) == doc["message_count"] == len(thread)
        for child, message in zip(record.children, thread, strict=True):
            assert child.fields == {"body": message["body"], "is_internal": message["is_internal"],
                                    "author": message["author"], "created_at": child.fields["created_at"]}
            assert close(child.fields["created_at"], as_utc(message["created_at"]))
        assert len({child.external_id for child in record.children}) == len(thread)
    again, _ = await read_all(await psa.connector(), "tickets")     # comment ids are stable
    assert [[c.external_id for c in r.children] for r in again] == \
        [[c.external_id for c in r.children] for r in tickets]


async def test_contracts_and_invoices_round_trip(psa):
    connector = await psa.connector()
    owners = {doc["_id"]: psa.ref(doc) for doc in psa.docs["customers"]}
    contracts, _ = await read_all(connector, "contracts")
    canonical = psa.with_ref("contracts")
    assert len(contracts) == len(canonical) > 0
    for record in contracts:
        doc = canonical[record.external_id]
        # Atera keeps only "Active": a cancelled contract past its end reads as expired.
        expected = "expired" if doc["status"] == "cancelled" else doc["status"]
        assert (record.fields["name"], record.fields["kind"], record.fields["status"]) == (
            doc["name"], doc["kind"], expected)
        assert close(record.fields["start_date"], as_utc(doc["start_date"]))
        assert close(record.fields["end_date"], as_utc(doc["end_date"]))
        assert record.links == {"customer": owners[doc["customer_id"]]}

    invoices, _ = await read_all(connector, "invoices")
    canonical = psa.with_ref("invoices")
    names = {doc["_id"]: doc["name"] for doc in psa.docs["customers"]}
    assert len(invoices) == len(canonical) > 0
    for record in invoices:
        doc = canonical[record.external_id]
        # Atera numbers invoices with a plain integer: our "INV-" prefix is not the vendor's.
        assert (record.fields["number"], record.fields["total"], record.fields["currency"]) == (
            record.external_id, doc["total"], doc["currency"])
        assert close(record.fields["issued_at"], as_utc(doc["issued_at"]))
        # The Invoice DTO has no customer id: the billed company's name (`To.CompanyName`) links.
        assert record.links == {} and record.link_names == {"customer": names[doc["customer_id"]]}


# --- the full read: the RMM side -------------------------------------------------------------------
async def test_agents_round_trip_as_assets(rmm):
    assets, _ = await read_all(await rmm.connector(), "assets")
    canonical = rmm.with_ref("assets")
    assert len(assets) == len(canonical) > 0 and {r.external_id for r in assets} == set(canonical)
    names = {doc["_id"]: doc["name"] for doc in rmm.docs["customers"]}
    for record in assets:
        doc, fields = canonical[record.external_id], record.fields
        assert fields["name"] == doc["name"]
        assert fields["kind"] == ("server" if doc["kind"] in ("server", "virtual_machine") else "workstation")
        assert fields["status"] == ("online" if doc["status"] == "online" else "offline")
        assert fields["os"] == {"name": doc["os"]["name"]}
        hardware = doc["hardware"]
        assert fields["hardware"] == {k: hardware[k] for k in ("manufacturer", "model", "serial_number")}
        assert fields.get("ip_address") == doc["ip_address"]
        assert close(fields["last_seen_at"], as_utc(doc["last_seen_at"]))
        assert record.link_names == {"customer": names[doc["customer_id"]]}


async def test_alerts_round_trip_open_and_snoozed_only(rmm):
    alerts, _ = await read_all(await rmm.connector(), "alerts")
    everything = rmm.with_ref("alerts")
    assert {doc["status"] for doc in everything.values()} >= {"resolved"}
    # Read with alertStatus=Open, then Snoozed: an archived (resolved) alert is absent, and the
    # snapshot resolves it.
    canonical = {k: doc for k, doc in everything.items() if doc["status"] != "resolved"}
    assert len(alerts) == len(canonical) > 0 and {r.external_id for r in alerts} == set(canonical)
    assert [r["params"].get("alertStatus") for r in rmm.sim.log
            if r["path"].endswith("/alerts")] == ["Open", "Snoozed"]
    names = {doc["_id"]: doc["name"] for doc in rmm.docs["customers"]}
    for record in alerts:
        doc, fields = canonical[record.external_id], record.fields
        # Atera has no acknowledgement (snoozing is the nearest): it lists such an alert as open.
        assert fields["status"] == "open"
        assert (fields["title"], fields["message"], fields["severity"]) == (
            doc["title"], doc["message"], SEVERITY[doc["severity"]])
        assert close(fields["created_at"], as_utc(doc["created_at"]))
        assert fields["resolved_at"] is None
        assert record.link_names == {"customer": names[doc["customer_id"]]}


async def test_customers_an_rmm_knows_through_its_devices(rmm):
    customers, _ = await read_all(await rmm.connector(), "customers")
    owners = {doc["customer_id"] for doc in rmm.docs["assets"] + rmm.docs["alerts"]}
    assert sorted(r.fields["name"] for r in customers) == sorted(
        doc["name"] for doc in rmm.docs["customers"] if doc["_id"] in owners)


# --- paging ------------------------------------------------------------------------------------------
async def test_lists_are_read_page_by_page(psa):
    connector = await psa.connector()
    whole, pages = await read_all(connector, "tickets")
    assert pages == 1
    connector.read_page_size = 3
    paged, pages = await read_all(connector, "tickets")
    assert pages == -(-len(whole) // 3) > 2
    assert [r.external_id for r in paged] == [r.external_id for r in whole]
    assert [[c.external_id for c in r.children] for r in paged] == \
        [[c.external_id for c in r.children] for r in whole]   # threads longer than 3 are paged too
    asked = [r["params"] for r in psa.sim.log if r["path"].endswith("/tickets")][-pages:]
    assert [(p["page"], p["itemsInPage"]) for p in asked] == [(str(n), "3") for n in range(1, pages + 1)]
    contacts, pages = await read_all(connector, "contacts")
    assert len(contacts) == len(psa.with_ref("contacts")) and pages == -(-len(contacts) // 3)


# --- incremental and snapshot changes ----------------------------------------------------------------
async def test_incremental_read_returns_only_changed_tickets(psa):
    connector = await psa.connector()
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert await read_all(connector, "tickets", since) == ([], 0)
    assert psa.sim.log[-1]["path"].endswith("/tickets/lastmodified")
    assert psa.sim.log[-1]["params"]["date"] == since.replace(microsecond=0).isoformat().replace(
        "+00:00", "Z")

    ticket_id = min(psa.sim.tickets)
    psa.sim.touch_ticket(ticket_id, TicketStatus="Closed", TicketPriority="Critical",
                         TicketTitle="Renamed at the vendor")
    changed, _ = await read_all(connector, "tickets", since)
    assert [r.external_id for r in changed] == [str(ticket_id)]
    fields = changed[0].fields
    assert (fields["status"], fields["priority"], fields["subject"]) == (
        "closed", "critical", "Renamed at the vendor")
    assert fields["closed_at"] is not None
    assert len(changed[0].children) == len(psa.sim.comments[ticket_id])


async def test_a_deleted_ticket_is_reported_deleted(psa):
    connector = await psa.connector()
    since = datetime.now(UTC) - timedelta(minutes=1)
    gone = max(psa.sim.tickets)
    psa.sim.delete_ticket(gone)
    records, _ = await read_all(connector, "tickets", since)
    assert [(r.external_id, r.deleted, r.fields) for r in records] == [(str(gone), True, {})]
    everything, _ = await read_all(connector, "tickets")
    assert str(gone) not in {r.external_id for r in everything if not r.deleted}


async def test_psa_snapshots_drop_what_the_vendor_no_longer_has(psa):
    connector = await psa.connector()
    customer_id, contact_id = min(psa.sim.customers), min(psa.sim.contacts)
    psa.sim.remove("customers", customer_id)
    psa.sim.archive_contact(contact_id)
    psa.sim.remove("invoices", min(psa.sim.invoices))
    customers, _ = await read_all(connector, "customers")
    assert str(customer_id) not in {r.external_id for r in customers}
    assert len(customers) == len(psa.with_ref("customers")) - 1
    contacts, _ = await read_all(connector, "contacts")
    assert [r.external_id for r in contacts if r.deleted] == [str(contact_id)]
    invoices, _ = await read_all(connector, "invoices")
    assert len(invoices) == len(psa.with_ref("invoices")) - 1


async def test_rmm_snapshots_follow_the_vendor(rmm):
    connector = await rmm.connector()
    agent_id = min(rmm.sim.agents)
    rmm.sim.remove("agents", agent_id)
    assets, _ = await read_all(connector, "assets")
    assert str(agent_id) not in {r.external_id for r in assets}
    assert len(assets) == len(rmm.with_ref("assets")) - 1
    live = min(i for i, a in rmm.sim.alerts.items() if not a["Archived"])
    removed = max(rmm.sim.alerts)
    rmm.sim.archive_alert(live)
    rmm.sim.remove("alerts", removed)
    alerts = {r.external_id: r for r in (await read_all(connector, "alerts"))[0]}
    current = {k for k, doc in rmm.with_ref("alerts").items() if doc["status"] != "resolved"}
    # Archived (resolved at Atera) or deleted: either way no longer read, so resolved here.
    assert set(alerts) == current - {str(live), str(removed)}
    snoozed = min(i for i, a in rmm.sim.alerts.items() if not a["Archived"])
    rmm.sim.alerts[snoozed]["SnoozedEndDate"] = "2099-01-01T00:00:00Z"
    again = {r.external_id: r for r in (await read_all(connector, "alerts"))[0]}
    assert set(again) == set(alerts) and again[str(snoozed)].fields["status"] == "acknowledged"


# --- rate limiting -----------------------------------------------------------------------------------
async def test_a_429_in_the_middle_of_a_read_is_waited_out(psa):
    connector = await psa.connector()
    connector.read_page_size = 4
    expected = len(psa.with_ref("tickets"))
    pages = connector.read("tickets", None)
    records = await anext(pages)
    psa.sim.faults.add(kind="status", status=429, retry_after=1, path=r"/tickets$", count=1)
    started = time.monotonic()
    async for page in pages:
        records += page
    assert time.monotonic() - started >= 0.9          # the vendor's Retry-After, not a quick retry
    assert len(records) == expected and not psa.sim.faults.active
    assert psa.connections.http.calls[("atera", "429")] == 1
