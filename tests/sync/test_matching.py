"""How sync decides that two vendor objects are one document, and when they are not: two
clients of one PSA with the same name stay two, a record the vendor deleted never takes over a
live customer, firmware placeholder serials never merge devices, a backup job never links to
another customer's machine, and a second resolution of an alert is a second event."""
from __future__ import annotations

from vectis.sync.apply import real_serial

VENDORS = ("halopsa", "atera", "datto_bcdr")


def ref_of(doc: dict, source_id: str) -> str:
    return next(r["external_id"] for r in doc["refs"] if r["source_id"] == source_id)


async def test_two_clients_of_one_psa_with_the_same_name_stay_two(make_sync_env):
    env = await make_sync_env({"twins": VENDORS})
    await env.sync("twins", "psa")
    db, psa = env.db("twins"), await env.source("twins", "psa")
    sim = await env.sim("twins", "psa")
    original = next(iter(sim.clients.values()))
    twin_id = max(sim.clients) + 1
    sim.seed(clients=[{**original, "id": twin_id, "name": original["name"].upper()}],
             tickets=[{"id": max(sim.tickets) + 1, "client_id": twin_id, "summary": "Printer jam at the twin",
                       "user_id": None}])
    report = await env.sync("twins", "psa")
    assert report["customers"].counts["created"] == 1
    twins = await db["customers"].find({"refs.source_id": psa["_id"], "name": {
        "$regex": "^" + original["name"] + "$", "$options": "i"}}).to_list()
    assert sorted(ref_of(c, psa["_id"]) for c in twins) == sorted([str(original["id"]), str(twin_id)])
    ticket = await db["tickets"].find_one({"subject": "Printer jam at the twin"})
    twin = next(c for c in twins if ref_of(c, psa["_id"]) == str(twin_id))
    assert ticket is not None and ticket["customer_id"] == twin["_id"]
    assert report["tickets"].counts["unlinked"] == 0


async def test_a_deleted_vendor_record_never_takes_over_a_live_customer(make_sync_env):
    env = await make_sync_env({"ghost": VENDORS})
    await env.sync("ghost", "psa")
    db = env.db("ghost")
    live = await db["customers"].find_one({"status": "active"})
    sim = await env.sim("ghost", "psa")
    # An old, deleted client at the vendor that happens to bear a live customer's name.
    sim.seed(clients=[{**next(iter(sim.clients.values())), "id": max(sim.clients) + 1,
                       "name": live["name"], "inactive": True}])
    await env.sync("ghost", "psa")
    stored = await db["customers"].find_one({"_id": live["_id"]})
    assert stored["status"] == "active" and stored["refs"] == live["refs"]


def test_placeholder_serials_are_not_serials():
    for junk in ("To Be Filled By O.E.M.", "Default string", "System Serial Number", "0000000",
                 "N/A", "", "  ", None, 12345, "abc"):
        assert not real_serial(junk), junk
    for serial in ("5CG1234XYZ", "C02XK0JHJG5J", "PF2ABC12"):
        assert real_serial(serial)


async def test_a_backup_job_never_links_to_another_customers_machine(make_sync_env):
    env = await make_sync_env({"hosts": VENDORS})
    await env.sync("hosts", "backup")
    db, backup = env.db("hosts"), await env.source("hosts", "backup")
    sim = await env.sim("hosts", "backup")
    volume, host = next((a["volume"], a["name"]) for items in sim.assets.values() for a in items
                        if a.get("type", "agent") == "agent" and not a.get("fqdn"))   # named DC01 and so on
    job = next(j for j in await db["backup_jobs"].find().to_list() if ref_of(j, backup["_id"]) == volume)
    # This client's machine is not known to us by that name, but another client has one.
    await db["assets"].update_many({"customer_id": job["customer_id"],
                                    "name": {"$regex": "^" + host + "$", "$options": "i"}},
                                   {"$set": {"name": host + "-renamed"}})
    other = await db["customers"].find_one({"_id": {"$ne": job["customer_id"]}})
    await db["assets"].insert_one({"_id": "ast_decoy000000000", "customer_id": other["_id"],
                                   "name": host.upper(), "refs": [], "hardware": {}})
    await db["backup_jobs"].delete_one({"_id": job["_id"]})      # so the next sync links it anew
    await env.sync("hosts", "backup")
    relinked = next(j for j in await db["backup_jobs"].find().to_list() if ref_of(j, backup["_id"]) == volume)
    assert relinked["customer_id"] == job["customer_id"]
    # Every other client has its own DC01 too: none of them is this job's machine.
    assert relinked["asset_id"] is None


async def test_an_alert_resolved_twice_is_two_events(make_sync_env):
    env = await make_sync_env({"flap": VENDORS})
    await env.sync("flap", "rmm")
    db, rmm = env.db("flap"), await env.source("flap", "rmm")
    alert = await db["alerts"].find_one({"source_id": rmm["_id"], "status": "open"})
    sim = await env.sim("flap", "rmm")
    vendor_id = int(ref_of(alert, rmm["_id"]))
    kept = dict(sim.alerts[vendor_id])
    # Atera pages by number: an alert is resolved after two complete reads that lack it.
    sim.remove("alerts", vendor_id)
    await env.sync("flap", "rmm")
    await env.sync("flap", "rmm")                     # gone: resolved
    sim.seed(alerts=[kept])
    await env.sync("flap", "rmm")                     # back: reopened
    sim.remove("alerts", vendor_id)
    await env.sync("flap", "rmm")
    await env.sync("flap", "rmm")                     # gone again: resolved again
    await env.sync("flap", "rmm")                     # nothing new
    resolved = await db["events"].find({"type": "alert.resolved", "object.id": alert["_id"]}).to_list()
    assert len(resolved) == 2
    stored = await db["alerts"].find_one({"_id": alert["_id"]})
    assert [h["action"] for h in stored["history"]][-3:] == ["resolved", "reopened", "resolved"]
    # Its coming back was a created event again, for the rules written for new alerts.
    [reopened] = await db["events"].find({"type": "alert.created", "object.id": alert["_id"]}).to_list()
    assert reopened["data"]["reopened"] is True


async def test_a_device_one_source_drops_stays_live_while_another_lists_it(make_sync_env):
    env = await make_sync_env({"shared": VENDORS})
    db = env.db("shared")
    rmm, backup = await env.source("shared", "rmm"), await env.source("shared", "backup")
    atera, datto = await env.sim("shared", "rmm"), await env.sim("shared", "backup")
    appliance = next(iter(datto.devices.values()))
    # The RMM's agent runs on the backup appliance: one machine, one serial, two sources.
    agent_id, agent = next(iter(atera.agents.items()))
    agent["VendorSerialNumber"] = appliance["serialNumber"]
    await env.sync("shared", "backup")
    # The seeded data holds the agent as a device of its own; make it new to us, so the RMM's
    # next sync matches it to the appliance by serial number.
    await db["assets"].update_many({"refs.source_id": rmm["_id"], "refs.external_id": str(agent_id)},
                                   {"$pull": {"refs": {"source_id": rmm["_id"]}}})
    await env.sync("shared", "rmm")
    device = await db["assets"].find_one({"hardware.serial_number": appliance["serialNumber"]})
    assert {r["source_id"] for r in device["refs"]} == {rmm["_id"], backup["_id"]}
    atera.remove("agents", agent_id)                    # the RMM agent is uninstalled
    for _ in range(2):                                  # two snapshots without it (paged by number)
        await env.sync("shared", "rmm")
    assert (await db["assets"].find_one({"_id": device["_id"]}))["status"] != "retired"
    await env.sync("shared", "backup")
    device = await db["assets"].find_one({"_id": device["_id"]})
    assert device["status"] != "retired"
    assert {r["source_id"] for r in device["refs"]} == {backup["_id"]}
