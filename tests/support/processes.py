"""Running `python server.py` as a real child process, the way an operator does."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), *self.args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=self.env, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stdout, self.stderr = self.proc.communicate()
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr[-3000:]}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not become ready")

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
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
