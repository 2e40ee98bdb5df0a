"""Application assembly: the services every handler shares, and the route table."""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from datetime import timedelta

import tornado.web

from .approvals.queue import Approvals
from .audit import AuditLog
from .auth.bearer import BearerAuthenticator
from .config import Config, decode_key
from .mcp import endpoint as mcp_endpoint
from .mcp.dispatch import Dispatcher
from .mcp.toolcall import ToolCaller
from .metrics import Metrics
from .oauth import routes as oauth_routes
from .oauth.cimd import ClientMetadataFetcher
from .oauth.keys import SigningKeys
from .ratelimit import RateLimiter
from .rules.worker import RuleWorker
from .settings import split_list
from .storage import Storage
from .sync.engine import SyncEngine
from .sync.scheduler import SyncScheduler
from .tenancy import TenantResolver
from .tools.catalog import build_registry
from .tools.pagination import CursorCodec
from .vendors.connections import Connections
from .vendors.http import VendorHttp
from .web import health, home, wellknown
from .web.base import NotFoundHandler
from .web.inflight import InFlight
from .web.inflight import transforms as inflight_transforms
from .web.pages import default_handlers as page_handlers
from .writes.dispatcher import WriteDispatcher

access_log = logging.getLogger("vectis.access")

# The server-wide cap; the MCP endpoint enforces its own, smaller limit with a 413.
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass
class Services:
    config: Config
    storage: Storage
    tenants: TenantResolver
    authenticator: BearerAuthenticator
    limiter: RateLimiter
    audit: AuditLog
    cursors: CursorCodec
    signing_keys: SigningKeys
    client_metadata: ClientMetadataFetcher
    connections: Connections
    writes: WriteDispatcher
    approvals: Approvals
    sync: SyncEngine
    scheduler: SyncScheduler | None
    rules_worker: RuleWorker | None
    metrics: Metrics
    dispatcher: Dispatcher = field(init=False)
    indexes_ready: bool = False
    inflight: InFlight = field(default_factory=InFlight)

    async def start(self) -> None:
        self.audit.start()
        if self.scheduler is not None:
            self.scheduler.start()
        if self.rules_worker is not None:
            self.rules_worker.start()

    async def stop(self) -> None:
        if self.rules_worker is not None:
            await self.rules_worker.stop()
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.client_metadata.close()
        await self.connections.http.close()
        await self.audit.stop()
        await self.authenticator.drain()


def make_metadata_fetcher(config: Config) -> ClientMetadataFetcher:
    context = None
    if config.oauth_cimd_ca_file:
        context = ssl.create_default_context()
        context.load_verify_locations(config.oauth_cimd_ca_file)
    return ClientMetadataFetcher(allow_networks=tuple(split_list(config.oauth_cimd_allow_networks)),
                                 ssl_context=context)


def make_services(config: Config, storage: Storage) -> Services:
    keys = SigningKeys(storage, decode_key(config.encryption_key))
    audit = AuditLog(storage)
    meter = Metrics()
    connections = Connections(storage, decode_key(config.encryption_key), VendorHttp(metrics=meter))
    sync = SyncEngine(storage, connections)
    scheduler = (SyncScheduler(storage, sync, interval=config.sync_interval_seconds,
                               concurrency=config.sync_concurrency)
                 if config.sync_interval_seconds > 0 else None)
    writes = WriteDispatcher(storage, connections, audit,
                             lease=timedelta(seconds=config.write_lease_seconds))
    services = Services(
        config=config, storage=storage, tenants=TenantResolver(storage, config),
        authenticator=BearerAuthenticator(storage, config.token_pepper, config.auth_cache_seconds,
                                          keys),
        signing_keys=keys, client_metadata=make_metadata_fetcher(config), connections=connections,
        writes=writes, approvals=Approvals(storage, writes, audit, decode_key(config.encryption_key),
                                           expiry=timedelta(hours=config.approval_expiry_hours)),
        sync=sync, scheduler=scheduler,
        rules_worker=RuleWorker(storage, writes) if config.rules_worker == "on" else None,
        limiter=RateLimiter(storage), audit=audit, cursors=CursorCodec(config.cookie_secret),
        metrics=meter,
    )
    meter.attach(services)
    services.dispatcher = Dispatcher(ToolCaller(services, build_registry()))
    return services


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One JSON line per request. The query string is never logged: it is where a careless client
    puts a token, and OAuth puts codes."""
    status = handler.get_status()
    services = handler.application.settings.get("services")
    if services is not None:
        services.metrics.http_request(type(handler).__name__, status)
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    if not access_log.isEnabledFor(level):
        return
    request = handler.request
    principal = getattr(handler, "principal", None)
    tenant = getattr(handler, "tenant", None)
    access_log.log(level, "%s %s %d", request.method, request.path, status, extra={
        "method": request.method, "path": request.path, "status": status,
        "duration_ms": round(1000.0 * request.request_time(), 2),
        "request_id": getattr(handler, "request_id", None),
        "tenant": tenant.slug if tenant is not None else None,
        "credential_id": principal.credential_id if principal is not None else None,
        "tool": getattr(handler, "tool_names", None) or None,
    })


def make_app(services: Services) -> tornado.web.Application:
    handlers = [*health.default_handlers, *home.default_handlers,
                *wellknown.default_handlers,
                *mcp_endpoint.default_handlers, *oauth_routes.default_handlers, *page_handlers]
    return tornado.web.Application(
        handlers,
        default_handler_class=NotFoundHandler,
        services=services,
        inflight=services.inflight,
        transforms=inflight_transforms(services.inflight),
        cookie_secret=services.config.cookie_secret,
        xheaders=False,  # never trust X-Forwarded-* for URLs or client addresses by default
        compress_response=False,
        log_function=log_request,
    )
