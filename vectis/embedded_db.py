"""The embedded database: SecantusDB run as a separate child process.

SecantusDB is GPL-2.0, so it is never imported here: we only start `python -m secantus` and talk
to it over the MongoDB wire protocol, exactly as to a real MongoDB.

Lifecycle guarantees:
- the child gets PR_SET_PDEATHSIG with SIGKILL, so the kernel kills it the moment the server dies,
  even by SIGKILL. Not SIGTERM: a busy SecantusDB may take long to act on it (or, mid-checkpoint,
  outlive the unit's stop timeout), and its journal makes a kill safe: the next start replays it;
- stop() is bounded: SIGTERM, then SIGKILL after STOP_SECONDS;
- it runs in its own session, so a Ctrl-C aimed at the server does not kill it before the server
  has drained (the server stops it last);
- a state file in the data directory names the running instance, so the admin CLI can use the
  database of a running server, and a second server on the same data directory is refused;
- a start after a server died waits for that server's database to finish shutting down.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

STATE_FILE = "embedded-db.json"
_PR_SET_PDEATHSIG = 1
# A clean stop drains connections (SecantusDB gives them 5 s) and checkpoints; past this it is
# killed, which the journal makes safe (docs/deployment.md, Stopping).
STOP_SECONDS = 15.0
START_SECONDS = 60.0


class EmbeddedDatabaseError(RuntimeError):
    pass


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dying_with(parent: int):
    def die_with_parent() -> None:  # runs in the child between fork and exec
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:   # the parent died before prctl: no signal will come
            os._exit(1)
    return die_with_parent


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def uri_for_port(port: int) -> str:
    # No retryable writes: SecantusDB keeps a record of each such write for 30 minutes (up to
    # 10,000) and scans them on every write, which made each write about ten times dearer under
    # steady load (bench/tenants_bench.py). On loopback a write fails only when the database
    # itself dies, and then the call fails instead of being retried into the restart.
    return f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"


def _answers(uri: str, timeout_ms: int = 500) -> bool:
    client = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


def _read_state(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _runs_storage(pid: int, storage_path: Path) -> bool:
    """Whether pid is a live SecantusDB serving storage_path (not a reused pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().decode(errors="replace").split("\0")
    except (OSError, ValueError):
        return False
    return "secantus" in argv and str(storage_path) in argv and _not_zombie(pid)


def running_instance(data_dir: Path) -> dict | None:
    """The live embedded database of a server using data_dir, if there is one."""
    state = _read_state(data_dir)
    if state is None:
        return None
    if not (pid_alive(state.get("db_pid", -1)) and _answers(uri_for_port(state["port"]))):
        return None
    state["uri"] = uri_for_port(state["port"])
    return state


class EmbeddedDatabase:
    def __init__(self, data_dir: Path, cache_size: str = "256M"):
        self.data_dir = data_dir.resolve()  # absolute: the orphan check matches the child's argv
        self.storage_path = self.data_dir / "db"
        self.cache_size = cache_size
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def uri(self) -> str:
        if self.port is None:
            raise EmbeddedDatabaseError("embedded database is not running")
        return uri_for_port(self.port)

    def start(self, timeout: float = START_SECONDS, port: int | None = None) -> str:
        """Start the database; `port` pins it (a restart where clients already hold the URI).
        The kernel kills the database when the calling *thread* ends (PR_SET_PDEATHSIG is
        per thread): call it from one that lives as long as the database should."""
        self.prepare()
        self.launch(port)
        return self.wait_ready(timeout)

    def prepare(self) -> None:
        """What may block before the launch: taking the files over from a dead server."""
        self._take_over_from_a_dead_server()
        self.storage_path.mkdir(parents=True, exist_ok=True)

    def launch(self, port: int | None = None) -> None:
        """Fork the database. Quick, and meant for a long-lived thread (see start)."""
        self.port = port or _free_loopback_port()
        log = open(self.data_dir / "embedded-db.log", "ab")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "secantus", "--host", "127.0.0.1", "--port", str(self.port),
                 "--storage-path", str(self.storage_path), "--log-level", "WARNING",
                 "--cache-size", self.cache_size,
                 # No replica set, so no oplog: Vectis uses neither change streams nor
                 # transactions, and SecantusDB 0.7.0b3 writes a copy of every document to its
                 # oplog and, past 100,000 entries in an hour (a seed, a first sync), prunes it
                 # inside the writing transaction from a second session, which wedged WiredTiger
                 # in eviction (the database at 100 % CPU and every query stalled; seen twice
                 # at 50,000 tickets, 2026-12-07).
                 "--standalone"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_dying_with(os.getpid()), start_new_session=True, close_fds=True,
            )
        finally:
            log.close()
        # Published at once, not when it answers: an admin command run meanwhile (a restart under
        # a running server) then finds a live server's database and is refused with its address,
        # instead of starting a second database on the same files.
        state = {"db_pid": self.process.pid, "port": self.port, "owner_pid": os.getpid()}
        tmp = self.data_dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.data_dir / STATE_FILE)

    def wait_ready(self, timeout: float = START_SECONDS) -> str:
        """Wait until the launched database answers."""
        self._wait_until_ready(self.process, timeout)
        return self.uri

    def _take_over_from_a_dead_server(self, timeout: float = 60.0) -> None:
        """Refuse if a live server runs this data directory's database; wait out the database
        of one that died. The kernel has sent that orphan SIGTERM, and its clean shutdown (a
        checkpoint) can take a while on a slow disk: starting beside it would race it for the
        files, so it gets `timeout` seconds to finish before it is killed (the journal makes a
        kill safe, only slower to recover)."""
        state = _read_state(self.data_dir)
        if state is None:
            return
        db_pid = state.get("db_pid", -1)
        if not _runs_storage(db_pid, self.storage_path):
            return  # a stale file, perhaps from before a reboot: that pid is someone else now
        uri = uri_for_port(state.get("port", 0))
        if pid_alive(state.get("owner_pid", -1)):
            raise EmbeddedDatabaseError(
                f"another Vectis process (pid {state['owner_pid']}) already runs the embedded "
                f"database of {self.data_dir}; stop it, use another --data-dir, or connect to "
                f"it with --mongo-uri '{uri}'"
            )
        if _answers(uri):
            # Still serving, so not shutting down (no parent-death signal reached it).
            _terminate(db_pid, timeout)
        else:
            _wait_then_kill(db_pid, timeout)

    def _wait_until_ready(self, process: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedDatabaseError(
                    f"embedded database exited with code {process.returncode}; see "
                    f"{self.data_dir / 'embedded-db.log'}:\n{self._log_tail()}"
                )
            if _answers(self.uri, timeout_ms=300):
                return
            time.sleep(0.1)
        self.stop()
        raise EmbeddedDatabaseError(f"embedded database did not answer within {timeout:.0f} s")

    def _log_tail(self) -> str:
        try:
            return (self.data_dir / "embedded-db.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_SECONDS) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        _terminate(process.pid, timeout, process)
        try:
            state = json.loads((self.data_dir / STATE_FILE).read_text())
            if state.get("owner_pid") == os.getpid():
                (self.data_dir / STATE_FILE).unlink()
        except (OSError, ValueError):
            pass


def _terminate(pid: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    if process is not None and process.poll() is not None:
        return   # reaped already: its pid may be someone else's by now
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    _wait_then_kill(pid, timeout, process)


def _wait_then_kill(pid: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Give pid `timeout` seconds to exit, then SIGKILL it. Our own child is reaped through
    `process`; another's (an orphan of a dead server) is watched until it is gone."""
    def gone() -> bool:
        return process.poll() is not None if process is not None else not pid_alive(pid)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone():
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait(5)
        return
    while not gone() and time.monotonic() < deadline + 5:
        time.sleep(0.05)
