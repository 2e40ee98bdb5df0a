"""Reading helpers shared by the vendors' readers: vendor epochs, a device's presence from its
online flag and last contact, records without absent fields, pages cut to size, and a page of
tickets read with their threads a few at a time."""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ..sync.records import Record

# A device that has not reported for this long is "stale" rather than merely "offline", and one
# that reported this recently counts as online where the vendor has no online flag.
STALE_AFTER = timedelta(days=30)
ONLINE_WITHIN = timedelta(minutes=15)


def epoch_time(value: Any) -> datetime | None:
    """A vendor epoch (seconds, or milliseconds when that large) as aware UTC."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:         # milliseconds: seconds would be past the year 5000
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def presence(online: bool | None, last_seen: datetime | None,
             now: datetime | None = None) -> str | None:
    """Canonical asset status from the vendor's online flag (None when it has none) and its last
    contact: long silence is "stale" whatever the flag says it was last."""
    now = now or datetime.now(UTC)
    if online:
        return "online"
    if last_seen is None:
        return None if online is None else "offline"
    if now - last_seen > STALE_AFTER:
        return "stale"
    if online is None and now - last_seen <= ONLINE_WITHIN:
        return "online"
    return "offline"


def present(values: dict) -> dict:
    """`values` without absent (None or empty) entries: the engine only overwrites what is given."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != {}}


def chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]

THREADS_AT_ONCE = 4                  # below the HTTP client's connections per host


async def threaded(rows: list[dict], record: Callable[[dict], Awaitable[Record]]) -> list[Record]:
    """Records of a page of tickets, in order, each with its thread: a few threads are fetched
    at once (a first sync reads every ticket's), and one failure cancels the rest."""
    limit = asyncio.Semaphore(THREADS_AT_ONCE)

    async def one(row: dict) -> Record:
        async with limit:
            return await record(row)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(row)) for row in rows]
    return [task.result() for task in tasks]


def contract_status(active: bool, start: datetime | None, end: datetime | None,
                    now: datetime) -> str:
    """A PSA contract's canonical status from its active flag and its dates."""
    if active:
        return "active"
    if start is not None and start > now:
        return "pending"
    if end is not None and end <= now:
        return "expired"
    return "cancelled"          # switched off before its end
