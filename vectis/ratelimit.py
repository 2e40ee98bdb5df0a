"""Rate limits per credential and per tenant, reads and writes counted separately.

Fixed one-minute windows counted in MongoDB so every process shares one budget. To keep the
database off the hot path, a process leases a small chunk of a window's budget at a time
(one round trip per chunk, not per call) and spends it locally. The total granted across all
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
        """Spend one call of `kind` ('read'/'write') or raise RateLimited."""
        limits = limits_for(settings)
        await self._spend(tenant, f"cred:{credential_id}:{kind}", limits[f"credential_{kind}"], "credential " + kind)
        await self._spend(tenant, f"tenant:{kind}", limits[f"tenant_{kind}"], "tenant " + kind)

    async def _spend(self, tenant: str, key: str, limit: int, scope: str) -> None:
        now = self._clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        if limit <= 0:
            raise RateLimited(retry_after, scope, limit)
        bkey = (tenant, key)
        bucket = self._buckets.get(bkey)
        if bucket is None or bucket.window != window:
            bucket = self._buckets[bkey] = _Bucket(window=window)
            self._evict_old(window)
        if bucket.local > 0:
            bucket.local -= 1
            return
        if bucket.exhausted:
            raise RateLimited(retry_after, scope, limit)
        lock = self._locks.setdefault(bkey, asyncio.Lock())
        async with lock:
            if bucket.local == 0 and not bucket.exhausted:
                chunk = chunk_size(limit)
                expires = datetime.fromtimestamp((window + 2) * WINDOW_SECONDS, UTC)
                total = await self._storage.counters.add(tenant, f"{key}:{window}", chunk, expires)
                granted = max(0, min(chunk, limit - (total - chunk)))
                bucket.local += granted
                bucket.exhausted = total >= limit
            if bucket.local > 0:
                bucket.local -= 1
                return
        raise RateLimited(retry_after, scope, limit)

    def _evict_old(self, window: int) -> None:
        if len(self._buckets) > 100_000:
            for k in [k for k, b in self._buckets.items() if b.window < window]:
                self._buckets.pop(k, None)
                self._locks.pop(k, None)
