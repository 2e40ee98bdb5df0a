"""The shared rate-limit counters under contention: two clients (as two processes would) creating
the same window's counter at once must all be counted, and none may fail."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from vectis.storage import Storage, make_client


async def test_concurrent_first_increments_from_two_clients_all_count(storage, mongo_uri, db_prefix):
    other = Storage(make_client(mongo_uri), db_prefix)
    try:
        expires = datetime.now(UTC) + timedelta(minutes=2)
        for round_ in range(5):            # a fresh key each round: the upsert race is on creation
            key = f"cred:pat_x:read:{round_}"
            totals = await asyncio.gather(*(
                (storage if n % 2 else other).counters.add("acme", key, 1, expires) for n in range(20)))
            assert sorted(totals) == list(range(1, 21))
    finally:
        await other.close()
