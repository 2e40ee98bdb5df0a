"""Fuzz fixtures: one server per module, and hypothesis settings that keep CI reproducible
(derandomized, no example database) and bounded (a few hundred examples per property)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from .server import FuzzServer

settings.register_profile(
    "fuzz", max_examples=200, deadline=None, derandomize=True, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


@pytest.fixture(scope="module")
def fuzz_server(mongo_uri, tmp_path_factory):
    server = FuzzServer(tmp_path_factory.mktemp("fuzz"), mongo_uri).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(fuzz_server):
    c = fuzz_server.client()
    yield c
    c.close()
