"""The embedded database's life as the server's child process."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from vectis.embedded_db import STATE_FILE, EmbeddedDatabase, pid_alive

from .support.processes import ServerProcess, run_cli

pytestmark = pytest.mark.slow


def _db_pid(data) -> int:
    return json.loads((data / STATE_FILE).read_text())["db_pid"]


def _wait_gone(pid: int, timeout: float = 60) -> bool:
    # Generous: a database that is stopped cleanly checkpoints, which a slow disk stretches.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_start_restart_with_data_intact_and_clean_stop(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    db_pid = _db_pid(data)
    assert run_cli("admin", "--data-dir", str(data), "create-tenant", "acme", "--name", "Acme").returncode == 0
    assert server.stop() == 0
    assert _wait_gone(db_pid, timeout=1), "the database is stopped before the server exits"
    assert not (data / STATE_FILE).exists()
    assert '"embedded database stopped"' in server.stderr

    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    try:
        listed = run_cli("admin", "--data-dir", str(data), "list-tenants", "--json")
        assert [t["slug"] for t in json.loads(listed.stdout)] == ["acme"]
    finally:
        assert server.stop() == 0


def test_no_orphan_when_the_server_is_killed(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    db_pid = _db_pid(data)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    assert _wait_gone(db_pid), ("embedded database outlived its server; its log:\n"
                                + (data / "embedded-db.log").read_text(errors="replace")[-3000:])
    # The next start takes the data directory back without manual clean-up.
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    assert server.stop() == 0


def test_second_server_on_the_same_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    first = ServerProcess("--data-dir", str(data), "--no-demo").start()
    try:
        second = ServerProcess("--data-dir", str(data), "--no-demo")
        with pytest.raises(RuntimeError) as err:
            second.start(timeout=30)
        assert "already runs the embedded database" in str(err.value)
        assert first.ready()
    finally:
        assert first.stop() == 0


def test_port_in_use_is_a_clear_error_and_leaves_no_database_running(tmp_path):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = ServerProcess("--data-dir", str(tmp_path / "data"), "--no-demo", port=port)
        with pytest.raises(RuntimeError) as err:
            server.start(timeout=60)
    assert f"cannot listen on 127.0.0.1:{port}" in str(err.value)
    assert "Traceback" not in str(err.value)
    assert not (tmp_path / "data" / STATE_FILE).exists()


def test_restart_straight_after_a_kill_waits_for_the_old_database(tmp_path):
    """The kernel stops the orphaned database, but its clean shutdown takes a moment: a server
    started at once must wait for it, never open the same files beside it."""
    data = tmp_path / "data"
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    assert run_cli("admin", "--data-dir", str(data), "create-tenant", "acme", "--name", "Acme").returncode == 0
    old_db = _db_pid(data)
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    server = ServerProcess("--data-dir", str(data), "--no-demo").start()
    try:
        assert not pid_alive(old_db)
        assert _db_pid(data) != old_db
        listed = run_cli("admin", "--data-dir", str(data), "list-tenants", "--json")
        assert [t["slug"] for t in json.loads(listed.stdout)] == ["acme"]
    finally:
        assert server.stop() == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_state(data, db_pid: int) -> None:
    data.mkdir(parents=True, exist_ok=True)
    (data / STATE_FILE).write_text(json.dumps({"db_pid": db_pid, "port": 1, "owner_pid": _dead_pid()}))


def test_start_waits_for_a_dead_servers_database_to_finish(tmp_path):
    """An orphan still closing its files (no longer answering) is waited for, not raced."""
    data = tmp_path / "data"
    # Stands in for the orphan: its argv names SecantusDB and this storage, and it exits by itself.
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)",
                               "secantus", str(data / "db")])
    _write_state(data, orphan.pid)
    db = EmbeddedDatabase(data)
    try:
        db.start()
        assert orphan.poll() == 0, "the new database started before the old one had finished"
    finally:
        db.stop()
        orphan.kill()


def test_a_stale_state_file_never_touches_the_process_that_reused_the_pid(tmp_path):
    data = tmp_path / "data"
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    _write_state(data, bystander.pid)
    db = EmbeddedDatabase(data)
    try:
        db.start()
        assert bystander.poll() is None
    finally:
        db.stop()
        bystander.kill()
        bystander.wait()


async def test_clients_of_the_embedded_database_make_no_retryable_writes(mongo_uri):
    """SecantusDB keeps a record of every retryable write for 30 minutes and scans them on each
    write; the embedded database's URI turns them off (on a real MongoDB the URI is the
    operator's). The session's database is an embedded one unless VECTIS_TEST_MONGO_URI is set."""
    from vectis.storage import make_client
    if os.environ.get("VECTIS_TEST_MONGO_URI"):
        pytest.skip("a real MongoDB's URI is the operator's")
    client = make_client(mongo_uri)
    try:
        assert client.options.retry_writes is False
        await client.admin.command("ping")
    finally:
        await client.close()
