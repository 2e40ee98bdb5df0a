"""Keeping the embedded database alive under a running server.

If SecantusDB dies (a crash, the OOM killer, a stray kill -9), the server starts it again on the
same files and the same port, so the database client, which holds that address, reconnects by
itself. The journal makes this safe: the new process replays it. Restarts back off, and a
database that keeps dying is not the server's to fix: after too many restarts in a window the
server stops and exits non-zero, so the service manager restarts the whole unit.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from .embedded_db import START_SECONDS, EmbeddedDatabase, EmbeddedDatabaseError

log = logging.getLogger("vectis.embedded_db")

POLL_SECONDS = 0.5        # how soon a death is noticed (a waitpid that never blocks)
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0)   # before the 1st, 2nd, ... restart in a window
MAX_RESTARTS = len(BACKOFF_SECONDS)
WINDOW_SECONDS = 600.0


async def start_embedded(db: EmbeddedDatabase, port: int | None = None) -> str:
    """Start the database without blocking the event loop. The fork itself runs on the loop's
    thread: the kernel's parent-death signal follows the thread that forked, and that one lives
    as long as the server (a pool thread might not)."""
    await asyncio.to_thread(db.prepare)
    db.launch(port)
    return await asyncio.to_thread(db.wait_ready, START_SECONDS)


class EmbeddedSupervisor:
    def __init__(self, db: EmbeddedDatabase, give_up: Callable[[str], None]):
        self.db = db
        self.give_up = give_up          # called once, with why; the server then stops
        self.failure: str | None = None
        self.restarts: deque[float] = deque()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Before the database is stopped on purpose, so that stop is not taken for a death."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _watch(self) -> None:
        while self.failure is None:
            await asyncio.sleep(POLL_SECONDS)
            process = self.db.process
            if process is None or process.poll() is None:
                continue
            log.error("embedded database (pid %d) exited with code %s; starting it again on the "
                      "same files and port %s", process.pid, process.returncode, self.db.port)
            await self._restart()

    async def _restart(self) -> None:
        while True:
            now = time.monotonic()
            while self.restarts and now - self.restarts[0] > WINDOW_SECONDS:
                self.restarts.popleft()
            if len(self.restarts) >= MAX_RESTARTS:
                self.failure = (f"the embedded database needed {MAX_RESTARTS} restarts within "
                                f"{WINDOW_SECONDS:.0f} s; see {self.db.data_dir / 'embedded-db.log'}")
                log.error("giving up: %s; stopping so that the service manager restarts Vectis",
                          self.failure)
                self.give_up(self.failure)
                return
            await asyncio.sleep(BACKOFF_SECONDS[len(self.restarts)])
            self.restarts.append(time.monotonic())
            try:
                await start_embedded(self.db, port=self.db.port)
            except (EmbeddedDatabaseError, OSError) as exc:
                log.error("embedded database restart %d failed: %s", len(self.restarts), exc)
                await asyncio.to_thread(self.db.stop)   # a half-started one must not linger
                continue
            log.warning("embedded database restarted (pid %d, restart %d of at most %d in %.0f s)",
                        self.db.process.pid, len(self.restarts), MAX_RESTARTS, WINDOW_SECONDS)
            return
