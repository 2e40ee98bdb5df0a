"""Running a sync of one source: take its lease (no two runs of a source at once, in any
process), read each entity the connector offers in dependency order, apply page by page, close
what a complete snapshot no longer lists, record per-entity state and the events.

A failed entity (vendor error, timeout) keeps what its earlier pages wrote (every write is keyed
by the vendor id, so the next run overwrites rather than duplicates) and does not advance its
cursor, so the next run reads the same window again.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ..vendors.errors import NotConfigured, VendorError
from .apply import PageWriter, Run
from .records import ORDER

log = logging.getLogger("vectis.sync")
LEASE = timedelta(minutes=10)
OVERLAP = timedelta(minutes=2)      # incremental windows overlap: vendor clocks and commit lag


class SourceBusy(Exception):
    """Another run (in this or another process) holds the source's lease."""


class LeaseLost(SourceBusy):
    """The lease ran out under this run (the database was away past it, the process stalled)
    and another run may have taken it: this one stops before its next write."""


class LeaseKeeper:
    """Renews a run's lease every third of its length, in the background, so that one slow
    vendor call (a long page, a 429 wait) cannot outlast it. `check()` before each write raises
    LeaseLost once the lease may have passed to someone else."""

    def __init__(self, storage, slug: str, source_id: str, owner: str, lease: timedelta):
        self._storage, self._slug, self._source_id, self._owner = storage, slug, source_id, owner
        self._lease = lease
        # Counted from before the acquire: whatever the clocks say, ours never runs past theirs.
        self._valid_until = time.monotonic() + lease.total_seconds() * 0.9
        self._lost = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def check(self) -> None:
        if self._lost or time.monotonic() > self._valid_until:
            raise LeaseLost(f"the sync lease of {self._source_id} ran out; another run may hold it")

    async def _keep(self) -> None:
        while not self._lost:
            await asyncio.sleep(self._lease.total_seconds() / 3)
            asked = time.monotonic()
            try:
                held = await self._storage.sync.renew(self._slug, self._source_id, self._owner, self._lease)
            except Exception:   # the database is away: the lease holds until it runs out
                log.warning("could not renew the sync lease of %s/%s", self._slug, self._source_id)
                continue
            if held:
                self._valid_until = asked + self._lease.total_seconds() * 0.9
            else:
                self._lost = True


@dataclass
class EntityReport:
    entity: str
    mode: str
    ok: bool
    counts: dict
    error: str | None
    seconds: float


class SyncEngine:
    def __init__(self, storage, connections, *, lease: timedelta = LEASE, overlap: timedelta = OVERLAP):
        self._storage = storage
        self._connections = connections
        self._writer = PageWriter(storage)
        self._lease = lease
        self._overlap = overlap
        self.process = secrets.token_hex(6)

    async def sync_source(self, slug: str, source_id: str, *,
                          entities: tuple[str, ...] | None = None) -> list[EntityReport]:
        owner = f"{self.process}:{secrets.token_hex(4)}"
        lease = LeaseKeeper(self._storage, slug, source_id, owner, self._lease)
        if not await self._storage.sync.acquire(slug, source_id, owner, self._lease):
            raise SourceBusy(f"{source_id} is being synced by another run")
        lease.start()
        try:
            reports = await self._entities(slug, source_id, entities, lease)
            if entities is None:
                # A run of some entities only says nothing about the source as a whole; their own
                # states record it.
                lease.check()
                errors = "; ".join(r.error for r in reports if r.error)[:500]
                await self._storage.sync.record_outcome(slug, source_id, finished_at=datetime.now(UTC),
                                                        error=errors or None)
            return reports
        finally:
            await lease.stop()
            await self._storage.sync.release(slug, source_id, owner)

    async def _entities(self, slug: str, source_id: str, entities: tuple[str, ...] | None,
                        lease: LeaseKeeper) -> list[EntityReport]:
        try:
            source, connector = await self._connections.connector(slug, source_id)
        except NotConfigured as exc:
            return [EntityReport("*", "-", False, {}, str(exc), 0.0)]
        offered = getattr(connector, "SYNC_ENTITIES", {})
        reports = []
        for entity in ORDER:
            if entity in offered and (entities is None or entity in entities):
                reports.append(await self._entity(slug, source, connector, entity, offered[entity], lease))
        return reports

    async def _entity(self, slug, source, connector, entity, mode, lease: LeaseKeeper) -> EntityReport:
        state = (source.get("sync") or {}).get(entity) or {}
        started, clock = datetime.now(UTC), time.perf_counter()
        cursor = state.get("cursor")
        since = _aware(cursor) - self._overlap if (mode == "incremental" and cursor) else None
        run = Run(slug=slug, source=source, entity=entity, initial=not state.get("last_success_at"),
                  now=started, stable=entity in getattr(connector, "SNAPSHOT_STABLE", ()),
                  missing_before=frozenset(state.get("missing") or ()))
        error = None
        try:
            async for page in connector.read(entity, since):
                lease.check()
                try:
                    await self._writer.apply(run, page)
                finally:
                    # With the page, not at the end of the entity: a run cut short (a restart,
                    # a vendor error) keeps the events of what it wrote; the re-run finds those
                    # records unchanged and could never emit them again.
                    await self._flush_events(run)
            if mode == "snapshot":
                lease.check()
                try:
                    await self._writer.close_missing(run)
                finally:
                    await self._flush_events(run)
        except LeaseLost:
            raise
        except VendorError as exc:
            error = exc.describe(slug, source["_id"])
        except Exception as exc:  # a mapping bug must not stop the other entities or sources
            log.error("sync of %s/%s %s failed", slug, source["_id"], entity, exc_info=True)
            error = f"internal error: {type(exc).__name__}"
        lease.check()
        new_state = {"mode": mode, "last_run_at": started, "last_error": error,
                     "counts": run.counts.as_dict(),
                     "cursor": started if error is None else state.get("cursor"),
                     "last_success_at": started if error is None else state.get("last_success_at")}
        if mode == "snapshot":
            # An incomplete snapshot says nothing about what is missing: keep the last list.
            new_state["missing"] = run.missing if error is None else state.get("missing") or []
        await self._storage.sync.record_entity(slug, source["_id"], entity, new_state)
        log.info("synced %s/%s %s", slug, source["_id"], entity,
                 extra={"tenant": slug, "source_id": source["_id"], "entity": entity,
                        "counts": run.counts.as_dict(), "error": error})
        return EntityReport(entity, mode, error is None, run.counts.as_dict(), error,
                            round(time.perf_counter() - clock, 3))


    async def _flush_events(self, run: Run) -> None:
        events, run.events = run.events, []
        run.counts.events += await self._storage.sync.add_events(run.slug, events)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
