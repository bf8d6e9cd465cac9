"""systemd's service notification protocol (sd_notify), for `dmarcflow watch` under ``Type=notify``.

When systemd starts a ``Type=notify`` service it sets ``NOTIFY_SOCKET`` (a filesystem path, or
``@name`` for the abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC`` (and
``WATCHDOG_PID``). The service sends newline-separated ``KEY=VALUE`` assignments to that socket as
single datagrams: ``READY=1`` once it serves, ``WATCHDOG=1`` at least every ``WATCHDOG_USEC`` (here:
every half of it), ``STATUS=...`` for `systemctl status`, ``RELOADING=1`` and ``STOPPING=1``.
The protocol is a few lines of socket code, so it is written here rather than taken from a package.
Without ``NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping, MutableMapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to the service manager; thread-safe; silent when not under systemd."""

    def __init__(self, address: str = "", watchdog_usec: int = 0) -> None:
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_interval = watchdog_usec / 2e6 if watchdog_usec > 0 else None  # seconds
        self._socket: socket.socket | None = None
        self._lock = threading.RLock()
        self._warned = False
        if address and not address.startswith(("/", "@")):
            log.warning("NOTIFY_SOCKET %r is not a unix socket path: systemd notifications are off", address)
            self._address = ""

    @classmethod
    def from_environment(cls, env: MutableMapping[str, str] | None = None, unset: bool = True) -> Notifier:
        """Read (and by default remove, so child processes cannot speak for us) the systemd variables."""
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        usec = _watchdog_usec(env)
        if unset:
            for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                env.pop(name, None)
        return cls(address, usec)

    @property
    def enabled(self) -> bool:
        return bool(self._address)

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd (Type=notify-reload) match this message to the reload it asked for.
        self.send(RELOADING="1", STATUS="reloading the configuration",
                  MONOTONIC_USEC=str(time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000))

    def stopping(self, status: str) -> None:
        self.send(STOPPING="1", STATUS=status)

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    def send(self, **fields: str) -> None:
        """One datagram; a failure is logged once and never raised (notifications must not stop the daemon)."""
        if not self._address:
            return
        message = "\n".join(f"{key}={value.replace(chr(10), ' ')}" for key, value in fields.items()).encode()
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.sendto(message, self._address)
            except OSError as exc:
                if not self._warned:
                    log.warning("cannot notify systemd at %s: %s", self._address.replace("\0", "@"), exc.strerror)
                    self._warned = True

    def close(self) -> None:
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def _watchdog_usec(env: Mapping[str, str]) -> int:
    """WATCHDOG_USEC, unless WATCHDOG_PID names another process (the watchdog is then not ours)."""
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return 0
    try:
        return max(0, int(env.get("WATCHDOG_USEC", "0")))
    except ValueError:
        return 0
