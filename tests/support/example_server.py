"""A loopback server that answers a vendor's published example files verbatim at the vendor's
paths: what a tenant shaped like the examples would answer. Like every simulator it reports its
exchanges, so the contract check holds it (and the connector's requests to it) to the contract."""
from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from vectis.vendors import simkit

Answer = str | Callable[[web.Request], Awaitable[web.StreamResponse]]


class ExampleServer(simkit.Simulator):
    """`answers`: (method, path template, answer): the answer is an example file's name without
    `.json`, served verbatim, or a handler for what no example covers (a token, an empty page)."""

    def __init__(self, vendor: str, examples: Path, answers: list[tuple[str, str, Answer]]):
        self.vendor = vendor
        self._examples = examples
        self._answers = answers
        super().__init__()

    def routes(self, router: web.UrlDispatcher) -> None:
        for method, path, answer in self._answers:
            router.add_route(method, path, self._file(answer) if isinstance(answer, str) else answer)

    def _file(self, name: str):
        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=(self._examples / f"{name}.json").read_bytes(),
                                content_type="application/json")
        return handler

    async def authenticate(self, request: web.Request) -> None:
        return None


@contextlib.asynccontextmanager
async def serving(vendor: str, examples: Path, answers: list[tuple[str, str, Answer]]):
    """An ExampleServer started on loopback for the block; yields its origin."""
    server = ExampleServer(vendor, examples, answers)
    origin = await server.start()
    try:
        yield origin
    finally:
        await server.stop()
