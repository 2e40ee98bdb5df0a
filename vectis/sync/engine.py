"""Running a sync of one source: take its lease (no two runs of a source at once, in any
process), read each entity the connector offers in dependency order, apply page by page, close
what a complete snapshot no longer lists, record per-entity state and the events.

A failed entity (vendor error, timeout) keeps what its earlier pages wrote (every write is keyed
by the vendor id, so the next run overwrites rather than duplicates) and does not advance its
cursor, so the next run reads the same window again.
"""
from __future__ import annotations

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
        if not await self._storage.sync.acquire(slug, source_id, owner, self._lease):
            raise SourceBusy(f"{source_id} is being synced by another run")
        try:
            reports = await self._entities(slug, source_id, entities, owner)
            if entities is None:
                # A run of some entities only says nothing about the source as a whole; their own
                # states record it.
                errors = "; ".join(r.error for r in reports if r.error)[:500]
                await self._storage.sync.record_outcome(slug, source_id, finished_at=datetime.now(UTC),
                                                        error=errors or None)
            return reports
        finally:
            await self._storage.sync.release(slug, source_id, owner)

    async def _entities(self, slug: str, source_id: str, entities: tuple[str, ...] | None,
                        owner: str) -> list[EntityReport]:
        try:
            source, connector = await self._connections.connector(slug, source_id)
        except NotConfigured as exc:
            return [EntityReport("*", "-", False, {}, str(exc), 0.0)]
        offered = getattr(connector, "SYNC_ENTITIES", {})
        reports = []
        for entity in ORDER:
            if entity in offered and (entities is None or entity in entities):
                reports.append(await self._entity(slug, source, connector, entity, offered[entity], owner))
                await self._storage.sync.renew(slug, source_id, owner, self._lease)
        return reports

    async def _entity(self, slug, source, connector, entity, mode, owner) -> EntityReport:
        state = (source.get("sync") or {}).get(entity) or {}
        started, clock = datetime.now(UTC), time.perf_counter()
        cursor = state.get("cursor")
        since = _aware(cursor) - self._overlap if (mode == "incremental" and cursor) else None
        run = Run(slug=slug, source=source, entity=entity, initial=not state.get("last_success_at"),
                  now=started)
        error = None
        try:
            async for page in connector.read(entity, since):
                await self._writer.apply(run, page)
                await self._storage.sync.renew(slug, source["_id"], owner, self._lease)
            if mode == "snapshot":
                await self._writer.close_missing(run)
        except VendorError as exc:
            error = exc.describe()
        except Exception as exc:  # a mapping bug must not stop the other entities or sources
            log.error("sync of %s/%s %s failed", slug, source["_id"], entity, exc_info=True)
            error = f"internal error: {type(exc).__name__}"
        run.counts.events = await self._storage.sync.add_events(slug, run.events)
        new_state = {"mode": mode, "last_run_at": started, "last_error": error,
                     "counts": run.counts.as_dict(),
                     "cursor": started if error is None else state.get("cursor"),
                     "last_success_at": started if error is None else state.get("last_success_at")}
        await self._storage.sync.record_entity(slug, source["_id"], entity, new_state)
        log.info("synced %s/%s %s", slug, source["_id"], entity,
                 extra={"tenant": slug, "source_id": source["_id"], "entity": entity,
                        "counts": run.counts.as_dict(), "error": error})
        return EntityReport(entity, mode, error is None, run.counts.as_dict(), error,
                            round(time.perf_counter() - clock, 3))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
