"""Running the server: database (embedded or configured), indexes, demo data, HTTP, shutdown."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import tornado.httpserver
import tornado.netutil

from .app import MAX_BODY_BYTES, Services, make_app, make_services
from .config import Config
from .embedded_db import EmbeddedDatabase
from .storage import Storage, make_client

log = logging.getLogger("vectis")
DRAIN_SECONDS = 10.0


class ListenError(RuntimeError):
    pass


async def serve(config: Config, *, ready_message: bool = True) -> None:
    log.info("configuration %s", config.redacted())
    embedded: EmbeddedDatabase | None = None
    if config.embedded_db:
        embedded = EmbeddedDatabase(config.data_dir, config.embedded_db_cache_size)
        uri = await asyncio.to_thread(embedded.start)
        log.info("embedded database started at %s (files in %s)", uri, embedded.storage_path)
    else:
        uri = config.mongo_uri
    storage = Storage(make_client(uri), config.db_prefix)
    server: tornado.httpserver.HTTPServer | None = None
    services = make_services(config, storage)
    fleet = None
    try:
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
        if ready_message:
            print_banner(config, port, demo_logins, await storage.tenants.list(), fleet)
        log.info("listening on %s:%d", config.host, port)
        await _wait_for_stop_signal()
        log.info("stopping: no new connections, draining for up to %.0f s", DRAIN_SECONDS)
    finally:
        if server is not None:
            server.stop()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.close_all_connections(), DRAIN_SECONDS)
        if fleet is not None:
            await fleet.stop()
        await services.stop()
        await storage.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
            log.info("embedded database stopped")


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
    try:
        sockets = tornado.netutil.bind_sockets(port, host)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


async def _wait_for_stop_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


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
