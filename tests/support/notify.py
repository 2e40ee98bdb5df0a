"""The service manager's end of sd_notify, for tests: a unix datagram socket in the abstract
namespace that records every message with the sender's pid (SCM_CREDENTIALS, which is what
systemd checks for NotifyAccess=main)."""
from __future__ import annotations

import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Message:
    pid: int
    fields: dict[str, str]
    received: float

    def has(self, assignment: str) -> bool:
        key, _, value = assignment.partition("=")
        return self.fields.get(key) == value


class NotifyListener:
    def __init__(self, on_message: Callable[[Message], None] | None = None):
        self.address = "@vectis-test-" + secrets.token_hex(8)
        self.messages: list[Message] = []
        self._on_message = on_message
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._sock.bind("\0" + self.address[1:])
        self._sock.settimeout(0.2)
        self._changed = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        size = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self._closed:
            try:
                data, ancillary, _, _ = self._sock.recvmsg(4096, size)
            except TimeoutError:
                continue
            except OSError:
                return
            pid = -1
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("3i", payload[:12])[0]
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            message = Message(pid=pid, fields=fields, received=time.monotonic())
            if self._on_message is not None:
                self._on_message(message)
            with self._changed:
                self.messages.append(message)
                self._changed.notify_all()

    def wait_for(self, assignment: str, count: int = 1, timeout: float = 60) -> list[Message]:
        """The first `count` messages containing `assignment`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for m in self.messages if m.has(assignment)]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {count}x {assignment} within {timeout} s; got "
                                         f"{[m.fields for m in self.messages]}")
                self._changed.wait(remaining)

    def close(self) -> None:
        self._closed = True
        self._thread.join(5)
        self._sock.close()
