"""Audit recording. Writes are recorded before their call returns; reads are buffered and
written in batches off the request path (flushed every second, at shutdown, or when full)."""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime

from .ids import new_id
from .storage import Storage

log = logging.getLogger("vectis.audit")
FLUSH_SECONDS = 1.0
MAX_BUFFERED = 50_000


def audit_row(*, actor: dict, action: str, status: str, kind: str, target: dict | None = None,
              detail: dict | None = None, duration_ms: float | None = None,
              request_id: str | None = None) -> dict:
    row = {
        "_id": new_id("aud"), "at": datetime.now(UTC), "actor": actor, "action": action,
        "kind": kind, "status": status, "target": target, "detail": detail or {},
        "duration_ms": None if duration_ms is None else round(duration_ms, 2),
        "request_id": request_id,
    }
    if kind in ("read", "write"):
        row["mcpToolCallStatus"] = status   # the field name the public docs promise
    return row


class AuditLog:
    def __init__(self, storage: Storage):
        self._storage = storage
        self._buffer: dict[str, list[dict]] = defaultdict(list)
        self._buffered = 0
        self._dropped = 0
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    @property
    def buffered(self) -> int:
        return self._buffered

    async def write(self, tenant: str, row: dict) -> None:
        """Record now; raises if the row cannot be stored (callers must not proceed then)."""
        await self._storage.audit.insert(tenant, [row])

    def record(self, tenant: str, row: dict) -> None:
        """Buffer a row for the next batch."""
        if self._buffered >= MAX_BUFFERED:
            self._dropped += 1  # bounded memory wins over completeness; counted and logged
            return
        self._buffer[tenant].append(row)
        self._buffered += 1
        if self._buffered >= 1000:
            self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), FLUSH_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        batches, self._buffer, self._buffered = self._buffer, defaultdict(list), 0
        pending = list(batches.items())
        try:
            while pending:
                tenant, rows = pending[0]
                try:
                    await self._storage.audit.insert(tenant, rows)
                except Exception:
                    log.error("could not write %d audit rows of %s; keeping them for the next flush",
                              len(rows), tenant, exc_info=True)
                    self._keep(tenant, rows)
                pending.pop(0)
        finally:
            # Cancelled mid-flush (a stop): what was not confirmed goes back for the final flush;
            # sending a batch again is safe, the insert is idempotent.
            for tenant, rows in pending:
                self._keep(tenant, rows)
        if self._dropped:
            log.error("dropped %d audit rows: buffer full", self._dropped)
            self._dropped = 0

    def _keep(self, tenant: str, rows: list[dict]) -> None:
        for row in rows:
            self.record(tenant, row)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self.flush()
