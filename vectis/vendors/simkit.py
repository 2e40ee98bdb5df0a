"""Shared machinery of the vendor simulators: fault injection, call counting, control endpoints,
and starting an app on a loopback port.

Control endpoints (no authentication; simulators only ever listen on loopback):
- `GET  /_sim/calls`            -> {"calls": {"POST /service/tickets": 3, ...}}
- `POST /_sim/faults`           body: one fault (see `Fault`) or a list; `DELETE` clears them
- `GET  /_sim/state`            -> the simulator's state, for assertions from another process
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

FAULT_KINDS = ("latency", "status", "timeout", "drop", "delay_after", "drop_after")


@dataclass(frozen=True)
class Exchange:
    """One request a simulator answered and its answer, as they crossed the wire: what the
    contract tests hold against the vendor's published API."""
    vendor: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]            # lower-cased names
    body: bytes
    status: int
    response_headers: dict[str, str]   # lower-cased names
    response_body: bytes


# Called with every Exchange of every simulator in this process (the test suite's contract check
# registers one); empty outside the tests, so serving costs nothing extra.
EXCHANGE_OBSERVERS: list[Callable[[Exchange], None]] = []


@dataclass
class Fault:
    """One misbehaviour, applied to the next `count` matching requests (None = until cleared).

    - latency:     sleep `seconds`, then handle normally;
    - status:      answer `status` (e.g. 429 with `retry_after`, 500, 503) without handling;
    - timeout:     hold the request for `seconds` (long enough for the client to give up);
    - drop:        close the connection without handling or answering;
    - delay_after: handle it (the effect happens), then wait `seconds` (or until `release()`)
                   before answering;
    - drop_after:  handle it (the effect happens), then close the connection without answering.
    """
    kind: str
    method: str | None = None          # None matches any method
    path: str | None = None            # a regular expression searched in the path; None = any
    count: int | None = 1
    status: int = 500
    retry_after: float | None = None
    message: str | None = None         # the error text of a `status` fault, in the vendor's shape
    seconds: float = 0.0
    # Lets a test end a delay_after at the moment it chooses, instead of guessing a duration.
    _released: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False, compare=False)

    def release(self) -> None:
        self._released.set()

    async def hold(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._released.wait(), self.seconds)

    def matches(self, request: web.Request) -> bool:
        if request.path.startswith("/_sim/"):
            return False
        if self.method and request.method != self.method.upper():
            return False
        return self.path is None or re.search(self.path, request.path) is not None

    @classmethod
    def parse(cls, data: dict) -> Fault:
        fields = cls.__dataclass_fields__
        fault = cls(**{k: v for k, v in data.items() if k in fields and fields[k].init})
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}")
        return fault


@dataclass
class Faults:
    active: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault | None = None, **kwargs) -> Fault:
        fault = fault or Fault(**kwargs)
        self.active.append(fault)
        return fault

    def clear(self) -> None:
        self.active.clear()

    def take(self, request: web.Request) -> Fault | None:
        for fault in self.active:
            if fault.matches(request):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.active.remove(fault)
                return fault
        return None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Simulator:
    """Base of every vendor simulator. Subclasses add routes in `routes()` and implement
    `authenticate(request)` (return None when accepted, or the vendor's error response)."""

    vendor = "generic"
    # Requests under this path prefix are kept in `log` ({method, path, params, body}) for tests
    # that assert what was sent; None keeps no log.
    request_log_prefix: str | None = None

    def __init__(self) -> None:
        self.faults = Faults()
        self.calls: Counter = Counter()
        # Vendor requests being served at once, and the most ever: a test that must show two
        # clients never overlapped (e.g. sync runs of one source) reads the high-water mark.
        self.in_flight = 0
        self.max_in_flight = 0
        self.log: list[dict] = []
        self.app = web.Application(middlewares=[self._middleware])
        if self.request_log_prefix is not None:
            self.app.middlewares.append(self._record_request)
        self.app.router.add_get("/_sim/calls", self._get_calls)
        self.app.router.add_post("/_sim/faults", self._post_faults)
        self.app.router.add_delete("/_sim/faults", self._delete_faults)
        self.app.router.add_get("/_sim/state", self._get_state)
        self.routes(self.app.router)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- to override --------------------------------------------------------------------------
    def routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def authenticate(self, request: web.Request) -> web.StreamResponse | None:
        raise NotImplementedError

    def state(self) -> dict:
        return {}

    def error_response(self, status: int, message: str,
                       retry_after: float | None = None) -> web.Response:
        """An error answer in the vendor's own shape (its contract's `errors`), for faults and for
        the handlers' refusals. Vendors override the body; Retry-After is set when given."""
        headers = {} if retry_after is None else {"Retry-After": str(int(retry_after))}
        return web.json_response({"message": message}, status=status, headers=headers)

    def public_paths(self) -> tuple[str, ...]:
        """Paths (regular expressions) the vendor serves without credentials, e.g. token URLs."""
        return ()

    # --- counting -----------------------------------------------------------------------------
    def count(self, method: str, route: str) -> int:
        """How many requests reached the handler of `route` (the route's path template)."""
        return self.calls[f"{method.upper()} {route}"]

    # --- serving ------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_sim/"):
            return await handler(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if not EXCHANGE_OBSERVERS:
                return await self._serve(request, handler)
            body = await request.read()      # aiohttp keeps it, so the handler reads it again
            try:
                response = await self._serve(request, handler)
            except web.HTTPException as refusal:   # no route, wrong method, a handler's raise
                self._observe(request, body, refusal)
                raise
            self._observe(request, body, response)
            return response
        finally:
            self.in_flight -= 1

    @web.middleware
    async def _record_request(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(self.request_log_prefix or "\0"):
            body = None
            if request.body_exists:
                try:
                    body = json.loads(await request.text())
                except ValueError:
                    body = None
            self.log.append({"method": request.method, "path": request.path,
                             "params": dict(request.query), "body": body})
        return await handler(request)

    def _observe(self, request: web.Request, body: bytes, response: web.StreamResponse) -> None:
        payload = getattr(response, "body", None)
        exchange = Exchange(
            vendor=self.vendor, method=request.method, path=request.path,
            query={key: request.query.getall(key) for key in request.query},
            headers={k.lower(): v for k, v in request.headers.items()}, body=body,
            status=response.status,
            response_headers={k.lower(): v for k, v in response.headers.items()},
            response_body=payload if isinstance(payload, bytes) else b"")
        for observer in list(EXCHANGE_OBSERVERS):
            observer(exchange)

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fault = self.faults.take(request)
        if fault is not None:
            early = await self._before(fault, request)
            if early is not None:
                return early
        if not any(re.fullmatch(p, request.path) for p in self.public_paths()):
            refused = await self.authenticate(request)
            if refused is not None:
                return refused
        route = request.match_info.route.resource
        template = route.canonical if route is not None else request.path
        self.calls[f"{request.method} {template}"] += 1
        response = await handler(request)
        if fault is not None and fault.kind == "delay_after":
            await fault.hold()
        if fault is not None and fault.kind == "drop_after":
            _drop(request)
            raise asyncio.CancelledError()
        return response

    async def _before(self, fault: Fault, request: web.Request) -> web.StreamResponse | None:
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds)
            return None
        if fault.kind == "status":
            return self.error_response(fault.status, fault.message or f"simulated {fault.status}",
                                       retry_after=fault.retry_after)
        if fault.kind == "timeout":
            await asyncio.sleep(fault.seconds or 3600)
            return self.error_response(504, "late")
        if fault.kind == "drop":
            _drop(request)
            raise asyncio.CancelledError()
        return None

    async def _get_calls(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": dict(self.calls)})

    async def _post_faults(self, request: web.Request) -> web.Response:
        data = await request.json()
        try:
            for item in data if isinstance(data, list) else [data]:
                self.faults.add(Fault.parse(item))
        except (TypeError, ValueError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"faults": len(self.faults.active)})

    async def _delete_faults(self, request: web.Request) -> web.Response:
        self.faults.clear()
        return web.json_response({"faults": 0})

    async def _get_state(self, request: web.Request) -> web.Response:
        return web.json_response(self.state(), dumps=_dumps)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{host}:{bound}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _dumps(value: Any) -> str:
    import json
    return json.dumps(value, default=str)


def continue_after(counter, used) -> itertools.count:
    """A counter that continues after every seeded id, so a created object never reuses one."""
    start = next(counter)
    return itertools.count(max([start, *(int(i) + 1 for i in used if str(i).isdigit())]))


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    """(user, secret) of an HTTP Basic Authorization header, or None."""
    import base64
    import binascii
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        pair = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, secret = pair.partition(":")
    return (user, secret) if sep else None


def json_error(status: int, message: str, **extra) -> web.Response:
    return web.json_response({"message": message, **extra}, status=status)
