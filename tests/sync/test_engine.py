"""The sync engine against seeded vendor simulators over HTTP (HaloPSA as the PSA, Atera as the
RMM): a baseline full sync, an incremental one after a vendor-side change (exactly one event),
local fields kept, a vendor-created ticket arriving, an alert resolved at the vendor, a vendor
failure mid-sync, the lease, and tenant isolation."""
from __future__ import annotations

import asyncio

import pytest

from vectis.search.fields import search_terms
from vectis.sync.engine import SourceBusy
from vectis.vendors.base import NoteDraft, TicketDraft
from vectis.vendors.simkit import Fault

VENDORS = ("halopsa", "atera", "datto_bcdr")
COLLECTIONS = ("customers", "contacts", "tickets", "ticket_messages", "alerts", "assets",
               "contracts", "invoices")


@pytest.fixture
async def env(make_sync_env):
    return await make_sync_env({"synca": VENDORS})


async def counts(env, slug: str) -> dict[str, int]:
    db = env.db(slug)
    return {c: await db[c].count_documents({}) for c in COLLECTIONS}


async def events(env, slug: str, kind: str | None = None) -> list[dict]:
    query = {"type": kind} if kind else {}
    return await env.db(slug)["events"].find(query).to_list()


async def test_baseline_sync_matches_what_is_there_and_fires_nothing(env):
    before = await counts(env, "synca")
    psa = await env.sync("synca", "psa")
    rmm = await env.sync("synca", "rmm")
    assert all(r.ok for r in [*psa.values(), *rmm.values()]), (psa, rmm)
    assert psa["tickets"].counts["seen"] > 0 and psa["tickets"].counts["created"] == 0
    assert rmm["alerts"].counts["seen"] > 0
    assert await counts(env, "synca") == before              # nothing duplicated
    assert await events(env, "synca") == []                 # a first run is a baseline
    source = await env.source("synca", "psa")
    assert source["sync"]["tickets"]["mode"] == "incremental"
    assert source["sync"]["tickets"]["cursor"] is not None


async def test_a_vendor_side_change_arrives_once_and_keeps_local_fields(env):
    await env.sync("synca", "psa")
    db = env.db("synca")
    source = await env.source("synca", "psa")
    ticket = await db["tickets"].find_one({"source_id": source["_id"], "status": {"$ne": "closed"}})
    external = next(r["external_id"] for r in ticket["refs"] if r["source_id"] == source["_id"])
    await db["tickets"].update_one({"_id": ticket["_id"]}, {"$set": {"operator_tag": "vip"}})
    customer_health = (await db["customers"].find_one({"_id": ticket["customer_id"]}))["health"]

    sim = await env.sim("synca", "psa")
    closed = min(sim.closed_ids)                                   # HaloPSA closes by status id
    sim.touch_ticket(int(external), status_id=closed, priority_id=1, summary="Renamed at the vendor")
    report = await env.sync("synca", "psa")
    assert report["tickets"].counts["updated"] == 1, report["tickets"]
    assert report["tickets"].counts["seen"] < 5                    # incremental: just the change
    stored = await db["tickets"].find_one({"_id": ticket["_id"]})
    assert (stored["status"], stored["priority"], stored["subject"]) == ("closed", "critical",
                                                                         "Renamed at the vendor")
    assert stored["closed_at"] is not None and stored["operator_tag"] == "vip"
    assert (await db["customers"].find_one({"_id": ticket["customer_id"]}))["health"] == customer_health
    updated = await events(env, "synca", "ticket.updated")
    assert len(updated) == 1 and updated[0]["object"]["id"] == ticket["_id"]
    assert updated[0]["data"]["changes"]["status"][1] == "closed"
    await env.sync("synca", "psa")                                # the overlap re-reads it
    assert len(await events(env, "synca", "ticket.updated")) == 1
    # Search follows the new subject: the stored trigrams are those of the new values.
    assert stored["search_tg"] == search_terms("tickets", stored)


async def test_a_ticket_created_at_the_vendor_appears_with_its_thread(env):
    await env.sync("synca", "psa")
    db = env.db("synca")
    source = await env.source("synca", "psa")
    customer = await db["customers"].find_one({"primary_psa_source_id": source["_id"]})
    company = next(r["external_id"] for r in customer["refs"] if r["source_id"] == source["_id"])
    _, connector = await env.connections.connector("synca", source["_id"])
    made = await connector.perform("create_ticket", TicketDraft(
        company_ref=company, subject="Created in Halo directly", description="By a technician."))
    report = await env.sync("synca", "psa")
    assert report["tickets"].counts["created"] == 1
    stored = await db["tickets"].find_one({"refs.external_id": made.external_id,
                                           "refs.source_id": source["_id"]})
    assert stored["subject"] == "Created in Halo directly" and stored["customer_id"] == customer["_id"]
    created = await events(env, "synca", "ticket.created")
    assert [e["object"]["id"] for e in created] == [stored["_id"]]


async def test_a_first_sync_stores_every_thread_with_its_count(env):
    """Into an empty tenant (the first sync of a newly connected PSA): every ticket arrives with
    its whole thread and a message_count that says so; a note added at the vendor later raises
    the count by one."""
    db = env.db("synca")
    source = await env.source("synca", "psa")
    vendor_tickets = await db["tickets"].find({"source_id": source["_id"]}, {"_id": 1}).to_list()
    ids = [t["_id"] for t in vendor_tickets]
    expected = await db["ticket_messages"].count_documents({"ticket_id": {"$in": ids}})
    await db["ticket_messages"].delete_many({"ticket_id": {"$in": ids}})
    await db["tickets"].delete_many({"_id": {"$in": ids}})

    report = await env.sync("synca", "psa")
    assert report["tickets"].counts["created"] == len(ids) > 0
    tickets = await db["tickets"].find({"source_id": source["_id"]}).to_list()
    stored = {t["_id"]: await db["ticket_messages"].count_documents({"ticket_id": t["_id"]})
              for t in tickets}
    assert sum(stored.values()) == expected
    assert {t["_id"]: t["message_count"] for t in tickets} == stored

    ticket = next(t for t in tickets if t["status"] != "closed")
    external = next(r["external_id"] for r in ticket["refs"] if r["source_id"] == source["_id"])
    _, connector = await env.connections.connector("synca", source["_id"])
    await connector.perform("add_note", NoteDraft(ticket_ref=external, body="Added in Halo.",
                                                  internal=True))
    await env.sync("synca", "psa")
    after = await db["tickets"].find_one({"_id": ticket["_id"]})
    assert after["message_count"] == stored[ticket["_id"]] + 1
    assert await db["ticket_messages"].count_documents({"ticket_id": ticket["_id"]}) == after["message_count"]


async def test_repeated_messages_held_without_vendor_ids_are_adopted_one_for_one(env):
    """The same note twice ("Any update?"), each held here without the vendor's id (posted by
    Vectis before the vendor answered with one): both are adopted, neither is stored twice."""
    await env.sync("synca", "psa")
    db = env.db("synca")
    source = await env.source("synca", "psa")
    ticket = await db["tickets"].find_one({"source_id": source["_id"], "status": {"$ne": "closed"}})
    external = next(r["external_id"] for r in ticket["refs"] if r["source_id"] == source["_id"])
    _, connector = await env.connections.connector("synca", source["_id"])
    for _ in range(2):
        await connector.perform("add_note", NoteDraft(ticket_ref=external, body="Any update?",
                                                      internal=False))
    await db["ticket_messages"].insert_many([
        {"_id": f"msg_local{i}", "ticket_id": ticket["_id"], "body": "Any update?",
         "is_internal": False, "author": {"kind": "user", "name": "Ada", "email": None},
         "created_at": ticket["created_at"], "refs": []} for i in range(2)])
    await db["tickets"].update_one({"_id": ticket["_id"]}, {"$inc": {"message_count": 2}})

    await env.sync("synca", "psa")
    copies = await db["ticket_messages"].find({"ticket_id": ticket["_id"], "body": "Any update?"}).to_list()
    assert sorted(m["_id"] for m in copies) == ["msg_local0", "msg_local1"]
    assert all(len(m["refs"]) == 1 for m in copies)
    assert len({m["refs"][0]["external_id"] for m in copies}) == 2


async def test_an_alert_gone_at_the_vendor_is_resolved_once(env):
    await env.sync("synca", "rmm")
    db = env.db("synca")
    source = await env.source("synca", "rmm")
    alert = await db["alerts"].find_one({"source_id": source["_id"], "status": "open"})
    external = next(r["external_id"] for r in alert["refs"] if r["source_id"] == source["_id"])
    sim = await env.sim("synca", "rmm")
    sim.remove("alerts", int(external))
    # Atera pages by number, so one read that lacks an alert may have skipped it (docs/sync.md):
    # it is resolved once a second complete read lacks it too.
    report = await env.sync("synca", "rmm")
    assert report["alerts"].ok and report["alerts"].counts["closed"] == 0
    assert (await db["alerts"].find_one({"_id": alert["_id"]}))["status"] == "open"
    report = await env.sync("synca", "rmm")
    assert report["alerts"].ok and report["alerts"].counts["closed"] == 1
    stored = await db["alerts"].find_one({"_id": alert["_id"]})
    assert stored["status"] == "resolved" and stored["resolved_at"] is not None
    assert stored["history"][-1]["action"] == "resolved"
    await env.sync("synca", "rmm")
    resolved = await events(env, "synca", "alert.resolved")
    assert [e["object"]["id"] for e in resolved] == [alert["_id"]]


async def test_a_vendor_failure_mid_sync_resumes_without_duplicates(env):
    await env.sync("synca", "psa")
    before = await counts(env, "synca")
    cursor = (await env.source("synca", "psa"))["sync"]["tickets"]["cursor"]
    sim = await env.sim("synca", "psa")
    sim.faults.add(Fault(kind="status", status=500, method="GET", path=r"/api/Tickets$", count=None))
    report = await env.sync("synca", "psa")
    assert report["tickets"].ok is False and "HTTP 500" in report["tickets"].error
    assert report["customers"].ok and report["invoices"].ok       # the others still ran
    state = (await env.source("synca", "psa"))["sync"]["tickets"]
    assert state["cursor"] == cursor and state["last_error"]
    sim.faults.clear()
    assert (await env.sync("synca", "psa"))["tickets"].ok
    assert await counts(env, "synca") == before


async def test_one_source_is_never_synced_twice_at_once(env, make_sync_env):
    source = await env.source("synca", "psa")
    assert await env.storage.sync.acquire("synca", source["_id"], "someone-else", lease_time())
    with pytest.raises(SourceBusy):
        await env.engine.sync_source("synca", source["_id"])
    await env.storage.sync.release("synca", source["_id"], "someone-else")
    # Two engines (as two processes would) racing: one runs, the other is told it is busy.
    from vectis.sync.engine import SyncEngine
    other = SyncEngine(env.storage, env.connections)
    results = await asyncio.gather(env.engine.sync_source("synca", source["_id"]),
                                   other.sync_source("synca", source["_id"]), return_exceptions=True)
    assert sum(isinstance(r, SourceBusy) for r in results) == 1
    assert sum(isinstance(r, list) for r in results) == 1


async def test_a_source_of_one_tenant_never_writes_into_another(make_sync_env):
    env = await make_sync_env({"tenanta": VENDORS, "tenantb": VENDORS})
    untouched = {c: await env.db("tenantb")[c].find({}, {"updated_at": 1}).sort("_id", 1).to_list()
                 for c in COLLECTIONS}
    sim = await env.sim("tenanta", "psa")
    source = await env.source("tenanta", "psa")
    ticket = await env.db("tenanta")["tickets"].find_one({"source_id": source["_id"]})
    external = next(r["external_id"] for r in ticket["refs"] if r["source_id"] == source["_id"])
    sim.touch_ticket(int(external), summary="Only in tenant A")
    await env.sync("tenanta", "psa")
    await env.sync("tenanta", "psa")
    after = {c: await env.db("tenantb")[c].find({}, {"updated_at": 1}).sort("_id", 1).to_list()
             for c in COLLECTIONS}
    assert after == untouched
    assert await env.db("tenantb")["events"].count_documents({}) == 0
    assert await env.db("tenanta")["tickets"].count_documents({"subject": "Only in tenant A"}) == 1


def lease_time():
    from datetime import timedelta
    return timedelta(minutes=5)


async def _taken(sim, fault) -> None:
    """Until the simulator has received the request the fault was waiting for."""
    for _ in range(3000):
        if all(f is not fault for f in sim.faults.active):   # by identity: faults compare by value
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the vendor never saw the request")


async def _touch_open_tickets(env, slug: str, count: int) -> list[str]:
    source = await env.source(slug, "psa")
    tickets = await env.db(slug)["tickets"].find({"source_id": source["_id"]}).to_list()
    sim = await env.sim(slug, "psa")
    ids = []
    for ticket in tickets[:count]:
        external = next(r["external_id"] for r in ticket["refs"] if r["source_id"] == source["_id"])
        sim.touch_ticket(int(external), summary=f"Changed at the vendor: {ticket['subject']}")
        ids.append(ticket["_id"])
    assert len(ids) == count
    return ids


async def test_a_run_cut_short_keeps_the_events_of_the_pages_it_wrote(env, monkeypatch):
    from vectis.vendors.halopsa.reader import HaloPSARead
    monkeypatch.setattr(HaloPSARead, "read_page_size", 2)
    await env.sync("synca", "psa")
    touched = await _touch_open_tickets(env, "synca", 4)
    sim = await env.sim("synca", "psa")
    first = sim.faults.add(Fault(kind="delay_after", method="GET", path=r"/api/Tickets$", seconds=60))
    run = asyncio.ensure_future(env.sync("synca", "psa", entities=("tickets",)))
    await _taken(sim, first)
    second = sim.faults.add(Fault(kind="delay_after", method="GET", path=r"/api/Tickets$", seconds=60))
    first.release()
    await _taken(sim, second)            # page 1 is written; the run waits for page 2
    run.cancel()                         # a restart, say
    with pytest.raises(asyncio.CancelledError):
        await run
    second.release()
    assert await env.db("synca")["events"].count_documents({"type": "ticket.updated"}) >= 1
    await env.sync("synca", "psa", entities=("tickets",))
    updated = await events(env, "synca", "ticket.updated")
    assert sorted(e["object"]["id"] for e in updated) == sorted(touched)     # each exactly once


async def test_a_run_whose_lease_ran_out_stops_before_writing(env):
    from datetime import UTC, datetime, timedelta

    from vectis.sync.engine import LeaseLost, SyncEngine
    await env.sync("synca", "psa")
    touched = await _touch_open_tickets(env, "synca", 1)
    engine = SyncEngine(env.storage, env.connections, lease=timedelta(seconds=0.6))
    source = await env.source("synca", "psa")
    sim = await env.sim("synca", "psa")
    held = sim.faults.add(Fault(kind="delay_after", method="GET", path=r"/api/Tickets$", seconds=60))
    run = asyncio.ensure_future(engine.sync_source("synca", source["_id"], entities=("tickets",)))
    await _taken(sim, held)
    # The database was away past the lease, and another process took the source over.
    await env.db("synca")["sources"].update_one({"_id": source["_id"]}, {"$set": {
        "sync_lease": {"owner": "another-process", "until": datetime.now(UTC) + timedelta(hours=1)}}})
    await asyncio.sleep(1.0)                 # past the lease: no renewal can have kept it
    held.release()
    with pytest.raises(LeaseLost):
        await run
    ticket = await env.db("synca")["tickets"].find_one({"_id": touched[0]})
    assert not ticket["subject"].startswith("Changed at the vendor")   # the page was not written
    assert (await env.source("synca", "psa"))["sync_lease"]["owner"] == "another-process"


async def test_an_alert_skipped_by_a_page_that_shifted_during_the_read_stays_open(env, monkeypatch):
    from vectis.vendors.atera.reader import AteraRead
    monkeypatch.setattr(AteraRead, "read_page_size", 2)
    await env.sync("synca", "rmm")
    db, rmm = env.db("synca"), await env.source("synca", "rmm")
    sim = await env.sim("synca", "rmm")
    # The vendor lists live alerts first here, so the first pages hold only live ones.
    sim.alerts = dict(sorted(sim.alerts.items(), key=lambda item: bool(item[1].get("Archived"))))
    live = [vendor_id for vendor_id, a in sim.alerts.items() if not a.get("Archived")]
    assert len(live) >= 3
    first_page = sim.faults.add(Fault(kind="delay_after", method="GET", path=r"/alerts$", seconds=60))
    run = asyncio.ensure_future(env.sync("synca", "rmm", entities=("alerts",)))
    await _taken(sim, first_page)
    sim.remove("alerts", live[0])     # page 2 now starts one later: live[2] is on no page read
    first_page.release()
    report = (await run)["alerts"]
    assert report.ok and report.counts["closed"] == 0
    by_vendor_id = {int(next(r["external_id"] for r in a["refs"] if r["source_id"] == rmm["_id"])): a
                    for a in await db["alerts"].find({"source_id": rmm["_id"]}).to_list()}
    assert by_vendor_id[live[2]]["status"] == "open"
    # live[0] was on the first page, read before it went: two reads without it are still to come.
    report = (await env.sync("synca", "rmm", entities=("alerts",)))["alerts"]
    assert report.counts["closed"] == 0
    report = (await env.sync("synca", "rmm", entities=("alerts",)))["alerts"]
    assert report.counts["closed"] == 1                               # the one really gone
    assert (await db["alerts"].find_one({"_id": by_vendor_id[live[0]]["_id"]}))["status"] == "resolved"
    assert (await db["alerts"].find_one({"_id": by_vendor_id[live[2]]["_id"]}))["status"] == "open"
