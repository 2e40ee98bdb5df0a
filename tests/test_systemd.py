"""Running under systemd: the unit files (verified and scored by systemd-analyze), the sd_notify
protocol spoken by the real server process, and reload on SIGHUP."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from vectis.embedded_db import STATE_FILE
from vectis.sdnotify import Notifier, watchdog_interval

from .support.notify import NotifyListener
from .support.processes import ROOT, ServerProcess, clean_env, run_cli

UNITS = ROOT / "systemd"
# Measured 1.2 for both units with systemd 252; a little headroom for other versions' weights.
MAX_EXPOSURE = 1.5
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                   "(Debian package systemd; scripts/test installs it as root)")


def _testable_copy(unit: str, tmp_path: Path, name: str) -> Path:
    """The unit with ExecStart pointing at this checkout's interpreter and server.py, which
    exist here; verify checks that the executable exists, /opt/vectis does not on a CI box."""
    text = (UNITS / unit).read_text()
    text = text.replace("/opt/vectis/.venv/bin/python", sys.executable)
    text = text.replace("/opt/vectis/server.py", str(ROOT / "server.py"))
    path = tmp_path / name
    path.write_text(text)
    return path


@needs_analyze
@pytest.mark.parametrize("unit, name", [("vectis.service", "vectis.service"),
                                        ("vectis@.service", "vectis@ci.service")])
def test_units_verify_cleanly(tmp_path, unit, name):
    path = _testable_copy(unit, tmp_path, name)
    result = subprocess.run([ANALYZE, "verify", str(path)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert name not in result.stderr, result.stderr   # warnings about our unit, even at rc 0


@needs_analyze
@pytest.mark.parametrize("unit, name", [("vectis.service", "vectis.service"),
                                        ("vectis@.service", "vectis@ci.service")])
def test_units_are_sandboxed(tmp_path, unit, name):
    path = _testable_copy(unit, tmp_path, name)
    result = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", str(path)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout


def _service_section(unit: str) -> list[str]:
    lines = [line for line in (UNITS / unit).read_text().splitlines()
             if line and not line.startswith("#")]
    start = lines.index("[Service]")
    return lines[start:lines.index("[Install]")]


def test_the_template_differs_from_the_single_unit_only_in_per_instance_names():
    single, template = _service_section("vectis.service"), _service_section("vectis@.service")
    assert len(single) == len(template)
    differing = [(a, b) for a, b in zip(single, template, strict=True) if a != b]
    for ours, theirs in differing:
        assert "%i" in theirs and theirs.split("=", 1)[0] == ours.split("=", 1)[0], (ours, theirs)
    keys = {line.split("=", 1)[0] for _, line in differing}
    assert keys == {"ExecStart", "User", "StateDirectory", "LoadCredential"}


def test_unit_promises_match_the_server():
    text = (UNITS / "vectis.service").read_text()
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "KillMode=mixed",
                 "ExecReload=/bin/kill -HUP $MAINPID", "StateDirectory=vectis",
                 "LoadCredential=cookie_secret:", "LoadCredential=encryption_key:",
                 "LoadCredential=token_pepper:", "--data-dir %S/vectis"):
        assert line in text, line
    grace = re.search(r"^TimeoutStopSec=(\d+)s$", text, re.M)
    from vectis.settings import SETTINGS
    default_grace = next(s.default for s in SETTINGS if s.name == "shutdown_grace_seconds")
    # The server's own worst case after the drain (docs/deployment.md, Stopping).
    from vectis.embedded_db import STOP_SECONDS
    from vectis.runtime import BACKGROUND_STOP_SECONDS, CLOSE_SECONDS
    after_drain = 2 * CLOSE_SECONDS + BACKGROUND_STOP_SECONDS + STOP_SECONDS
    assert grace and int(grace.group(1)) >= default_grace + after_drain


# --- the notification protocol ---------------------------------------------------------------

@pytest.mark.parametrize("env, expected", [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),       # another process's
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
])
def test_watchdog_interval_is_half_the_timeout_and_only_for_its_process(env, expected):
    assert watchdog_interval(env, pid=4242) == expected


def test_notifier_speaks_to_a_path_socket_and_hides_the_variables_from_children():
    directory = tempfile.mkdtemp(prefix="vn-")   # short: unix socket paths are limited to 108 bytes
    try:
        path = os.path.join(directory, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000", "PATH": "/bin"}
            notifier = Notifier.from_environ(env)
            assert env == {"PATH": "/bin"}
            assert notifier.watchdog == 1.0
            notifier.ready("up")
            assert sock.recv(4096) == b"READY=1\nSTATUS=up"
            notifier.close()
    finally:
        shutil.rmtree(directory)


def test_without_notify_socket_nothing_is_sent():
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "2000000"})
    assert not notifier.enabled and notifier.watchdog is None
    assert notifier.notify("READY=1") is False


def test_an_unreachable_socket_does_not_stop_the_caller():
    notifier = Notifier("@vectis-nobody-listens-" + os.urandom(6).hex())
    assert notifier.notify("READY=1") is False
    assert notifier.notify("WATCHDOG=1") is False    # warned once, still no exception


def _readyz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@pytest.mark.slow
def test_server_notifies_ready_watchdog_and_stopping(tmp_path):
    server = ServerProcess("--data-dir", str(tmp_path / "data"), "--no-demo")
    readyz_at_ready: list[int] = []

    def on_message(message) -> None:
        # Checked the moment READY=1 arrives: the service manager starts dependants right then.
        if message.has("READY=1") and not readyz_at_ready:
            readyz_at_ready.append(_readyz(server.port))

    listener = NotifyListener(on_message)
    server.env = clean_env(NOTIFY_SOCKET=listener.address, WATCHDOG_USEC="400000")
    try:
        server.start()
        [ready] = listener.wait_for("READY=1")
        assert readyz_at_ready == [200]
        assert ready.pid == server.proc.pid
        assert "STATUS" in ready.fields
        pings = listener.wait_for("WATCHDOG=1", count=3)
        assert {m.pid for m in pings} == {server.proc.pid}
        db_pid = json.loads((tmp_path / "data" / STATE_FILE).read_text())["db_pid"]
        child_env = Path(f"/proc/{db_pid}/environ").read_bytes().split(b"\0")
        assert not [v for v in child_env if v.startswith((b"NOTIFY_SOCKET=", b"WATCHDOG_"))]
        assert not [m for m in listener.messages if m.has("STOPPING=1")]
        assert server.stop() == 0
        [stopping] = listener.wait_for("STOPPING=1", timeout=5)
        assert stopping.pid == server.proc.pid
        assert stopping.received > ready.received
    finally:
        server.kill()
        listener.close()


# --- reload on SIGHUP -----------------------------------------------------------------------

def _logged(server: ServerProcess, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, err = server.output_so_far()
        if needle in err:
            return err
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} not logged; stderr ends:\n{err[-3000:]}")


def _get(server: ServerProcess, path: str, headers: dict) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers,
                                     method="POST" if path == "/api/mcp" else "GET",
                                     data=b"{}" if path == "/api/mcp" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _origin_status(server: ServerProcess) -> int:
    return _get(server, "/api/mcp", {"Host": f"acme.localhost:{server.port}",
                                     "Origin": "https://app.example",
                                     "Content-Type": "application/json"})


def _reload(server: ServerProcess, listener: NotifyListener, n: int) -> None:
    server.proc.send_signal(signal.SIGHUP)
    [*_, reloading] = listener.wait_for("RELOADING=1", count=n)
    assert re.fullmatch(r"[0-9]+", reloading.fields["MONOTONIC_USEC"])
    # READY=1 again once the reload is done: the first READY was the start.
    listener.wait_for("READY=1", count=n + 1)


@pytest.mark.slow
def test_sighup_applies_live_settings_names_the_rest_and_refuses_a_bad_file(tmp_path):
    data, config = tmp_path / "data", tmp_path / "vectis.toml"
    config.write_text('log_level = "warning"\n')
    listener = NotifyListener()
    server = ServerProcess("--config", str(config), "--data-dir", str(data), "--no-demo",
                           env=clean_env(NOTIFY_SOCKET=listener.address))
    try:
        server.start()
        listener.wait_for("READY=1")
        created = run_cli("admin", "--data-dir", str(data), "create-tenant", "acme", "--name", "Acme")
        assert created.returncode == 0, created.stderr
        assert _origin_status(server) == 403                     # not an allowed origin yet
        assert _get(server, "/healthz", {"X-Request-Id": "at-warning"}) == 200

        config.write_text('log_level = "info"\nallowed_origins = "https://app.example"\n'
                          'db_prefix = "elsewhere"\n')
        _reload(server, listener, 1)
        err = _logged(server, "reload applied")
        assert "log_level='info'" in err and "allowed_origins='https://app.example'" in err
        assert "db_prefix changed but only take effect after a restart" in err
        assert _get(server, "/healthz", {"X-Request-Id": "at-info"}) == 200
        err = _logged(server, '"request_id": "at-info"')
        assert '"request_id": "at-warning"' not in err           # the level really changed
        assert _origin_status(server) != 403                     # the origin is allowed now

        config.write_text('log_level = "loud"\nallowed_origins = ""\n')
        _reload(server, listener, 2)
        err = _logged(server, "reload refused, running configuration kept")
        assert "log_level: must be one of debug, info, warning, error" in err
        assert _get(server, "/healthz", {"X-Request-Id": "after-refusal"}) == 200
        _logged(server, '"request_id": "after-refusal"')         # still at info
        assert _origin_status(server) != 403                     # nothing of the bad file applied
    finally:
        assert server.stop() == 0
        listener.close()
