"""The rate limiter against the real database: a call's credential and tenant leases are taken
in one round trip, budgets shared by several limiters (processes) never grant more than the
limit, and a refused call spends nothing of the other budget."""
from __future__ import annotations

from pymongo import monitoring

from vectis.ratelimit import RateLimited, RateLimiter
from vectis.storage import Storage, make_client

NOW = 1_800_000_000.0   # a fixed clock: windows are what the test says, whatever the time
WINDOW = int(NOW // 60)


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.names: list[str] = []

    def started(self, event):
        if event.command_name in ("findAndModify", "insert", "update"):
            self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


async def test_both_leases_in_one_round_trip(storage, mongo_uri, db_prefix):
    await storage.tenants.create("acme", "Acme")
    commands = Commands()
    watched = Storage(make_client(mongo_uri, event_listeners=[commands]), db_prefix)
    try:
        limiter = RateLimiter(watched, clock=lambda: NOW)
        for _ in range(40):
            await limiter.check("acme", {}, "pat_one", "read")
    finally:
        await watched.close()
    # Two leases of 20 for each budget: the first creates the window's document (a first call
    # of the window tries that first), the second increments both counters at once.
    assert commands.names == ["insert", "findAndModify"]
    docs = await storage.db.tenant("acme")["ratelimits"].find({}).to_list()
    assert [(d["_id"], d["cred:pat_one:read"], d["tenant:read"]) for d in docs] == [
        (f"ratelimit:{WINDOW}", 40, 40)]


async def test_limiters_sharing_a_database_never_grant_more_than_the_limit(storage):
    await storage.tenants.create("acme", "Acme")
    limiters = [RateLimiter(storage, clock=lambda: NOW) for _ in range(2)]
    settings = {"rate_limits": {"credential_read": 50, "tenant_read": 70}}
    granted = {"pat_a": 0, "pat_b": 0}
    for i in range(200):
        credential = "pat_a" if i % 3 else "pat_b"
        try:
            await limiters[i % 2].check("acme", settings, credential, "read")
            granted[credential] += 1
        except RateLimited:
            pass
    assert granted["pat_a"] <= 50 and granted["pat_b"] <= 50
    # Each limiter may hold back one unspent lease per budget (chunk 1 under 60, else 2 here).
    assert 70 - 2 * 2 <= sum(granted.values()) <= 70
    limiter = RateLimiter(storage, clock=lambda: NOW + 60)   # the next window starts afresh
    await limiter.check("acme", settings, "pat_a", "read")


async def test_a_refusal_by_one_budget_spends_nothing_of_the_other(storage):
    await storage.tenants.create("acme", "Acme")
    limiter = RateLimiter(storage, clock=lambda: NOW)
    settings = {"rate_limits": {"credential_read": 2, "tenant_read": 100}}
    for _ in range(2):
        await limiter.check("acme", settings, "pat_a", "read")
    for _ in range(3):
        try:
            await limiter.check("acme", settings, "pat_a", "read")
            raise AssertionError("the credential's budget is spent")
        except RateLimited as exc:
            assert exc.scope == "credential read" and 1 <= exc.retry_after <= 60
    # The three refused calls took nothing from the tenant's budget: 98 calls of another
    # credential still fit in it.
    for i in range(98):
        await limiter.check("acme", settings, f"pat_{i}", "read")
