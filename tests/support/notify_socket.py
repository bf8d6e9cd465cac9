"""A real AF_UNIX datagram socket standing in for systemd's NOTIFY_SOCKET in tests."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
from pathlib import Path


class NotifySocket:
    """Bound under a short /tmp folder (AF_UNIX paths are limited to 107 bytes)."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="sdn-", dir="/tmp"))
        self.path = self._dir / "notify"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self.received: list[dict[str, str]] = []

    def receive(self, timeout: float) -> dict[str, str] | None:
        """The next datagram as KEY=VALUE pairs, or None after timeout."""
        self._sock.settimeout(timeout)
        try:
            data = self._sock.recv(65536)
        except TimeoutError:
            return None
        message = dict(line.split("=", 1) for line in data.decode().split("\n") if line)
        self.received.append(message)
        return message

    def until(self, key: str, timeout: float = 30.0) -> dict[str, str]:
        """Read messages until one carries key; fail with what came instead."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.receive(left)
            if message is not None and key in message:
                return message
        raise AssertionError(f"no {key} message within {timeout:.0f} s; received: {self.received}")

    def close(self) -> None:
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

