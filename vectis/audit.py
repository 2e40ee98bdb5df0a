"""Audit recording. Writes are recorded before their call returns; reads are buffered and
written in batches off the request path (flushed every second, at shutdown, or when full)."""
from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from datetime import UTC, datetime

from .ids import new_id
from .storage import Storage

log = logging.getLogger("vectis.audit")
FLUSH_SECONDS = 1.0
MAX_BUFFERED = 50_000

# What a tool call's row keeps of its arguments (detail.arguments): enough to see what was asked,
# never a secret, and bounded, since every row is stored and shown to operators.
SECRET_KEY = re.compile(r"token|passw|secret|key|authori[sz]ation|credential|cookie", re.IGNORECASE)
ELIDED = "[elided]"
MAX_TEXT = 200
MAX_ITEMS = 20
MAX_DEPTH = 4


def elide_arguments(value, depth: int = 0):
    """A tool call's arguments as an audit row keeps them: values of secret-looking keys
    replaced, long strings cut with their length, lists and nesting bounded. idempotency_key
    is an argument name, not a secret, and its value matters only as being there."""
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return f"[object of {len(value)} keys]"
        out = {}
        for key, item in list(value.items())[:MAX_ITEMS]:
            key = str(key)[:MAX_TEXT]
            if key == "idempotency_key":
                out[key] = "present"
            elif SECRET_KEY.search(key):
                out[key] = ELIDED
            else:
                out[key] = elide_arguments(item, depth + 1)
        if len(value) > MAX_ITEMS:
            out["…"] = f"{len(value) - MAX_ITEMS} more keys"
        return out
    if isinstance(value, (list, tuple)):
        if depth >= MAX_DEPTH:
            return f"[list of {len(value)} items]"
        out = [elide_arguments(item, depth + 1) for item in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            out.append(f"… {len(value) - MAX_ITEMS} more items")
        return out
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return f"{value[:MAX_TEXT]}… [{len(value)} characters]"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)[:MAX_TEXT]


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
