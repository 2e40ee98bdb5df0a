"""Shared fixtures: one embedded database for the whole run, fresh databases for every test,
and the real application listening on loopback."""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from vectis.app import Services, make_services
from vectis.config import Config, load_config, with_secrets
from vectis.embedded_db import EmbeddedDatabase
from vectis.runtime import start_http
from vectis.storage import Storage, make_client

from .support.http import client_session


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory):
    """VECTIS_TEST_MONGO_URI runs the suite against a real MongoDB; otherwise SecantusDB."""
    uri = os.environ.get("VECTIS_TEST_MONGO_URI")
    if uri:
        yield uri
        return
    db = EmbeddedDatabase(tmp_path_factory.mktemp("secantus"), cache_size="512M")
    yield db.start()
    db.stop()


@pytest.fixture
def db_prefix() -> str:
    return "t" + secrets.token_hex(6)


@pytest.fixture
async def storage(mongo_uri, db_prefix):
    store = Storage(make_client(mongo_uri), db_prefix)
    await store.db.ensure_control_indexes()
    yield store
    await store.db.drop_everything()
    await store.close()


def make_config(tmp_path: Path, mongo_uri: str, db_prefix: str, **overrides) -> Config:
    values = {"mongo_uri": mongo_uri, "db_prefix": db_prefix, "data_dir": str(tmp_path / "data"),
              "demo": "off", "port": 0, "tenant_cache_seconds": 0.2, **overrides}
    return with_secrets(load_config(env={}, overrides=values))


@dataclass
class LiveServer:
    port: int
    config: Config
    services: Services

    def url(self, slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{self.port}{path}"

    @property
    def storage(self) -> Storage:
        return self.services.storage


@pytest.fixture
async def live_server(tmp_path, mongo_uri, db_prefix, storage):
    """The real application on a loopback port, sharing the test's storage."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = make_config(tmp_path, mongo_uri, db_prefix, port=port)
    services = make_services(config, storage)
    services.indexes_ready = True
    await services.start()
    server, _ = start_http(services, "127.0.0.1", port)
    yield LiveServer(port=port, config=config, services=services)
    server.stop()
    await server.close_all_connections()
    await services.stop()


@pytest.fixture
async def http():
    async with client_session() as session:
        yield session
