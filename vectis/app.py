"""Application assembly: the services every handler shares, and the route table."""
from __future__ import annotations

from dataclasses import dataclass

import tornado.web

from .config import Config
from .storage import Storage
from .tenancy import TenantResolver
from .web import health, home
from .web.base import NotFoundHandler

MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Services:
    config: Config
    storage: Storage
    tenants: TenantResolver
    indexes_ready: bool = False


def make_services(config: Config, storage: Storage) -> Services:
    return Services(config=config, storage=storage, tenants=TenantResolver(storage, config))


def make_app(services: Services) -> tornado.web.Application:
    handlers = [*health.default_handlers, *home.default_handlers]
    return tornado.web.Application(
        handlers,
        default_handler_class=NotFoundHandler,
        services=services,
        cookie_secret=services.config.cookie_secret,
        xheaders=False,  # never trust X-Forwarded-* for URLs or client addresses by default
        compress_response=False,
    )
