"""The simulator fleet against a real database: both demo tenants (small), one seeded simulator per
source, connected through `Connections`; write verbs on real demo tickets and alerts reach the
simulator under their vendor ids, and the read helpers a sync uses see the seeded objects. Then
the seeding mapping of every vendor on in-memory demo documents (no database)."""
from __future__ import annotations

import importlib
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from vectis.demo.generator import demo_operators, generate_tenant
from vectis.demo.seed import DEMO_TENANTS, seed_tenant
from vectis.simulators.fleet import ROOT_PATH, SimulatorFleet, simulator_class
from vectis.simulators.seeding import SOURCE_COLLECTIONS, load_source_docs, seed_from_tenant
from vectis.storage import Storage
from vectis.vendors.base import AlertDraft, CloseDraft, NoteDraft
from vectis.vendors.connections import Connections
from vectis.vendors.connectwise.simulator import ROOT as CW_ROOT
from vectis.vendors.http import RetryPolicy, VendorHttp
from vectis.vendors.registry import VENDORS, make_connector

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)      # fixed: the generated data is the same every run
OPEN = ("new", "open", "in_progress", "waiting")
POLICY = RetryPolicy(attempts=2, backoff=(0.01,), timeout=2.0)


def ref_of(doc: dict, source_id: str) -> str | None:
    return next((r["external_id"] for r in doc.get("refs") or () if r["source_id"] == source_id), None)


# --- the fleet on both demo tenants ----------------------------------------------------------------
@dataclass
class Env:
    storage: Storage
    connections: Connections
    fleet: SimulatorFleet
    summary: list[dict]

    async def source(self, slug: str, kind: str) -> dict:
        return next(s for s in await self.storage.sources.list(slug) if s["kind"] == kind)

    def db(self, slug: str):
        return self.storage.db.tenant(slug)


@pytest.fixture
async def env(storage):
    for slug, name in DEMO_TENANTS.items():
        passwords = {o.email: "test-password-123" for o in demo_operators(slug)}
        await seed_tenant(storage, slug, name, passwords=passwords, customers=6,
                          tickets_per_customer=4, now=NOW)
    http = VendorHttp(policy=POLICY)
    connections = Connections(storage, secrets.token_bytes(32), http)
    fleet = SimulatorFleet()
    try:
        summary = await fleet.start_for_tenants(storage, connections, list(DEMO_TENANTS))
        yield Env(storage, connections, fleet, summary)
    finally:
        await fleet.stop()
        await http.close()


async def test_every_source_gets_a_seeded_connected_simulator(env):
    assert {(s["tenant"], s["vendor"]) for s in env.summary} == {
        ("acme", "connectwise"), ("acme", "ninjaone"), ("acme", "datto_bcdr"),
        ("northwind", "autotask"), ("northwind", "ncentral"), ("northwind", "datto_bcdr")}
    for slug in DEMO_TENANTS:
        assert await env.storage.sources.connected_vendors(slug) == {
            s["vendor"] for s in env.summary if s["tenant"] == slug}
    for entry in env.summary:
        sim = env.fleet.simulator(entry["tenant"], entry["source_id"])
        assert entry["connected"] and entry["base_url"] == sim.base_url + ROOT_PATH[entry["vendor"]]
        stored = await env.storage.sources.get(entry["tenant"], entry["source_id"], with_credentials=True)
        assert stored["base_url"] == entry["base_url"] and stored["status"] == "connected"
        sealed = stored["credentials_encrypted"]
        assert sealed.startswith("v1:")
        assert not any(str(secret) in sealed for secret in sim.credentials.values())


async def test_seeded_counts_match_the_canonical_documents(env):
    counts = {(s["tenant"], s["vendor"]): s["counts"] for s in env.summary}
    for slug, psa in (("acme", "connectwise"), ("northwind", "autotask")):
        source = await env.source(slug, "psa")
        for collection, kind in (("tickets", "tickets"), ("customers", "companies")):
            expected = await env.db(slug)[collection].count_documents({"refs.source_id": source["_id"]})
            assert expected > 0 and counts[(slug, psa)][kind] == expected
        messages = await env.db(slug).ticket_messages.count_documents(
            {"refs.source_id": source["_id"]})
        assert counts[(slug, psa)]["notes"] == messages
    for slug, rmm, kind in (("acme", "ninjaone", "alerts"), ("northwind", "ncentral", "issues")):
        source = await env.source(slug, "rmm")
        alerts = env.db(slug).alerts
        # NinjaOne lists triggered conditions only: an acknowledged alert was reset there.
        gone = ["resolved", "acknowledged"] if rmm == "ninjaone" else ["resolved"]
        live = await alerts.count_documents({"refs.source_id": source["_id"], "status": {"$nin": gone}})
        if rmm == "ninjaone":
            reset = await alerts.count_documents({"refs.source_id": source["_id"],
                                                  "status": "acknowledged"})
            assert counts[(slug, rmm)]["skipped_reset_alerts"] == reset
        resolved = await alerts.count_documents({"refs.source_id": source["_id"], "status": "resolved"})
        assert live > 0 and counts[(slug, rmm)][kind] == live
        assert counts[(slug, rmm)]["skipped_resolved_alerts"] == resolved
        assets = await env.db(slug).assets.count_documents({"refs.source_id": source["_id"]})
        assert counts[(slug, rmm)]["devices"] == assets
    backup = await env.source("acme", "backup")
    jobs = await env.db("acme").backup_jobs.count_documents({"refs.source_id": backup["_id"]})
    assert counts[("acme", "datto_bcdr")]["assets"] == jobs > 0


async def test_add_note_on_an_open_acme_ticket_reaches_connectwise(env):
    source = await env.source("acme", "psa")
    ticket = await env.db("acme").tickets.find_one({"source_id": source["_id"], "status": {"$in": OPEN}},
                                                   sort=[("_id", 1)])
    external = ref_of(ticket, source["_id"])
    sim = env.fleet.simulator("acme", source["_id"])
    assert len(sim.notes[int(external)]) == ticket["message_count"]      # the seeded thread
    _, connector = await env.connections.connector("acme", source["_id"])
    result = await connector.perform("add_note", NoteDraft(external, "Checked the switch", internal=True))
    note = sim.notes[int(external)][-1]
    assert note["text"] == "Checked the switch" and note["internalAnalysisFlag"] is True
    assert result.extra["ticket_id"] == external and sim.tickets[int(external)]["summary"] == ticket["subject"]
    assert sim.count("POST", CW_ROOT + "/service/tickets/{id}/notes") == 1


async def test_close_an_open_northwind_ticket_in_autotask(env):
    source = await env.source("northwind", "psa")
    ticket = await env.db("northwind").tickets.find_one(
        {"source_id": source["_id"], "status": {"$in": OPEN}}, sort=[("_id", 1)])
    external = ref_of(ticket, source["_id"])
    sim = env.fleet.simulator("northwind", source["_id"])
    assert sim.tickets[int(external)]["status"] != 5 and \
        sim.tickets[int(external)]["ticketNumber"] == ticket["number"]
    _, connector = await env.connections.connector("northwind", source["_id"])
    result = await connector.perform("close_ticket", CloseDraft(external, resolution="Replaced the PSU"))
    assert result.status == "closed"
    assert sim.tickets[int(external)]["status"] == 5 and sim.tickets[int(external)]["completedDate"]
    notes = [n for n in sim.notes.values() if n["ticketID"] == int(external)]
    assert notes[-1]["description"] == "Replaced the PSU" and notes[-1]["publish"] == 1


async def test_acknowledge_an_open_acme_alert_in_ninjaone(env):
    source = await env.source("acme", "rmm")
    alert = await env.db("acme").alerts.find_one({"source_id": source["_id"], "status": "open"},
                                                 sort=[("_id", 1)])
    uid = ref_of(alert, source["_id"])
    sim = env.fleet.simulator("acme", source["_id"])
    assert sim.alerts[uid]["subject"] == alert["title"] and "status" not in sim.alerts[uid]
    _, connector = await env.connections.connector("acme", source["_id"])
    result = await connector.perform("acknowledge_alert", AlertDraft(alert_ref=uid, note="On it"))
    assert result.vendor_status == 204 and result.extra["effect"] == "reset"
    # NinjaOne reset the condition: the alert is no longer listed (it has no acknowledged state).
    assert uid not in sim.alerts and sim.resets[uid] == [{"note": "On it"}]


async def test_sync_read_helpers_see_the_seeded_objects(env):
    acme_rmm, north_rmm = await env.source("acme", "rmm"), await env.source("northwind", "rmm")
    _, ninja = await env.connections.connector("acme", acme_rmm["_id"])
    devices = {str(d["id"]) for d in await ninja.list_devices(page_size=50)}
    assets = await env.db("acme").assets.find({"refs.source_id": acme_rmm["_id"]}).to_list()
    assert devices == {ref_of(a, acme_rmm["_id"]) for a in assets}
    _, nc = await env.connections.connector("northwind", north_rmm["_id"])
    nc_sim = env.fleet.simulator("northwind", north_rmm["_id"])
    issues = await nc.list_alerts(nc_sim.so_id, page_size=3)
    live = await env.db("northwind").alerts.find(
        {"refs.source_id": north_rmm["_id"], "status": {"$ne": "resolved"}}).to_list()
    assert sorted(str(i["taskId"]) for i in issues) == sorted(ref_of(a, north_rmm["_id"]) for a in live)
    backup = await env.source("northwind", "backup")
    _, datto = await env.connections.connector("northwind", backup["_id"])
    volumes = {a["volume"] for appliance in await datto.list_backups() for a in appliance["assets"]}
    jobs = await env.db("northwind").backup_jobs.find({"refs.source_id": backup["_id"]}).to_list()
    assert volumes == {ref_of(j, backup["_id"]) for j in jobs}


async def test_load_source_docs_adds_threads_owners_and_the_source(env):
    source = await env.source("acme", "rmm")
    docs = await load_source_docs(env.storage, "acme", source["_id"])
    assert docs["sources"][0]["_id"] == source["_id"] and docs["tickets"] == []
    owners = {a["customer_id"] for a in docs["assets"]} | {a["customer_id"] for a in docs["alerts"]}
    assert {c["_id"] for c in docs["customers"]} == owners      # RMM customers carry no RMM ref
    assert all("search_tg" not in a for a in docs["assets"])
    psa = await load_source_docs(env.storage, "acme", (await env.source("acme", "psa"))["_id"])
    assert len(psa["ticket_messages"]) == sum(t["message_count"] for t in psa["tickets"])


# --- the mappings, on in-memory demo documents ----------------------------------------------------
def demo_docs(slug: str) -> dict[str, list[dict]]:
    docs: dict[str, list[dict]] = defaultdict(list)
    for collection, batch in generate_tenant(slug, customers=6, tickets_per_customer=4, now=NOW):
        docs[collection] += batch
    return docs


def source_docs(docs: dict[str, list[dict]], kind: str) -> tuple[str, dict[str, list[dict]]]:
    """What `load_source_docs` reads for the tenant's source of `kind`, filtered in memory."""
    source = next(s for s in docs["sources"] if s["kind"] == kind)
    picked = {c: [d for d in docs[c] if ref_of(d, source["_id"])] for c in SOURCE_COLLECTIONS}
    tickets = {t["_id"] for t in picked["tickets"]}
    picked["ticket_messages"] = [m for m in docs["ticket_messages"] if m["ticket_id"] in tickets]
    owners = {d["customer_id"] for c in SOURCE_COLLECTIONS for d in picked[c] if d.get("customer_id")}
    picked["customers"] += [c for c in docs["customers"] if c["_id"] in owners and not ref_of(c, source["_id"])]
    return source["_id"], {**picked, "sources": [source]}


@pytest.fixture(scope="module")
def demo() -> dict[str, dict[str, list[dict]]]:
    return {slug: demo_docs(slug) for slug in DEMO_TENANTS}


def test_root_paths_and_simulator_classes_cover_every_vendor():
    assert set(ROOT_PATH) == set(VENDORS)
    for vendor in VENDORS:
        cls = simulator_class(vendor)
        assert cls.vendor == vendor
        assert getattr(importlib.import_module(cls.__module__), "ROOT", "") == ROOT_PATH[vendor]


PSAS = ("connectwise", "autotask", "halopsa", "atera")


@pytest.mark.parametrize("vendor", PSAS)
def test_psa_mapping_keeps_ids_statuses_and_threads(demo, vendor):
    source_id, docs = source_docs(demo["acme"], "psa")
    sim = simulator_class(vendor)()
    counts = seed_from_tenant(sim, vendor, docs)
    tickets = {int(ref_of(t, source_id)): t for t in docs["tickets"]}
    assert counts["tickets"] == len(tickets) and len(docs["ticket_messages"]) > 0
    state = sim.state()
    seeded = {int(t.get("id") or t.get("TicketID")): t for t in state["tickets"]}
    assert set(seeded) == set(tickets)
    closed = {ticket_id for ticket_id, t in tickets.items() if t["status"] not in OPEN}
    assert closed and closed != set(tickets)
    vendor_closed = {
        "connectwise": lambda t: t["closedFlag"], "autotask": lambda t: t["status"] == 5,
        "halopsa": lambda t: t["status_id"] in sim.closed_ids or t["status_id"] == 8,
        "atera": lambda t: t["TicketStatus"] in ("Resolved", "Closed")}[vendor]
    assert {ticket_id for ticket_id, t in seeded.items() if vendor_closed(t)} == closed
    internal = [m for m in docs["ticket_messages"] if m["is_internal"]]
    thread_of = {"connectwise": lambda: [n for notes in sim.notes.values() for n in notes],
                 "autotask": lambda: list(sim.notes.values()),
                 "halopsa": lambda: [a for actions in sim.actions.values() for a in actions],
                 "atera": lambda: [c for comments in sim.comments.values() for c in comments]}[vendor]()
    hidden = {"connectwise": "internalAnalysisFlag", "halopsa": "hiddenfromuser", "atera": "IsInternal"}
    flagged = [n for n in thread_of if (n["publish"] == 2 if vendor == "autotask" else n[hidden[vendor]])]
    assert len(thread_of) == len(docs["ticket_messages"]) and len(flagged) == len(internal)


@pytest.mark.parametrize("vendor", PSAS)
async def test_psa_write_verbs_reach_seeded_tickets(demo, vendor):
    source_id, docs = source_docs(demo["northwind"], "psa")
    sim = simulator_class(vendor)()
    seed_from_tenant(sim, vendor, docs)
    ticket = next(t for t in docs["tickets"] if t["status"] in OPEN)
    external = ref_of(ticket, source_id)
    http = VendorHttp(policy=POLICY)
    await sim.start()
    try:
        connector = make_connector(vendor, sim.base_url + ROOT_PATH[vendor], sim.credentials, http)
        await connector.perform("add_note", NoteDraft(external, "Called the user back", internal=False))
        result = await connector.perform("close_ticket", CloseDraft(external, resolution="Fixed"))
    finally:
        await sim.stop()
        await http.close()
    assert result.status == "closed"
    assert "Called the user back" in str(sim.state()) and len(sim.tickets) == len(docs["tickets"])


def test_numeric_vendors_skip_and_count_ids_they_cannot_hold(demo):
    source_id, docs = source_docs(demo["acme"], "psa")
    bad = {**docs["tickets"][0], "refs": [{"source_id": source_id, "external_id": "TKT-1"}]}
    docs = {**docs, "tickets": [bad, *docs["tickets"][1:]]}
    sim = simulator_class("connectwise")()
    counts = seed_from_tenant(sim, "connectwise", docs)
    assert counts["skipped_tickets"] == 1 and counts["tickets"] == len(docs["tickets"]) - 1
    assert counts["skipped_notes"] == bad["message_count"]
    with pytest.raises(ValueError):
        seed_from_tenant(simulator_class("autotask")(), "connectwise", docs)


def test_ninjaone_mapping_seeds_live_alerts_by_uid(demo):
    source_id, docs = source_docs(demo["acme"], "rmm")
    sim = simulator_class("ninjaone")()
    counts = seed_from_tenant(sim, "ninjaone", docs)
    live = {ref_of(a, source_id): a for a in docs["alerts"] if a["status"] == "open"}
    reset = [a for a in docs["alerts"] if a["status"] == "acknowledged"]
    assert set(sim.alerts) == set(live) and counts["alerts"] == len(live)
    assert reset and counts["skipped_reset_alerts"] == len(reset)     # reset: no longer listed
    for uid, alert in live.items():
        seeded = sim.alerts[uid]
        assert seeded["createTime"] == alert["created_at"].timestamp()
        assert seeded["severity"] == alert["severity"].upper().replace("INFO", "NONE")
        assert "status" not in seeded                     # a NinjaOne Alert has no status
        assert seeded["deviceId"] in sim.devices
    assert {d["organizationId"] for d in sim.devices.values()} <= set(sim.organizations)
    asset = docs["assets"][0]
    device = sim.devices[int(ref_of(asset, source_id))]
    assert device["system"]["serialNumber"] == asset["hardware"]["serial_number"]
    assert device["offline"] == (asset["status"] != "online")


def test_datto_mapping_puts_each_job_on_its_customers_appliance(demo):
    source_id, docs = source_docs(demo["acme"], "backup")
    sim = simulator_class("datto_bcdr")()
    counts = seed_from_tenant(sim, "datto_bcdr", docs)
    volumes = {a["volume"]: a for items in sim.assets.values() for a in items}
    assert set(volumes) == {ref_of(j, source_id) for j in docs["backup_jobs"]}
    assert counts["devices"] == len(sim.devices) == len({j["customer_id"] for j in docs["backup_jobs"]})
    for job in docs["backup_jobs"]:
        latest = volumes[ref_of(job, source_id)]["backups"][0]      # Datto's nested shape
        assert latest["backup"]["status"] == {"failed": "failure", "running": "inProgress"}.get(
            job["last_status"], "success")
        assert latest["timestamp"] == job["last_run_at"].replace(microsecond=0).isoformat() \
            .replace("+00:00", "") + "+00:00"
    assert counts["alerts"] == sum(len(items) for items in sim.alerts.values())


@pytest.mark.parametrize("vendor", ("ncentral", "kaseya_vsax"))
def test_ncentral_and_vsax_mappings(demo, vendor):
    source_id, docs = source_docs(demo["northwind"], "rmm")   # N-central ids: numeric
    sim = simulator_class(vendor)()
    counts = seed_from_tenant(sim, vendor, docs)
    live = {int(ref_of(a, source_id)) for a in docs["alerts"] if a["status"] != "resolved"}
    state = sim.state()
    issues = state["issues"] if vendor == "ncentral" else state["notifications"]
    assert {i.get("taskId", i.get("Id")) for i in issues} == live
    assert counts["devices"] == len(state["devices"]) == len(docs["assets"])
    orgs = state["customers"] if vendor == "ncentral" else state["organizations"]
    assert {o["customerName" if vendor == "ncentral" else "Name"] for o in orgs} == \
        {c["name"] for c in docs["customers"]}
