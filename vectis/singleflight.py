"""Concurrent cache misses of one key share one load.

When a hot entry expires, every request in flight for it misses at once; without this each
would run its own database lookup (16 connections on one token: 16 loads where one does).
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class SingleFlight:
    def __init__(self) -> None:
        self._loading: dict[Hashable, asyncio.Future] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        task = self._loading.get(key)
        if task is None:
            task = self._loading[key] = asyncio.ensure_future(load())
            task.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: one caller giving up (its client went away) must not cancel the others' load.
        return await asyncio.shield(task)

    def _finished(self, key: Hashable, task: asyncio.Future) -> None:
        if self._loading.get(key) is task:
            del self._loading[key]
        if not task.cancelled():
            task.exception()   # retrieved here too: every waiter may have given up

    def forget(self, match: Callable[[Hashable], bool]) -> None:
        """Later callers start a fresh load instead of joining one that began before a change."""
        for key in [k for k in self._loading if match(k)]:
            del self._loading[key]

    def __len__(self) -> int:
        return len(self._loading)
