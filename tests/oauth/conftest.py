"""Fixtures of the Client ID Metadata Document tests (helpers in cimd_support)."""
from __future__ import annotations

import pytest
from aiohttp import web

from vectis.oauth.cimd import ClientMetadataFetcher

from ..support.tls import TestCA, make_test_ca
from .cimd_support import SERVER_NAMES, DocServer


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory) -> TestCA:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def server(test_ca):
    srv = DocServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", srv.handle)
    runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=test_ca.server_context(SERVER_NAMES))
    await site.start()
    srv.port = runner.addresses[0][1]
    yield srv
    srv.stop.set()
    await runner.cleanup()


@pytest.fixture
async def make_fetcher(test_ca):
    fetchers = []

    def make(**kwargs) -> ClientMetadataFetcher:
        kwargs.setdefault("allow_networks", ("127.0.0.1/32",))
        kwargs.setdefault("ssl_context", test_ca.client_context())
        fetchers.append(ClientMetadataFetcher(**kwargs))
        return fetchers[-1]
    yield make
    for f in fetchers:
        await f.close()


@pytest.fixture
def fetcher(make_fetcher) -> ClientMetadataFetcher:
    return make_fetcher()
