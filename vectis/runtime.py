"""Running the server: database (embedded or configured), indexes, demo data, HTTP, service
manager notifications, reload on SIGHUP, graceful stop on SIGTERM."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable

import tornado.httpserver
import tornado.netutil

from .app import MAX_BODY_BYTES, Services, log_request, make_app, make_services
from .config import Config
from .embedded_db import EmbeddedDatabase, EmbeddedDatabaseError
from .embedded_supervisor import EmbeddedSupervisor, start_embedded
from .eventloop import loop_name
from .reload import reload
from .sdnotify import Notifier
from .storage import Storage, make_client
from .web.inflight import InFlight
from .web.metrics import make_metrics_app

log = logging.getLogger("vectis")
CLOSE_SECONDS = 5.0   # closing connections only waits for their sockets, never for requests
# Workers, the audit flush and the client's goodbye all wait on the database; one that is stuck
# (not merely busy) must not hold the stop past the service manager's TimeoutStopSec.
BACKGROUND_STOP_SECONDS = 10.0


class ListenError(RuntimeError):
    pass


async def serve(config: Config, *, ready_message: bool = True,
                reload_config: Callable[[], Config] | None = None) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP reloads the configuration through `reload_config`."""
    log.info("configuration %s", config.redacted())
    log.info("event loop: %s", loop_name(asyncio.get_running_loop()))
    notifier = Notifier.from_environ()
    signals = _Signals()
    signals.install()
    # From the start: systemd's watchdog runs during start-up too, and the slow parts of it
    # (database start, index builds) leave the event loop free to ping.
    watchdog = (asyncio.get_running_loop().create_task(notifier.run_watchdog())
                if notifier.watchdog is not None else None)
    embedded: EmbeddedDatabase | None = None
    supervisor: EmbeddedSupervisor | None = None
    if config.embedded_db:
        embedded = EmbeddedDatabase(config.data_dir, config.embedded_db_cache_size)
        uri = await start_embedded(embedded)
        log.info("embedded database started at %s (files in %s)", uri, embedded.storage_path)
        supervisor = EmbeddedSupervisor(embedded, give_up=lambda why: signals.stop.set())
        supervisor.start()
    else:
        uri = config.mongo_uri
    storage = Storage(make_client(uri), config.db_prefix)
    server: tornado.httpserver.HTTPServer | None = None
    metrics_server: tornado.httpserver.HTTPServer | None = None
    services: Services | None = None
    fleet = None
    try:
        # Inside the try: a piece that cannot be built (a CA file that is not there) still
        # ends with the database stopped in order, not orphaned.
        services = make_services(config, storage)
        await storage.ping()
        count = await storage.ensure_indexes()
        services.indexes_ready = True
        log.info("indexes ready for %d tenant(s)", count)
        demo_logins = None
        if config.seed_demo:
            from .demo.seed import seed_demo
            demo_logins = await seed_demo(storage, config)
            fleet = await start_demo_vendors(storage, services, list(demo_logins))
        await services.start()
        server, port = start_http(services, config.host, config.port)
        if config.metrics_port:
            metrics_server, metrics_port = start_metrics_http(services, config.metrics_host, config.metrics_port)
            log.info("metrics on %s:%d/metrics", config.metrics_host, metrics_port)
        if ready_message:
            print_banner(config, port, demo_logins, await storage.tenants.list(), fleet)
        log.info("listening on %s:%d", config.host, port)
        # Ready means what /readyz means (database answers, indexes exist) and the socket listens.
        if not signals.stop.is_set():
            notifier.ready(f"listening on {config.host}:{port}")
        await signals.serve_until_stop(services, notifier, reload_config)
    finally:
        notifier.stopping()
        if server is not None:
            await drain(server, services.inflight, services.config.shutdown_grace_seconds,
                        signals.hurry)
        # Background work next (it may still write), then what it writes through, database last.
        if metrics_server is not None:      # scraped through the drain, gone before the workers
            metrics_server.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(metrics_server.close_all_connections(), CLOSE_SECONDS)
        await stop_background(fleet, services, storage)
        if supervisor is not None:
            await supervisor.stop()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            log.info("embedded database stopped")
        if watchdog is not None:
            watchdog.cancel()
        notifier.close()
    if supervisor is not None and supervisor.failure is not None:
        raise EmbeddedDatabaseError(supervisor.failure)   # exit non-zero: restart the unit


async def stop_background(fleet, services: Services | None, storage: Storage) -> None:
    async def stop_all() -> None:
        if fleet is not None:
            await fleet.stop()
        if services is not None:
            await services.stop()
        await storage.close()
    try:
        await asyncio.wait_for(stop_all(), BACKGROUND_STOP_SECONDS)
    except TimeoutError:
        log.warning("stopping: background work still waiting on the database after %.0f s; "
                    "going on without it (unflushed audit rows are lost)", BACKGROUND_STOP_SECONDS)


async def drain(server: tornado.httpserver.HTTPServer, inflight: InFlight, grace: float,
                hurry: asyncio.Event | None = None) -> None:
    """Refuse new connections, give requests in flight `grace` seconds, then close what is left
    (idle keep-alive connections, and requests that overran). A second stop signal (`hurry`)
    cuts the wait short."""
    inflight.draining = True
    server.stop()
    log.info("stopping: no new connections; %d request(s) in flight, waiting up to %.0f s",
             inflight.count, grace)
    waiting = asyncio.ensure_future(inflight.wait_idle(grace))
    hurried = asyncio.ensure_future((hurry or asyncio.Event()).wait())
    await asyncio.wait((waiting, hurried), return_when=asyncio.FIRST_COMPLETED)
    hurried.cancel()
    waiting.cancel()
    if inflight.count:
        log.warning("stopping: closing %d request(s) still in flight", inflight.count)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.close_all_connections(), CLOSE_SECONDS)


class _Signals:
    """SIGTERM/SIGINT stop (a second one hurries the stop); SIGHUP reloads."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()
        self.hurry = asyncio.Event()
        self.hup = asyncio.Event()

    def _on_stop(self) -> None:
        if self.stop.is_set():
            self.hurry.set()
        self.stop.set()

    def install(self) -> None:
        """At the start of serve(): a stop during start-up then ends it cleanly once the pieces
        being started exist, instead of killing the process with the database half-started."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop)
        loop.add_signal_handler(signal.SIGHUP, self.hup.set)

    async def serve_until_stop(self, services: Services, notifier: Notifier,
                               reload_config: Callable[[], Config] | None) -> None:
        hup = self.hup
        hup.clear()   # a SIGHUP during start-up: the configuration just loaded is current
        while not self.stop.is_set():
            stopped = asyncio.ensure_future(self.stop.wait())
            hupped = asyncio.ensure_future(hup.wait())
            await asyncio.wait((stopped, hupped), return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            hupped.cancel()
            if hup.is_set() and not self.stop.is_set():
                hup.clear()
                await self._reload(services, notifier, reload_config)

    @staticmethod
    async def _reload(services: Services, notifier: Notifier,
                      reload_config: Callable[[], Config] | None) -> None:
        if reload_config is None:
            log.warning("SIGHUP ignored: this server was started without a configuration loader")
            return
        notifier.reloading()
        await reload(services, reload_config)
        notifier.ready("reloaded")


async def start_demo_vendors(storage: Storage, services: Services, slugs: list[str]):
    """The demo's PSA, RMM and backup tools: a loopback simulator per source, seeded from the
    tenant's data, with the source pointed at it, so write tools really dispatch over HTTP."""
    from .simulators.activity import DemoActivity
    from .simulators.fleet import SimulatorFleet
    fleet = SimulatorFleet()
    summary = await fleet.start_for_tenants(storage, services.connections, slugs)
    for item in summary:
        log.info("demo vendor simulator %s for %s at %s", item["vendor"], item["tenant"],
                 item["base_url"])
    fleet.activity = DemoActivity(storage, services.connections, fleet)
    fleet.activity.start()
    return fleet


def start_http(services: Services, host: str, port: int,
               ssl_options=None) -> tuple[tornado.httpserver.HTTPServer, int]:
    """Listen for the app; port 0 picks a free port, which is returned. `ssl_options` (an
    SSLContext) serves HTTPS directly; deployments usually terminate TLS at a reverse proxy."""
    server = tornado.httpserver.HTTPServer(
        make_app(services), xheaders=False, max_body_size=MAX_BODY_BYTES,
        idle_connection_timeout=75, body_timeout=30, ssl_options=ssl_options)
    return server, _listen(server, host, port)


def start_metrics_http(services: Services, host: str, port: int) -> tuple[tornado.httpserver.HTTPServer, int]:
    """The metrics listener (docs/observability.md): /metrics and nothing else."""
    server = tornado.httpserver.HTTPServer(make_metrics_app(services, log_request), xheaders=False,
                                           max_body_size=4096, idle_connection_timeout=75, body_timeout=5)
    return server, _listen(server, host, port)


def _listen(server: tornado.httpserver.HTTPServer, host: str, port: int) -> int:
    try:
        sockets = tornado.netutil.bind_sockets(port, host)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.add_sockets(sockets)
    return sockets[0].getsockname()[1]


def print_banner(config: Config, port: int, demo_logins: dict | None, tenants: list[dict],
                 fleet=None) -> None:
    lines = [f"Vectis is running on http://{config.host}:{port} (base domain {config.base_domain})."]
    for tenant in tenants:
        slug = tenant["_id"]
        lines.append(f"  tenant {slug:<12} sign in: {config.tenant_origin(slug)}/signin   "
                     f"MCP: {config.mcp_resource(slug)}")
    if demo_logins:
        lines.append("Demo operators (sign in, then create a token at /account/mcp; passwords are kept in "
                     f"{config.data_dir / 'demo-credentials.json'}):")
        for slug, logins in demo_logins.items():
            for email, password in logins.items():
                lines.append(f"  {slug:<10} {email:<32} {password}")
        lines.append("Or issue a token from the command line:")
        first = next(iter(demo_logins))
        email = next(iter(demo_logins[first]))
        lines.append(f"  python server.py admin issue-token {first} {email} --scopes read:customers,read:tickets --label demo")
        lines.append(f"  curl -H 'Host: {first}.{config.base_domain}:{port}' http://127.0.0.1:{port}/")
    if fleet is not None:
        lines.append("Demo vendor tools (simulated on loopback; write tools dispatch to them): "
                     + ", ".join(sorted({f"{i['tenant']}:{i['vendor']}" for i in fleet.summary})))
    if config.base_domain == "localhost":
        lines.append("Note: browsers resolve *.localhost to this machine; other clients may need "
                     "/etc/hosts entries such as '127.0.0.1 acme.localhost'.")
    print("\n".join(lines), file=sys.stdout, flush=True)
