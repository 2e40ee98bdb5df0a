"""Pages read without `$or` and in windows of time give exactly what one sorted query gives: every
document once, in order, across ties, gaps of years, future times and documents without a time;
a customer's open summary agrees with counting and ranking in the database."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from vectis.storage.customers import OPEN_ALERT_STATUSES, OPEN_TICKET_STATUSES
from vectis.storage.name_pages import name_windows
from vectis.storage.pages import find_page, merge_conditions

NOW = datetime.now(UTC).replace(microsecond=0)


def _times(rng: random.Random) -> datetime | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.15:
        return NOW - timedelta(hours=3)                      # many ties
    if roll < 0.2:
        return NOW + timedelta(days=rng.randint(1, 30))      # clocks ahead
    return NOW - timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60))


def _tickets(n: int) -> list[dict]:
    rng = random.Random(5)
    docs = []
    for i in range(n):
        doc = {"_id": f"tkt_{i:05d}", "uuid": f"00000000-0000-4000-8000-{i:012d}", "number": f"T{i}",
               "customer_id": f"cus_{i % 3}", "subject": f"ticket {i}",
               "status": rng.choice(("new", "open", "in_progress", "waiting", "closed", "resolved")),
               "priority": rng.choice(("low", "medium", "high", "critical")),
               "assignee": {"email": rng.choice(("a@x.example", "b@x.example"))} if i % 4 else None,
               "updated_at": _times(rng)}
        if doc["updated_at"] is None and i % 2:
            del doc["updated_at"]
        docs.append(doc)
    return docs


def _expected(docs: list[dict], keep, field: str) -> list[str]:
    dated = sorted((d for d in docs if keep(d) and d.get(field) is not None),
                   key=lambda d: (d[field], d["_id"]), reverse=True)
    undated = sorted((d for d in docs if keep(d) and d.get(field) is None), key=lambda d: d["_id"], reverse=True)
    return [d["_id"] for d in dated + undated]


async def _all_pages(fetch, limit: int) -> list[str]:
    seen, after = [], None
    for _ in range(1000):
        docs, after = await fetch(limit=limit, after=after)
        seen += [d["_id"] for d in docs]
        if after is None:
            return seen
    raise AssertionError("pagination did not end")


async def test_tenant_wide_open_tickets_page_through_windows_like_one_sorted_query(storage):
    docs = _tickets(400)
    await storage.bulk.insert_missing("acme", "tickets", docs)
    repo = storage.tickets
    cases = [
        ({}, lambda d: d["status"] in OPEN_TICKET_STATUSES),
        ({"status": "waiting"}, lambda d: d["status"] == "waiting"),
        ({"priority": "critical"}, lambda d: d["status"] in OPEN_TICKET_STATUSES and d["priority"] == "critical"),
        ({"assignee_email": "A@x.example"},
         lambda d: d["status"] in OPEN_TICKET_STATUSES and (d["assignee"] or {}).get("email") == "a@x.example"),
    ]
    for filters, keep in cases:
        for limit in (1, 7, 50):
            got = await _all_pages(lambda limit, after, f=filters: repo.open_page("acme", limit=limit, after=after, **f),
                                   limit)
            assert got == _expected(docs, keep, "updated_at"), (filters, limit)


async def test_tenant_wide_alerts_page_through_windows_like_one_sorted_query(storage):
    rng = random.Random(9)
    docs = [{"_id": f"alr_{i:05d}", "customer_id": "cus_1", "title": f"alert {i}",
             "status": rng.choice(("open", "acknowledged", "resolved")),
             "severity": rng.choice(("critical", "major", "minor")), "created_at": _times(rng)}
            for i in range(300)]
    await storage.bulk.insert_missing("acme", "alerts", docs)
    for filters, keep in [({}, lambda d: d["status"] in OPEN_ALERT_STATUSES),
                          ({"status": "resolved"}, lambda d: d["status"] == "resolved"),
                          ({"severity": "major"}, lambda d: d["status"] in OPEN_ALERT_STATUSES and d["severity"] == "major")]:
        got = await _all_pages(lambda limit, after, f=filters: storage.alerts.page("acme", limit=limit, after=after, **f), 6)
        assert got == _expected(docs, keep, "created_at"), filters


async def test_later_pages_without_or_match_the_sort_for_name_sorted_lists(storage):
    names = ["Zeta", "alpha", "Alpha", "beta", "Beta", "beta", "gamma", "Gamma", "Alpha"]
    docs = [{"_id": f"cus_{i:03d}", "name": names[i % len(names)], "status": "active" if i % 3 else "churned"}
            for i in range(60)]
    await storage.bulk.insert_missing("acme", "customers", docs)
    for status in (None, "active"):
        got = await _all_pages(lambda limit, after, s=status: storage.customers.page(
            "acme", name=None, status=s, limit=limit, after=after), 4)
        want = [d["_id"] for d in sorted(docs, key=lambda d: (d["name"], d["_id"])) if status in (None, d["status"])]
        assert got == want
    coll = storage.db.tenant("acme")["customers"]
    page, after = await find_page(coll, {"name": {"$gte": "B"}}, [("name", 1), ("_id", 1)], 5)
    rest, _ = await find_page(coll, {"name": {"$gte": "B"}}, [("name", 1), ("_id", 1)], 100, after)
    assert [d["_id"] for d in page + rest] == [d["_id"] for d in sorted(docs, key=lambda d: (d["name"], d["_id"]))
                                               if d["name"] >= "B"]


def test_merge_conditions_keeps_the_tighter_bound_and_flat_fields():
    assert merge_conditions({"a": 1, "t": {"$gte": 5, "$lte": 9}}, {"t": {"$gt": 7}}) == \
        {"a": 1, "t": {"$gte": 5, "$lte": 9, "$gt": 7}}
    assert merge_conditions({"t": {"$lt": 5}}, {"t": {"$lt": 3}}) == {"t": {"$lt": 3}}
    assert merge_conditions({"t": 4}, {"t": {"$gt": 2}}) == {"t": {"$eq": 4, "$gt": 2}}
    assert merge_conditions({"t": {"$regex": "x"}}, {"t": {"$gt": 2}}) == \
        {"$and": [{"t": {"$regex": "x"}}, {"t": {"$gt": 2}}]}


async def test_open_summary_agrees_with_counting_and_ranking_in_the_database(storage):
    docs = _tickets(300)
    await storage.bulk.insert_missing("acme", "tickets", docs)
    rng = random.Random(3)
    alerts = [{"_id": f"alr_{i:04d}", "customer_id": f"cus_{i % 3}", "title": "x",
               "status": rng.choice(("open", "acknowledged", "resolved")),
               "severity": rng.choice(("critical", "major", "moderate", "minor", "info")),
               "created_at": NOW - timedelta(minutes=rng.randint(0, 10_000))} for i in range(200)]
    await storage.bulk.insert_missing("acme", "alerts", alerts)
    for customer in ("cus_0", "cus_1", "cus_2", "cus_none"):
        count, top = await storage.tickets.open_summary("acme", customer, 5)
        assert count == await storage.tickets.open_count("acme", customer)
        assert [t["_id"] for t in top] == [t["_id"] for t in await storage.tickets.most_urgent_open("acme", customer, 5)]
        count, top = await storage.alerts.open_summary("acme", customer, 5)
        assert count == await storage.alerts.open_count("acme", customer)
        assert [a["_id"] for a in top] == [a["_id"] for a in await storage.alerts.most_severe_open("acme", customer, 5)]


def _asset_names(rng: random.Random, i: int) -> str | None:
    roll = rng.random()
    if roll < 0.05:
        return None
    if roll < 0.25:
        return rng.choice(("AP01", "DC01", "PRN-01"))                 # one per customer: many ties
    if roll < 0.55:
        return f"{rng.choice('RBS')}D-LT{rng.randint(0, 150):03d}"    # long shared prefixes
    return rng.choice(("", " lead", "007-box", "alpha", "Zulu", "~tilde", "|pipe", "{brace", "Ünïcode", "日本",
                       "a\x7f", "x" * 40, f"mixed-{i}", "B", "BZ", "Ba", "b\x80"))


async def test_asset_pages_read_in_windows_of_names_like_one_sorted_query(storage):
    rng = random.Random(17)
    docs = []
    for i in range(240):
        doc = {"_id": f"ast_{i:05d}", "customer_id": f"cus_{i % 4}", "name": _asset_names(rng, i),
               "kind": rng.choice(("server", "laptop", "printer")), "status": rng.choice(("online", "offline"))}
        if doc["name"] is None and i % 2:
            del doc["name"]
        docs.append(doc)
    await storage.bulk.insert_missing("acme", "assets", docs)
    for filters in ({}, {"kind": "printer"}, {"status": "offline"}, {"kind": "server", "status": "online"},
                    {"customer_id": "cus_2"}):
        want = [d["_id"] for d in sorted(docs, key=lambda d: (d.get("name") is not None, d.get("name") or "", d["_id"]))
                if all(d[k] == v for k, v in filters.items())]
        for limit in (4, 50):
            got = await _all_pages(lambda limit, after, f=filters: storage.assets.page("acme", limit=limit, after=after, **f),
                                   limit)
            assert got == want, (filters, limit)


def test_name_windows_rise_strictly_above_the_cursor():
    for after in ("", "RD-LT014", "a", "zz", "~", "Ünï", "x\x80", "A B"):
        bounds = list(name_windows(after))
        assert bounds and all(b > after for b in bounds) and bounds == sorted(set(bounds)), after


async def test_tenant_wide_invoices_page_through_windows_like_one_sorted_query(storage):
    rng = random.Random(23)
    docs = [{"_id": f"inv_{i:05d}", "customer_id": f"cus_{i % 3}", "number": f"INV-{i}",
             "status": rng.choice(("paid", "overdue")), "issued_at": _times(rng)} for i in range(300)]
    await storage.bulk.insert_missing("acme", "invoices", docs)
    since = NOW - timedelta(days=400)
    for filters, keep in [({}, lambda d: True), ({"status": "overdue"}, lambda d: d["status"] == "overdue"),
                          ({"issued_since": since}, lambda d: d["issued_at"] is not None and d["issued_at"] >= since),
                          ({"customer_id": "cus_1"}, lambda d: d["customer_id"] == "cus_1")]:
        for limit in (3, 40):
            got = await _all_pages(lambda limit, after, f=filters: storage.finance.invoices_page(
                "acme", limit=limit, after=after, **f), limit)
            assert got == _expected(docs, keep, "issued_at"), (filters, limit)
