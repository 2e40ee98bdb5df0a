"""storage.activity: pages of AI clients' calls, newest first, equal to one sorted filter of the
whole log however they are cut (equal times, the row budget ending a page early, filters read by
credential through the actor index), and only ever `at` or `actor` index ranges."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import monitoring

from vectis.audit import audit_row
from vectis.storage.activity import ActivityFilter

USERS = {"usr_a": ("pat_a1", "pat_a2"), "usr_b": ("pat_b1",), "usr_c": ("gra_c1",)}


def make_rows(now: datetime, count: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    rows = []
    for _ in range(count):
        user = rnd.choice(sorted(USERS))
        credential = rnd.choice(USERS[user])
        kind = rnd.choice(["read", "read", "write", "auth"])
        actor_kind = "oauth" if credential.startswith("gra") else rnd.choice(["pat", "pat", "pat", "rule"])
        row = audit_row(actor={"kind": actor_kind, "credential_id": credential, "user_id": user,
                               "email": f"{user}@x.example", "client_id": None},
                        action=rnd.choice(["get_ticket", "list_alerts", "reply_to_ticket"]),
                        status=rnd.choice(["success", "success", "error", "replayed", "denied_scope"]), kind=kind)
        # Many rows share a time: a page must still cut them stably by _id.
        row["at"] = now - timedelta(minutes=rnd.choice([0, 1, 2, 30, 90, 600, 3000, 9000]), seconds=rnd.randrange(3))
        rows.append(row)
    return rows


def expected(rows: list[dict], flt: ActivityFilter) -> list[str]:
    chosen = [r for r in rows if flt.matches(r) and r["at"] >= flt.since
              and (flt.until is None or r["at"] < flt.until)]
    return [r["_id"] for r in sorted(chosen, key=lambda r: (r["at"], r["_id"]), reverse=True)]


async def walk(storage, flt: ActivityFilter, limit: int, budget: int) -> tuple[list[str], int]:
    ids, before, pages = [], None, 0
    while True:
        page = await storage.activity.page("acme", flt, limit, before, budget=budget)
        assert len(page.rows) <= limit
        ids += [r["_id"] for r in page.rows]
        pages += 1
        if page.before is None:
            return ids, pages
        assert page.rows or page.searched_to is not None      # an empty page only when cut short
        before = page.before


@pytest.mark.parametrize("limit,budget", [(7, 10_000), (50, 10_000), (5, 40), (1, 1)])
async def test_pages_equal_one_sorted_filter(storage, limit, budget):
    await storage.tenants.ensure("acme", "Acme")
    now = datetime.now(UTC)
    rows = make_rows(now, 400, seed=limit)
    await storage.audit.insert("acme", rows)
    week = now - timedelta(days=7)
    filters = [
        ActivityFilter(since=week),
        ActivityFilter(since=week, statuses=frozenset({"replayed"})),
        ActivityFilter(since=week, action="reply_to_ticket", until=now - timedelta(minutes=1)),
        ActivityFilter(since=now - timedelta(hours=2), user_id="usr_a", credential_ids=USERS["usr_a"]),
        ActivityFilter(since=week, user_id="usr_c", credential_ids=USERS["usr_c"], statuses=frozenset({"success"})),
        ActivityFilter(since=week, credential_ids=()),
    ]
    for flt in filters:
        ids, pages = await walk(storage, flt, limit, budget)
        assert ids == expected(rows, flt), flt
        if budget >= 10_000:
            assert pages == max(1, -(-len(ids) // limit)) or pages == len(ids) // limit + 1


async def test_a_page_reads_only_index_ranges_of_at_or_actor(storage, mongo_uri):
    await storage.tenants.ensure("acme", "Acme")
    now = datetime.now(UTC)
    await storage.audit.insert("acme", make_rows(now, 200, seed=1))
    log = storage.db.tenant("acme")["audit_log"]
    filters = {}

    class Listener(monitoring.CommandListener):
        def started(self, event):
            if event.command_name == "find" and event.command.get("find") == "audit_log":
                filters.setdefault("seen", []).append(event.command["filter"])

        def succeeded(self, event):
            pass

        def failed(self, event):
            pass

    # Every filter the page sends names `at` and at most actor.credential_id: what the `at` and
    # `actor` indexes hold whole (on SecantusDB any other field makes a scan).
    from vectis.storage import Storage, make_client
    listener = Listener()
    client = make_client(mongo_uri, event_listeners=[listener])
    watched = Storage(client, storage.db.prefix)
    try:
        for flt in (ActivityFilter(since=now - timedelta(days=7), action="get_ticket"),
                    ActivityFilter(since=now - timedelta(days=7), user_id="usr_a", credential_ids=USERS["usr_a"])):
            page = await watched.activity.page("acme", flt, 5)
            await watched.activity.page("acme", flt, 5, page.before)
    finally:
        await client.close()
    assert filters["seen"]
    for sent in filters["seen"]:
        assert set(sent) <= {"at", "actor.credential_id"} and "at" in sent, sent
        plan = await log.find(sent).explain()
        assert "COLLSCAN" not in str(plan), (sent, plan)
