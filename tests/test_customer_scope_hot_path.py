"""A customer-scoped credential on the hot path: its scope costs no database round trip of its
own. The principal (scope included) comes from the auth cache, the scoped storage view is built
once per scope and reused, and a restricted call makes exactly the database commands of the same
call by an unrestricted credential. Counted with the driver's command monitoring on the server's
real database client, never timed."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from pymongo import monitoring

from vectis.credentials.issue import issue_pat
from vectis.demo.generator import demo_operators
from vectis.demo.seed import seed_tenant
from vectis.scopes import ALL_SCOPES
from vectis.storage import Storage, make_client

from .conftest import issue_token, running_server
from .support.http import client_session
from .support.rpc import structured

SLUG = "acme"
CALLS = 5


class Commands(monitoring.CommandListener):
    """Every command the client sends to the tenant's database, as (command, collection)."""

    def __init__(self):
        self.database = None
        self.seen: Counter = Counter()

    def started(self, event):
        if event.database_name == self.database:
            value = event.command.get(event.command_name)
            self.seen[(event.command_name, value if isinstance(value, str) else "")] += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    def reads(self) -> Counter:
        """The commands of the calls themselves: not the audit rows (written in batches, later)
        nor the rate-limit leases (taken per credential now and then, scope or not)."""
        return Counter({key: n for key, n in self.seen.items() if key[1] not in ("audit_log", "ratelimits")})


@pytest.fixture
async def monitored(tmp_path, mongo_uri, db_prefix):
    commands = Commands()
    storage = Storage(make_client(mongo_uri, event_listeners=[commands]), db_prefix)
    await storage.db.ensure_control_indexes()
    commands.database = storage.db.tenant(SLUG).name
    try:
        # A long auth cache: the test is about the calls, not about credentials expiring mid-way.
        async with running_server(tmp_path, mongo_uri, db_prefix, storage, auth_cache_seconds=300) as live:
            yield live, commands
    finally:
        await storage.db.drop_everything()
        await storage.close()


async def test_a_restricted_token_costs_no_round_trip_for_its_scope(monitored):
    live, commands = monitored
    storage = live.storage
    await seed_tenant(storage, SLUG, "Acme", passwords={}, customers=4, tickets_per_customer=3,
                      now=datetime.now(UTC))
    db = storage.db.tenant(SLUG)
    customers = sorted(await db["customers"].distinct("_id", {}))
    scope = frozenset(customers[:2])
    technician = next(o for o in demo_operators(SLUG) if o.role == "technician")
    user = await storage.users.by_email(SLUG, technician.email)
    await storage.users.set_customers(SLUG, user["_id"], scope)
    restricted, _ = await issue_pat(storage, live.config.token_pepper, SLUG,
                                    await storage.users.by_id(SLUG, user["_id"]), label="scoped",
                                    scopes=ALL_SCOPES, expires_days=None, max_expires_days=30)
    admin = next(o for o in demo_operators(SLUG) if o.role == "admin")
    unrestricted = await issue_token(storage, live.config, SLUG, admin.email, ALL_SCOPES)

    url = live.url(SLUG, "/api/mcp")
    calls = [("list_open_tickets", {"limit": 3}), ("get_customer", {"customer_id": customers[0]}),
             ("list_customers", {}), ("search_tickets", {"query": "printer"})]
    async with client_session() as http:
        per_call = {}
        for token in (restricted, unrestricted):
            for tool, args in calls:       # warm: the credential's first look-up, caches
                await structured(http, url, token, tool, args)
            await live.services.authenticator.drain()
            for tool, args in calls:
                commands.seen.clear()
                for _ in range(CALLS):
                    await structured(http, url, token, tool, args)
                await live.services.authenticator.drain()
                reads = commands.reads()
                # No credential look-up (users, pats) and no per-call growth: every call alike.
                assert not {c for _, c in reads} & {"users", "pats", "oauth_grants"}, (tool, reads)
                assert all(n % CALLS == 0 for n in reads.values()), (tool, reads)
                per_call[token, tool] = Counter({k: n // CALLS for k, n in reads.items()})
    for tool, _ in calls:
        if tool == "search_tickets":
            # How many index reads a search needs depends on the hits it finds (storage.search
            # stops once nothing unread can rank), and a scope finds fewer: equal work is not
            # the promise there, only no look-up of its own (checked above).
            continue
        # The scope rides on the queries the call makes anyway: not one command more.
        assert per_call[restricted, tool] == per_call[unrestricted, tool], tool
    # One view per scope, whoever asks: equal scopes built apart get the same object.
    view = storage.scoped(frozenset(customers[:2]))
    assert storage.scoped(frozenset(reversed(customers[:2]))) is view is storage.scoped(scope)
    assert storage.scoped(frozenset(customers[:1])) is not view
    assert storage.scoped(None) is storage
