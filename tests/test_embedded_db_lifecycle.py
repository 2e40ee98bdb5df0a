"""The embedded database under stress, through real server processes: stopping while it is held
busy, and its death under a running server (docs/deployment.md, Stopping and The embedded
database dies).

Waits below use the product's documented bounds as deadlines. Those bounds are enforced by the
server's own timers (a kill after so many seconds), so a slow machine does not stretch them; the
slack covers only starting and reaping processes."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from pymongo import MongoClient, WriteConcern

from vectis.embedded_db import START_SECONDS, STATE_FILE, STOP_SECONDS, pid_alive, running_instance
from vectis.embedded_supervisor import BACKOFF_SECONDS, POLL_SECONDS
from vectis.runtime import BACKGROUND_STOP_SECONDS, CLOSE_SECONDS

from .support.http import client_session
from .support.processes import ServerProcess, clean_env, run_cli
from .support.rpc import rpc

pytestmark = pytest.mark.slow

GRACE = 2
# After the drain: closing connections (app and metrics listeners), background work, database.
STOP_BOUND = GRACE + 2 * CLOSE_SECONDS + BACKGROUND_STOP_SECONDS + STOP_SECONDS
SLACK = 15
RECOVERY_BOUND = POLL_SECONDS + START_SECONDS     # documented: a death noticed, then one start
SCRATCH_DOCS = 20_000


def _server(data: Path) -> ServerProcess:
    return ServerProcess("--data-dir", str(data), "--no-demo",
                         env=clean_env(VECTIS_SHUTDOWN_GRACE_SECONDS=str(GRACE))).start()


def _db_pid(data: Path) -> int:
    return json.loads((data / STATE_FILE).read_text())["db_pid"]


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def _durable(client: MongoClient) -> None:
    """A journaled write: it syncs the journal, and with it every write acknowledged before.
    Without it, SecantusDB (like mongod with j:false) may lose the last ~100 ms of writes to a
    kill -9; docs/deployment.md says so. The test is about what the restart recovers."""
    client.scratch.get_collection("barrier", write_concern=WriteConcern(j=True)).insert_one({})


@contextlib.contextmanager
def held_busy(uri: str):
    """Long scans (an $in that SecantusDB checks document by document) and a write load, each on
    its own connection, until the block ends or the database goes away."""
    client = MongoClient(uri, serverSelectionTimeoutMS=2000)
    docs = client.scratch.docs
    docs.insert_many([{"_id": i, "v": i % 97, "pad": "x" * 50} for i in range(SCRATCH_DOCS)])
    _durable(client)
    stop = threading.Event()
    busy = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                busy.set()
                docs.find({"_id": {"$in": list(range(0, 2 * SCRATCH_DOCS, 3))}}).to_list()
                continue
            return

    def write() -> None:
        n = SCRATCH_DOCS
        while not stop.is_set():
            with contextlib.suppress(Exception):
                docs.insert_many([{"_id": n + k} for k in range(200)])
                n += 200
                continue
            return

    threads = [threading.Thread(target=f, daemon=True) for f in (scan, scan, write)]
    for thread in threads:
        thread.start()
    busy.wait(10)
    time.sleep(1)   # the scans are under way inside the database
    try:
        yield client
    finally:
        stop.set()
        client.close()


def test_graceful_stop_with_the_database_busy_ends_in_bound_and_stops_it(tmp_path):
    data = tmp_path / "data"
    server = _server(data)
    db_pid = _db_pid(data)
    try:
        with held_busy(running_instance(data)["uri"]):
            server.proc.send_signal(signal.SIGTERM)
            assert server.proc.wait(STOP_BOUND + SLACK) == 0
        assert not pid_alive(db_pid), "the server exited before its database"
        assert not (data / STATE_FILE).exists()
    finally:
        server.kill()


def test_graceful_stop_with_the_database_stalled_ends_in_bound_and_kills_it(tmp_path):
    """The worst case of busy: a database that answers nothing at all (SIGSTOP). Each step after
    the drain gives up at its bound and the database is killed."""
    data = tmp_path / "data"
    server = _server(data)
    db_pid = _db_pid(data)
    try:
        os.kill(db_pid, signal.SIGSTOP)
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(STOP_BOUND + SLACK) == 0
        assert not pid_alive(db_pid), "the server exited before its database"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(db_pid, signal.SIGKILL)
        server.kill()
    server = _server(data)    # the files are usable again: the journal was replayed
    assert server.stop() == 0


def test_a_killed_server_takes_its_busy_database_with_it(tmp_path):
    data = tmp_path / "data"
    server = _server(data)
    db_pid = _db_pid(data)
    with held_busy(running_instance(data)["uri"]) as client:
        written = client.scratch.docs.count_documents({})
        _durable(client)
        server.proc.kill()
        server.proc.wait(10)
        # The kernel sends SIGKILL the moment the server dies; no orphan is left to finish.
        _wait(lambda: not pid_alive(db_pid), 10, "the database died with its server")
    # Killed, not asked: a SIGTERM would have started a clean stop, which waits for the busy
    # connections and says so in its log.
    assert "server stop" not in (data / "embedded-db.log").read_text(errors="replace")
    server.kill()
    server = _server(data)
    try:
        uri = running_instance(data)["uri"]
        with MongoClient(uri) as client:
            assert client.scratch.docs.count_documents({}) >= written
    finally:
        assert server.stop() == 0


# --- the database dies under a running server ------------------------------------------------

def _cli(data: Path, *args: str, stdin: str | None = None) -> str:
    done = run_cli("admin", "--data-dir", str(data), *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _tenant_and_token(data: Path) -> str:
    _cli(data, "create-tenant", "acme", "--name", "Acme")
    _cli(data, "seed-data", "acme", "--customers", "3", "--tickets-per-customer", "2")
    _cli(data, "create-user", "acme", "alex@acme.example", "--role", "admin", "--password-stdin",
         stdin="correct horse battery\n")
    return _cli(data, "issue-token", "acme", "alex@acme.example", "--scopes", "read:customers",
                "--label", "load").strip()


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Load:
    """Four clients calling list_customers in a loop; every answer is kept, with its time."""

    def __init__(self, http, url: str, token: str):
        self.http, self.url, self.token = http, url, token
        self.answers: list[tuple[float, str, dict | None]] = []
        self._tasks: list[asyncio.Task] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client()) for _ in range(4)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _client(self) -> None:
        while True:
            try:
                status, body, _ = await rpc(self.http, self.url, self.token, "tools/call",
                                            {"name": "list_customers", "arguments": {"limit": 5}})
            except Exception as exc:   # a refused or broken connection: never expected here
                self.answers.append((time.monotonic(), f"unexpected {exc!r}", None))
                await asyncio.sleep(0.05)
                continue
            if status == 200 and "result" in body and body["result"]["isError"] is False:
                kind = "ok"
            elif status == 200 and body.get("error", {}).get("code") == -32006:
                kind = "unavailable"
            else:
                kind = f"unexpected {status}"
            self.answers.append((time.monotonic(), kind, body))
            await asyncio.sleep(0.05)

    def since(self, moment: float) -> list[str]:
        return [kind for at, kind, _ in self.answers if at > moment]


async def _until(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := await predicate():
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds:.0f} s: {what}")


async def test_a_killed_database_is_restarted_and_calls_resume_with_nothing_lost(tmp_path):
    data = tmp_path / "data"
    server = _server(data)
    try:
        token = _tenant_and_token(data)
        url = f"http://acme.localhost:{server.port}/api/mcp"
        uri = running_instance(data)["uri"]
        async with client_session() as http:
            load = Load(http, url, token)
            load.start()
            with MongoClient(uri) as client:
                audit = client["vectis_t_acme"]["audit_log"]
                # Calls made (and audited) before the kill: their rows must survive it.
                await _until(lambda: asyncio.to_thread(audit.count_documents, {}), 30,
                             "audit rows of the first calls")
                before = {row["_id"] for row in audit.find({}, {"_id": 1})}
                pats = client["vectis_t_acme"]["pats"].count_documents({})
                assert pats == 1
                _durable(client)
            first = next(body for _, kind, body in load.answers if kind == "ok")
            old_pid = _db_pid(data)
            killed_at = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)

            async def resumed() -> bool:
                return "ok" in load.since(killed_at + 0.1) and await asyncio.to_thread(
                    _readyz, server.port) == 200 and "embedded database restarted" in (
                    server.output_so_far()[1])
            await _until(resumed, RECOVERY_BOUND, "calls resumed and /readyz 200 after the kill")
            print(f"calls resumed {time.monotonic() - killed_at:.1f} s after the kill")
            await load.stop()

        assert server.proc.poll() is None, "the server itself was never restarted"
        assert _db_pid(data) != old_pid and pid_alive(_db_pid(data))
        kinds = load.since(killed_at)
        assert not [k for k in kinds if k.startswith("unexpected")], kinds
        assert load.answers[-1][1] == "ok"
        assert load.answers[-1][2]["result"] == first["result"]      # the same customers
        with MongoClient(running_instance(data)["uri"]) as client:
            rows = {row["_id"] for row in client["vectis_t_acme"]["audit_log"].find({}, {"_id": 1})}
            assert before <= rows
            assert client["vectis_t_acme"]["pats"].count_documents({}) == pats
        _, err = server.output_so_far()
        assert "exited with code -9; starting it again on the same files" in err
        assert "embedded database restarted" in err
    finally:
        assert server.stop() == 0


def test_a_database_that_cannot_be_restarted_stops_the_server_non_zero(tmp_path):
    """Its files gone bad (here: the storage directory replaced by a file), every restart fails;
    after the last backoff the server stops in order and exits 1, for systemd to restart it."""
    data = tmp_path / "data"
    server = _server(data)
    try:
        storage = data / "db"
        storage.rename(data / "db-aside")
        storage.write_text("not a directory\n")
        os.kill(_db_pid(data), signal.SIGKILL)
        rc = server.proc.wait(sum(BACKOFF_SECONDS) + len(BACKOFF_SECONDS) * POLL_SECONDS
                              + STOP_BOUND + SLACK)
        server.kill()   # collects the output
        assert rc == 1, server.stderr[-3000:]
        last = server.stderr.strip().splitlines()[-1]
        assert last.startswith(f"vectis: the embedded database needed {len(BACKOFF_SECONDS)} "
                               "restarts within"), last
        assert '"embedded database stopped"' in server.stderr     # stopped in order
    finally:
        server.kill()
