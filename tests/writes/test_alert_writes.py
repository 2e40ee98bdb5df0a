"""Alert write tools: only NinjaOne can acknowledge and resolve (both RESET the condition there, and
the answer says so); every other vendor's alert gets the documented reason, and tools/list follows
the vendor matrix."""
from __future__ import annotations

from vectis.ids import new_id

from ..support.rpc import call_tool, rpc, structured
from .conftest import open_alert

REASONS = {
    "datto_bcdr": "Datto BCDR REST surface is read-only.",
    "ncentral": "N-central exposes no documented notification-update REST verb.",
    "kaseya_vsax": "Kaseya VSA X notifications API documents only DELETE (destructive); no "
                   "acknowledge or close verb.",
    "atera": "Vectis offers no alert writes for Atera (the public docs' vendor matrix)",
}
TICKET_TOOLS = {"create_ticket", "reply_to_ticket", "add_internal_note", "close_ticket"}
ALERT_TOOLS = {"acknowledge_alert", "resolve_alert"}


async def listed(http, tenant) -> set[str]:
    status, body, _ = await rpc(http, tenant.url, tenant.token, "tools/list", {})
    assert status == 200
    return {t["name"] for t in body["result"]["tools"]}


async def test_acknowledge_then_resolve_a_ninjaone_alert(make_vendor_tenant, http):
    tenant = await make_vendor_tenant("ninja", ("connectwise", "ninjaone", "datto_bcdr"))
    alert = await open_alert(tenant)
    uid = alert["refs"][0]["external_id"]
    sim = tenant.sim("rmm")
    out = await structured(http, tenant.url, tenant.token, "acknowledge_alert",
                           {"alert_id": alert["_id"], "note": "Looking into it"})
    assert out["status"] == "acknowledged" and out["vendor"] == "ninjaone"
    # NinjaOne has no acknowledged state: the reset took the alert off its list, and the answer
    # says so (the next sync resolves it here; NinjaOne raises a new alert if it persists).
    effect = out["vendor_effect"]
    assert effect["action"] == "reset" and effect["listed"] is False and effect["already"] is False
    assert "raises a new alert" in effect["summary"] and "next sync" in effect["summary"]
    assert uid not in sim.alerts and sim.resets[uid] == [{"note": "Looking into it"}]
    got = await structured(http, tenant.url, tenant.token, "get_alert", {"alert_id": alert["_id"]})
    assert got["status"] == "acknowledged"
    assert [h["action"] for h in got["history"]][-1] == "acknowledged"

    # DELETE /v2/alert/{uid}: NinjaOne no longer has it (404), which is the wanted outcome.
    out = await structured(http, tenant.url, tenant.token, "resolve_alert", {"alert_id": alert["_id"]})
    assert out["status"] == "resolved" and out["vendor_effect"]["already"] is True
    assert sim.count("DELETE", "/v2/alert/{uid}") == 1
    got = await structured(http, tenant.url, tenant.token, "get_alert", {"alert_id": alert["_id"]})
    assert got["status"] == "resolved" and got["resolved_at"]
    again = await call_tool(http, tenant.url, tenant.token, "resolve_alert", {"alert_id": alert["_id"]})
    assert again["isError"] is True and "already resolved" in again["content"][0]["text"]


async def test_other_vendors_give_the_documented_reason(make_vendor_tenant, http):
    tenant = await make_vendor_tenant("nocentral", ("atera", "ncentral", "datto_bcdr"))
    # No NinjaOne: the alert tools are not listed at all; the ticket tools are (a PSA is connected).
    names = await listed(http, tenant)
    assert TICKET_TOOLS <= names and not ALERT_TOOLS & names
    cases = [(await open_alert(tenant, "rmm"), "ncentral")]
    backup_alert = await tenant.db["alerts"].find_one({"source_id": tenant.sources["backup"]["_id"]})
    if backup_alert is not None:
        await tenant.db["alerts"].update_one({"_id": backup_alert["_id"]}, {"$set": {"status": "open"}})
        cases.append((backup_alert, "datto_bcdr"))
    # An alert raised by Atera (its RMM side), linked to the Atera source.
    atera_alert = {**cases[0][0], "_id": new_id("alr"), "source_id": tenant.sources["psa"]["_id"],
                   "vendor": "atera", "refs": [{"source_id": tenant.sources["psa"]["_id"],
                                                "external_id": "77"}]}
    await tenant.db["alerts"].insert_one(atera_alert)
    cases.append((atera_alert, "atera"))
    for alert, vendor in cases:
        for tool in sorted(ALERT_TOOLS):
            result = await call_tool(http, tenant.url, tenant.token, tool, {"alert_id": alert["_id"]})
            assert result["isError"] is True
            assert REASONS[vendor] in result["content"][0]["text"], (vendor, result)
    stored = await tenant.db["alerts"].find_one({"_id": cases[0][0]["_id"]})
    assert stored["status"] == "open"                                     # nothing changed


async def test_kaseya_reason_and_the_matrix_without_sources(make_vendor_tenant, http, acme):
    tenant = await make_vendor_tenant("kaseya", ("halopsa", "kaseya_vsax", "datto_bcdr"))
    alert = await open_alert(tenant)
    result = await call_tool(http, tenant.url, tenant.token, "acknowledge_alert", {"alert_id": alert["_id"]})
    assert result["isError"] is True and REASONS["kaseya_vsax"] in result["content"][0]["text"]
    # A tenant with no connected source lists no write tool; with NinjaOne it lists the alert tools.
    assert not (TICKET_TOOLS | ALERT_TOOLS) & await listed(http, acme)
    ninja = await make_vendor_tenant("ninja2", ("autotask", "ninjaone", "datto_bcdr"))
    assert (TICKET_TOOLS | ALERT_TOOLS) <= await listed(http, ninja)
