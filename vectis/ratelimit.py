"""Rate limits per credential and per tenant, reads and writes counted separately.

Fixed one-minute windows counted in MongoDB so every process shares one budget. To keep the
database off the hot path, a process leases a small chunk of a window's budget at a time
(one round trip per chunk, not per call; the credential's and the tenant's chunks in the same
round trip when both run out) and spends it locally. The total granted across all
processes never exceeds the limit; a process may hold back at most one unspent chunk, so another
process can be refused up to a chunk early. A refusal is cached until the window ends.
"""
from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from .storage import Storage

WINDOW_SECONDS = 60
DEFAULT_LIMITS = {  # calls per minute
    "credential_read": 600,
    "credential_write": 60,
    "tenant_read": 6000,
    "tenant_write": 600,
}
MAX_CHUNK = 20


def chunk_size(limit: int) -> int:
    return max(1, min(MAX_CHUNK, limit // 30))


@dataclass
class _Bucket:
    window: int = -1
    local: int = 0          # leased and not yet spent in this process
    exhausted: bool = False
    leased: bool = False    # this process has leased from this window


class RateLimited(Exception):
    def __init__(self, retry_after: int, scope: str, limit: int):
        super().__init__(f"rate limit of {limit} {scope} calls per minute reached")
        self.retry_after = retry_after
        self.scope = scope
        self.limit = limit


def limits_for(settings: dict) -> dict[str, int]:
    overrides = (settings or {}).get("rate_limits") or {}
    return {k: int(overrides.get(k, v)) for k, v in DEFAULT_LIMITS.items()}


class RateLimiter:
    def __init__(self, storage: Storage, clock=time.time):
        self._storage = storage
        self._clock = clock
        self._buckets: dict[tuple, _Bucket] = {}
        self._locks: dict[tuple, asyncio.Lock] = {}

    async def check(self, tenant: str, settings: dict, credential_id: str, kind: str) -> None:
        """Spend one call of `kind` ('read'/'write') from the credential's and the tenant's
        budgets, or raise RateLimited and spend nothing."""
        limits = limits_for(settings)
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        budgets = ((_field(f"cred:{credential_id}:{kind}"), limits[f"credential_{kind}"], "credential " + kind),
                   (f"tenant:{kind}", limits[f"tenant_{kind}"], "tenant " + kind))
        buckets = [self._bucket(tenant, key, window) for key, _, _ in budgets]
        for bucket, (_, limit, scope) in zip(buckets, budgets, strict=True):
            if limit <= 0 or (bucket.exhausted and bucket.local == 0):
                raise RateLimited(retry_after, scope, limit)
        if any(bucket.local == 0 for bucket in buckets):
            # One lock per tenant and kind: the leases of both budgets are taken together.
            async with self._locks.setdefault((tenant, kind), asyncio.Lock()):
                wanted = [(b, key, limit) for b, (key, limit, _) in zip(buckets, budgets, strict=True)
                          if b.local == 0 and not b.exhausted]
                # A tenant this process has not leased for in this window (one called now and
                # then) most likely has no counter document yet: create it rather than miss it.
                await self._lease(tenant, window, wanted, likely_new=not buckets[1].leased)
        for bucket, (_, limit, scope) in zip(buckets, budgets, strict=True):
            if bucket.local == 0:
                raise RateLimited(retry_after, scope, limit)
        for bucket in buckets:
            bucket.local -= 1

    def _bucket(self, tenant: str, key: str, window: int) -> _Bucket:
        bkey = (tenant, key)
        bucket = self._buckets.get(bkey)
        if bucket is None or bucket.window != window:
            bucket = self._buckets[bkey] = _Bucket(window=window)
            self._evict_old(window)
        return bucket

    async def _lease(self, tenant: str, window: int, wanted: list[tuple[_Bucket, str, int]],
                     likely_new: bool) -> None:
        """Lease a chunk of each budget in one round trip: a window's counters are fields of one
        document, so a call whose two leases run out together (the usual case: both are spent
        once per call) costs one database round trip, not two."""
        if not wanted:
            return
        chunks = {key: chunk_size(limit) for _, key, limit in wanted}
        expires = datetime.fromtimestamp((window + 2) * WINDOW_SECONDS, UTC)
        totals = await self._storage.counters.add_fields(tenant, f"ratelimit:{window}", chunks, expires,
                                                         likely_new=likely_new)
        for bucket, key, limit in wanted:
            bucket.leased = True
            chunk, total = chunks[key], totals[key]
            bucket.local += max(0, min(chunk, limit - (total - chunk)))
            bucket.exhausted = total >= limit

    def _evict_old(self, window: int) -> None:
        if len(self._buckets) > 100_000:
            for k in [k for k, b in self._buckets.items() if b.window < window]:
                self._buckets.pop(k, None)
            # Locks are per (tenant, kind): few, and one in use must not be replaced.
            for k in [k for k, lock in self._locks.items() if not lock.locked()]:
                self._locks.pop(k, None)


def _field(key: str) -> str:
    """A counter's field name: ids never hold '.' or '$', but a field name must not either."""
    return key.replace(".", "_").replace("$", "_")
