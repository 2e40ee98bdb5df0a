"""The systemd notification protocol (sd_notify), spoken directly: newline-separated KEY=VALUE
assignments in one datagram to the unix socket named by $NOTIFY_SOCKET. Without that variable
(not run by systemd with Type=notify) every call is a no-op.

The variables are taken out of the environment when read, so that child processes (the embedded
database) neither speak for the server nor believe the watchdog is theirs.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import MutableMapping

log = logging.getLogger("vectis.sdnotify")


def watchdog_interval(env: MutableMapping[str, str], pid: int | None = None) -> float | None:
    """Seconds between pings (half the timeout, as systemd advises), or None if the watchdog is
    off or meant for another process."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = env.get("WATCHDOG_PID")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return usec / 2 / 1_000_000


class Notifier:
    def __init__(self, address: str | None, watchdog: float | None = None):
        self.address = address
        self.watchdog = watchdog if address else None
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environ(cls, env: MutableMapping[str, str] | None = None) -> Notifier:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        watchdog = watchdog_interval(env)
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
            env.pop(name, None)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, *assignments: str) -> bool:
        """Send one message; False (and one warning) if it could not be sent. The service manager
        not hearing us is its problem to act on (it times out), never a reason to stop serving."""
        if self.address is None:
            return False
        # A leading '@' names a socket in the abstract namespace, spelt with a NUL byte.
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto("\n".join(assignments).encode(), target)
            return True
        except OSError as exc:
            if not self._warned:
                log.warning("cannot notify the service manager at %s: %s", self.address, exc)
                self._warned = True
            return False

    def ready(self, status: str = "") -> None:
        self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def reloading(self) -> None:
        # MONOTONIC_USEC lets Type=notify-reload (systemd 253+) match this to its own signal.
        self.notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")

    def stopping(self) -> None:
        self.notify("STOPPING=1", "STATUS=stopping")

    async def run_watchdog(self) -> None:
        """Ping from the event loop itself: a loop that is blocked stops pinging, and systemd
        restarts the process; a thread would keep pinging for a server that no longer answers."""
        if self.watchdog is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(self.watchdog)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None
