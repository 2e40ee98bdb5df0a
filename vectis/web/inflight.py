"""Requests in flight, counted so that a stopping server can wait for them instead of cutting
them off (Tornado's close_all_connections() closes a connection whatever it is doing).

A request counts from the moment its handler exists (headers and body received) until its
handler has finished, even when its client went away first: Tornado keeps running the handler,
and a write at a vendor must still reach its audit row before the database closes. A handler
that never finishes is bounded by the stop's grace period.
"""
from __future__ import annotations

import asyncio
import functools
import time

import tornado.web


class InFlight:
    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count <= 0:
            self.count = 0
            self._idle.set()

    async def wait_idle(self, within: float) -> bool:
        """True when nothing is in flight any more, False when `within` seconds ran out first."""
        deadline = time.monotonic() + within
        while self.count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), remaining)
            except TimeoutError:
                return False
        return True


class CloseWhileDraining(tornado.web.OutputTransform):
    """Every response that starts once the stop has begun tells its keep-alive client not to
    send another request on this connection (it would be closed under it)."""

    def __init__(self, request, inflight: InFlight):
        super().__init__(request)
        self._inflight = inflight

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self._inflight.draining:
            headers["Connection"] = "close"
        return status_code, headers, chunk


def transforms(inflight: InFlight) -> list:
    return [functools.partial(CloseWhileDraining, inflight=inflight)]


class CountedHandler(tornado.web.RequestHandler):
    """Base of every handler class of the app (JSON, pages, static files)."""

    _counted: InFlight | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        inflight = self.application.settings.get("inflight")
        if inflight is not None:
            inflight.enter()
            self._counted = inflight

    def _uncount(self) -> None:
        if self._counted is not None:
            self._counted.leave()
            self._counted = None

    def on_finish(self) -> None:
        self._uncount()
        super().on_finish()

