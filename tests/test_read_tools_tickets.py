"""Ticket read tools: list_open_tickets, list_my_assignments, get_ticket, search_tickets,
get_audit_log_for_ticket."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from vectis.ids import new_id
from vectis.scopes import ALL_SCOPES

from .support.rpc import structured
from .test_read_tools import (
    OPEN_TICKET_STATUSES,
    audit_documents,
    error_text,
    ids_in_db,
    is_sorted,
    tenant_db,
    walk,
)

OPEN = {"status": {"$in": OPEN_TICKET_STATUSES}}
TECHNICIAN = "sam.rivera@acme.example"


async def test_open_ticket_lists_default_filter_and_page(seeded, http):
    acme = seeded["acme"]
    tickets = tenant_db(acme)["tickets"]
    everything = await walk(http, acme, "list_open_tickets")
    assert {t["id"] for t in everything} == await ids_in_db(acme, "tickets", OPEN)
    assert len(everything) < await tickets.count_documents({})  # closed ones exist and are left out
    assert {t["origin"] for t in everything} <= {"psa", "portal"}
    assert is_sorted(everything, "updated_at", "id", descending=True)
    assert all("description" not in t and "messages" not in t for t in everything)

    sample = everything[0]
    busiest = max({t["customer_id"] for t in everything},
                  key=lambda c: sum(t["customer_id"] == c for t in everything))
    cases = [
        ({"customer_id": busiest}, {"customer_id": busiest}),
        ({"priority": sample["priority"]}, {"priority": sample["priority"]}),
        ({"status": "waiting"}, {"status": "waiting"}),
        ({"assignee_email": "Alex.Morgan@ACME.example"}, {"assignee.email": "alex.morgan@acme.example"}),
        ({"customer_id": busiest, "status": sample["status"]},
         {"customer_id": busiest, "status": sample["status"]}),
    ]
    for args, query in cases:
        found = await walk(http, acme, "list_open_tickets", args, limit=3)
        expected = await ids_in_db(acme, "tickets", {**OPEN, **query})
        assert {t["id"] for t in found} == expected, args
        assert is_sorted(found, "updated_at", "id", descending=True)
    assert (await structured(http, acme.url, acme.token, "list_open_tickets", {"limit": 200}))["count"] == \
        len(everything)

    # list_my_assignments: exactly the open tickets of the token's owner, whoever that is.
    technician_token = await acme.issue(ALL_SCOPES, email=TECHNICIAN)
    owners = {acme.admin_email: acme.token, TECHNICIAN: technician_token}
    seen: set[str] = set()
    for email, token in owners.items():
        mine = await walk(http, acme, "list_my_assignments", token=token, limit=2)
        expected = await ids_in_db(acme, "tickets", {**OPEN, "assignee.email": email})
        assert expected and {t["id"] for t in mine} == expected, email
        assert all(t["assignee"]["email"] == email for t in mine)
        assert is_sorted(mine, "updated_at", "id", descending=True)
        assert not seen & expected
        seen |= expected
        high = await walk(http, acme, "list_my_assignments", {"priority": "high"}, token=token)
        assert {t["id"] for t in high} == await ids_in_db(
            acme, "tickets", {**OPEN, "assignee.email": email, "priority": "high"})
    # Resolved and closed tickets stay out even when assigned.
    assert await tickets.count_documents({"assignee.email": TECHNICIAN, "status": {"$in": ["resolved", "closed"]}})
    # A token owner with no tickets gets an empty list, not somebody else's.
    await acme.server.storage.users.create("acme", "new.hire@acme.example", "New Hire", "technician", "x")
    newcomer = await acme.issue(["read:tickets"], email="new.hire@acme.example")
    assert await structured(http, acme.url, newcomer, "list_my_assignments") == \
        {"items": [], "next_cursor": None, "count": 0}


async def test_get_ticket_thread_lookups_search_and_audit(seeded, http):
    acme = seeded["acme"]
    db = tenant_db(acme)
    now = datetime.now(UTC).replace(microsecond=0)
    ticket = await db["tickets"].find_one({"origin": "psa", "status": "open"})
    original = await db["ticket_messages"].count_documents({"ticket_id": ticket["_id"]})
    added = [{"_id": new_id("msg"), "ticket_id": ticket["_id"],
              "author": {"kind": "contact", "name": "Pat Doe", "email": "pat@example.com"},
              "body": f"Follow-up {n}", "is_internal": n % 5 == 0,
              "created_at": ticket["updated_at"] + timedelta(seconds=n + 1),
              "refs": []} for n in range(30)]
    await db["ticket_messages"].insert_many(added)

    full = await structured(http, acme.url, acme.token, "get_ticket", {"ticket_id": ticket["_id"]})
    assert full["id"] == ticket["_id"] and full["uuid"] == ticket["uuid"] and full["number"] == ticket["number"]
    assert full["description"] == ticket["description"] and full["priority"] == ticket["priority"]
    assert full["requester"] == ticket["requester"] and full["status"] == "open"
    assert len(full["messages"]) == 25 and full["messages_total"] == original + 30 and full["messages_truncated"]
    assert [m["id"] for m in full["messages"]] == [m["_id"] for m in reversed(added[5:])]  # newest first
    assert full["messages"][0]["body"] == "Follow-up 29" and full["messages"][4]["is_internal"] is True
    assert full["customer"]["id"] == ticket["customer_id"] and full["customer"]["name"]
    assert full["source"]["vendor"] == "connectwise" and full["source"]["last_sync_at"]

    by_uuid = await structured(http, acme.url, acme.token, "get_ticket", {"uuid": ticket["uuid"].upper()})
    by_number = await structured(http, acme.url, acme.token, "get_ticket", {"number": ticket["number"]})
    assert by_uuid == full == by_number

    short = await db["tickets"].find_one({"_id": {"$ne": ticket["_id"]}, "message_count": {"$lte": 25}})
    small = await structured(http, acme.url, acme.token, "get_ticket", {"ticket_id": short["_id"]})
    assert small["messages_total"] == short["message_count"] == len(small["messages"])
    assert small["messages_truncated"] is False
    assert is_sorted(small["messages"], "created_at", "id", descending=True)
    portal = await db["tickets"].find_one({"origin": "portal"})
    assert (await structured(http, acme.url, acme.token, "get_ticket", {"ticket_id": portal["_id"]}))["source"] is None

    # A number that two sources share is ambiguous: the caller is told which ids to choose from.
    twin = {**ticket, "_id": new_id("tkt"), "uuid": str(uuid.uuid4()), "source_id": None, "origin": "portal"}
    await db["tickets"].insert_one(twin)
    text = await error_text(http, acme, "get_ticket", {"number": ticket["number"]})
    assert "several sources" in text and ticket["_id"] in text and twin["_id"] in text
    await db["tickets"].delete_one({"_id": twin["_id"]})

    # search_tickets: by number, by requester e-mail, by subject words; with status filters.
    hits = (await structured(http, acme.url, acme.token, "search_tickets", {"query": ticket["number"]}))["items"]
    assert hits[0]["id"] == ticket["_id"] and hits[0]["score"] == 1.0
    assert [h["id"] for h in hits].count(ticket["_id"]) == 1       # the exact hit is not repeated
    other_status = next(s for s in ("resolved", "new") if s != ticket["status"])
    filtered = (await structured(http, acme.url, acme.token, "search_tickets",
                                 {"query": ticket["number"], "status": other_status}))["items"]
    assert ticket["_id"] not in {h["id"] for h in filtered}          # filters apply to exact hits too
    hits = (await structured(http, acme.url, acme.token, "search_tickets",
                             {"query": ticket["requester"]["email"], "limit": 50}))["items"]
    assert ticket["_id"] in {h["id"] for h in hits}
    assert all(0.3 <= h["score"] <= 1 for h in hits) and is_sorted(hits, "score", descending=True)
    subject_word = max(ticket["subject"].split(), key=len)
    for args, allowed in (({"status": "closed"}, {"closed"}), ({"open_only": True}, set(OPEN_TICKET_STATUSES))):
        result = await structured(http, acme.url, acme.token, "search_tickets",
                                  {"query": subject_word, "limit": 50, **args})
        assert {h["status"] for h in result["items"]} <= allowed and result["count"] == len(result["items"])
    limited = await structured(http, acme.url, acme.token, "search_tickets", {"query": subject_word, "limit": 1})
    assert limited["count"] <= 1 and limited["query"] == subject_word
    assert (await structured(http, acme.url, acme.token, "search_tickets", {"query": "qqxqzvvj"}))["items"] == []

    # get_audit_log_for_ticket: by id, by uuid prefix, newest first, bounded by limit.
    other = await db["tickets"].find_one({"_id": {"$ne": ticket["_id"]}})
    storage = acme.server.storage
    await storage.audit.insert("acme", audit_documents(ticket, 4, now=now) + audit_documents(other, 2, now=now))
    rows = (await structured(http, acme.url, acme.token, "get_audit_log_for_ticket", {"ticket_id": ticket["_id"]}))
    assert rows["count"] == 4 and {r["target"]["id"] for r in rows["items"]} == {ticket["_id"]}
    assert is_sorted(rows["items"], "at", descending=True)
    assert rows["items"][0]["actor"]["email"] == TECHNICIAN and rows["items"][0]["action"] == "reply_to_ticket"
    by_prefix = await structured(http, acme.url, acme.token, "get_audit_log_for_ticket",
                                 {"uuid_prefix": ticket["uuid"][:6].upper()})
    assert [r["id"] for r in by_prefix["items"]] == [r["id"] for r in rows["items"]]
    both = await structured(http, acme.url, acme.token, "get_audit_log_for_ticket",
                            {"ticket_id": ticket["_id"], "uuid_prefix": other["uuid"][:8], "limit": 5})
    assert both["count"] == 5
