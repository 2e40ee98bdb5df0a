"""Running `python server.py` as a real child process, the way an operator does."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VECTIS_")}
    env.update(extra)
    return env


def run_cli(*args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "server.py"), *args], input=stdin,
                          capture_output=True, text=True, env=env or clean_env(), timeout=timeout,
                          cwd=ROOT)


class ServerProcess:
    def __init__(self, *args: str, env: dict | None = None, port: int | None = None):
        self.port = port or free_port()
        self.args = ["--port", str(self.port), *args]
        self.env = env or clean_env()
        self.proc: subprocess.Popen | None = None
        self.stdout = ""
        self.stderr = ""

    def start(self, timeout: float = 90) -> ServerProcess:
        # Files, not pipes: nobody reads a pipe while the server runs, and a busy server's logs
        # would fill it and block its event loop on a write.
        # Read back through their own opens, so reading never moves the child's write offset.
        self._logs = Path(tempfile.mkdtemp(prefix="vectis-server-"))
        with open(self._logs / "stdout", "w") as out, open(self._logs / "stderr", "w") as err:
            self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), *self.args],
                                         stdout=out, stderr=err, env=self.env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._finish()
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr[-3000:]}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not become ready")

    def _collect(self) -> None:
        for name in ("stdout", "stderr"):
            path = self._logs / name
            if path.exists():
                setattr(self, name, path.read_text(errors="replace"))

    def _finish(self) -> None:
        self._collect()
        shutil.rmtree(self._logs, ignore_errors=True)

    def output_so_far(self) -> tuple[str, str]:
        """What the running server has written so far (stdout, stderr)."""
        self._collect()
        return self.stdout, self.stderr

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._finish()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self._finish()
