"""The server runs on uvloop (docs/benchmarks.md, stack overhead), and on asyncio's own loop
where uvloop cannot be imported; a real server process answers a tool call on it."""
from __future__ import annotations

import asyncio
import sys

import uvloop

from vectis.eventloop import loop_factory, loop_name

from .support.processes import ServerProcess, clean_env
from .support.rpc import structured


def test_loop_factory_is_uvloop_when_installed():
    factory = loop_factory()
    assert factory is uvloop.new_event_loop
    loop = factory()
    try:
        assert loop_name(loop) == "uvloop"
    finally:
        loop.close()


def test_asyncio_loop_when_uvloop_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(sys.modules, "uvloop", None)   # what an import of a missing module does
    assert loop_factory() is None
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        assert runner.run(_running_loop_name()) == "asyncio"


async def _running_loop_name() -> str:
    return loop_name(asyncio.get_running_loop())


async def test_server_process_runs_on_uvloop_and_answers_tools(acme, http, mongo_uri, db_prefix, tmp_path):
    config = acme.server.config
    env = clean_env(VECTIS_MONGO_URI=mongo_uri, VECTIS_DB_PREFIX=db_prefix, VECTIS_DATA_DIR=str(tmp_path / "p"),
                    VECTIS_COOKIE_SECRET=config.cookie_secret, VECTIS_ENCRYPTION_KEY=config.encryption_key,
                    VECTIS_TOKEN_PEPPER=config.token_pepper, VECTIS_SYNC_INTERVAL_SECONDS="0",
                    VECTIS_RULES_WORKER="off")
    process = ServerProcess("--no-demo", env=env)
    await asyncio.to_thread(process.start)
    try:
        url = f"http://acme.localhost:{process.port}/api/mcp"
        page = await structured(http, url, acme.token, "list_customers", {"limit": 5})
        assert page["items"] == []
        _, stderr = process.output_so_far()
        assert "event loop: uvloop" in stderr
    finally:
        await asyncio.to_thread(process.stop)
