"""The sync scheduler inside the server process.

Every TICK it looks for connected sources that are due (`sync_next_run_at` in the source
document, so every process of a deployment agrees) and runs them, at most `concurrency` at once.
A run in which every entity fails is retried with exponential backoff (capped); any other run is
scheduled one interval later, with jitter so that sources (and tenants) do not all sync in the
same second.
The per-source lease in the database means two processes never run the same source at once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime, timedelta

from .engine import SourceBusy, SyncEngine

log = logging.getLogger("vectis.sync")
TICK = 5.0
MAX_BACKOFF = timedelta(hours=1)
JITTER = 0.1


def next_run(now: datetime, interval: float, failures: int) -> datetime:
    if failures:
        # The exponent is capped before the delay is built: a source failing for days would
        # otherwise overflow timedelta, and every tick would retry it at once.
        doubling = min(failures - 1, 32)
        delay = min(timedelta(seconds=interval * 2 ** doubling), MAX_BACKOFF)
    else:
        delay = timedelta(seconds=interval)
    return now + delay * (1 + random.uniform(-JITTER, JITTER))


class SyncScheduler:
    def __init__(self, storage, engine: SyncEngine, *, interval: float, concurrency: int):
        self._storage = storage
        self._engine = engine
        self._interval = interval
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[tuple[str, str], asyncio.Task] = {}
        self._loop_task: asyncio.Task | None = None

    def start(self) -> None:
        self._loop_task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the database may be away for a while: keep trying
                log.warning("sync scheduler tick failed", exc_info=True)
            await asyncio.sleep(TICK)

    async def tick(self) -> list[asyncio.Task]:
        """Start the runs that are due; returns them (tests wait for them)."""
        now = datetime.now(UTC)
        started = []
        for tenant in await self._storage.tenants.list():
            if tenant.get("status") != "active":
                continue
            slug = tenant["_id"]
            for source in await self._storage.sources.list(slug):
                key = (slug, source["_id"])
                due = source.get("sync_next_run_at")
                if (source.get("status") == "disabled" or not source.get("base_url")
                        or key in self._running or (due is not None and _aware(due) > now)):
                    continue
                task = asyncio.get_running_loop().create_task(self._run(slug, source))
                self._running[key] = task
                task.add_done_callback(lambda _t, k=key: self._running.pop(k, None))
                started.append(task)
        return started

    async def _run(self, slug: str, source: dict) -> None:
        async with self._slots:
            failed = False
            try:
                reports = await self._engine.sync_source(slug, source["_id"])
                # Backing off is for a source that is down or refuses us: one entity that keeps
                # failing (say, invoices without the finance permission) must not slow the others.
                failed = bool(reports) and all(r.error for r in reports)
            except SourceBusy:
                return
            except Exception:
                log.error("sync of %s/%s failed", slug, source["_id"], exc_info=True)
                failed = True
                try:
                    await self._storage.sync.record_outcome(slug, source["_id"], finished_at=datetime.now(UTC),
                                                            error="internal error")
                except Exception:
                    log.warning("could not record the failed sync of %s/%s", slug, source["_id"])
            failures = (source.get("sync_failures") or 0) + 1 if failed else 0
            try:
                await self._storage.sync.schedule(slug, source["_id"], failures=failures,
                                                  next_run_at=next_run(datetime.now(UTC), self._interval, failures))
            except Exception:  # the database went away mid-run: the next tick finds it due again
                log.warning("could not schedule the next sync of %s/%s", slug, source["_id"], exc_info=True)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
