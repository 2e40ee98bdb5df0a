"""The database a bench runs against: a loopback MongoDB given with --mongo-uri, or an embedded
SecantusDB started in a temporary directory for the run and stopped after it."""
from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymongo.uri_parser import parse_uri

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vectis.embedded_db import EmbeddedDatabase  # noqa: E402

# A bench empties and fills databases: never point it at anything but this machine.
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mongo-uri", help="a loopback MongoDB URI; default: start the embedded database")


def run_with_database(parser: argparse.ArgumentParser, mongo_uri: str | None,
                      run: Callable[[str], Awaitable[None]], cache_size: str = "512M") -> None:
    if mongo_uri:
        hosts = {host for host, _ in parse_uri(mongo_uri)["nodelist"]}
        if not hosts <= LOOPBACK:
            parser.error(f"loopback hosts only, not {', '.join(sorted(hosts - LOOPBACK))}")
        asyncio.run(run(mongo_uri))
        return
    with tempfile.TemporaryDirectory(prefix="vectis-bench-") as tmp:
        database = EmbeddedDatabase(Path(tmp), cache_size=cache_size)
        uri = database.start()
        try:
            asyncio.run(run(uri))
        finally:
            database.stop()
