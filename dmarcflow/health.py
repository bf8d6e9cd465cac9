"""The daemon's health and metrics: counters shared by the mailbox workers, served over HTTP.

`/healthz` answers 200 "ok" or 503 with one line per problem; `/metrics` is the Prometheus text format
(rendered by dmarcflow.metrics with prometheus_client). The server is stdlib http.server in a daemon
thread: a scrape never touches IMAP or takes a store lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dmarcflow.fetch import Filed

JOIN_TIMEOUT = 5.0

COUNTERS = {
    "messages_seen": "Messages read from the reports folder",
    "reports_stored": "Reports newly stored (ingested or conflict)",
    "duplicates": "Reports already in the store",
    "conflicts": "Reports stored as a conflicting second version",
    "rejected": "Messages filed as invalid",
    "reconnects": "Connection attempts after a failure",
}


@dataclass
class MailboxHealth:
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    last_poll: float | None = None  # wall-clock time of the last pass that completed
    error: str = ""  # the last failure, cleared by the next completed pass


class HealthState:
    """Thread-safe counters per mailbox, plus what /healthz needs to judge."""

    def __init__(self, store_path: Path, max_age: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store_path = store_path
        self.fixed_max_age = max_age  # None: follow the mailboxes' poll intervals (see watch)
        self.max_age = max_age or 0.0
        self._clock = clock
        self._lock = threading.Lock()
        self._boxes: dict[str, MailboxHealth] = {}
        self._store_error = ""
        self._watched: list[str] = []
        self._started = clock()

    def watch(self, names: list[str], longest_wait: float) -> None:
        """Track exactly these mailboxes (after a reload some may be gone); counters of the others are kept.

        longest_wait: the longest a healthy worker waits between two passes; unless a fixed limit was
        given, a poll is too old after twice that plus a minute (time for a slow pass and one reconnect).
        """
        with self._lock:
            for name in names:
                self._boxes.setdefault(name, MailboxHealth())
            self._watched = list(names)
            self.max_age = self.fixed_max_age or 2 * longest_wait + 60
            self._started = self._clock()

    def filed(self, item: Filed) -> None:
        o = item.outcome
        with self._lock:
            c = self._box(item.mailbox).counters
            c["messages_seen"] += 1
            for payload in o.payloads:
                if payload.status in ("ingested", "conflict"):
                    c["reports_stored"] += 1
                if payload.status == "duplicate":
                    c["duplicates"] += 1
                if payload.status == "conflict":
                    c["conflicts"] += 1
            if o.reports == 0:
                c["rejected"] += 1

    def polled(self, mailbox: str) -> None:
        with self._lock:
            box = self._box(mailbox)
            box.last_poll = self._clock()
            box.error = ""
            self._store_error = ""

    def failed(self, mailbox: str, error: str, store: bool = False) -> None:
        with self._lock:
            self._box(mailbox).error = error
            if store:
                self._store_error = error

    def reconnecting(self, mailbox: str) -> None:
        with self._lock:
            self._box(mailbox).counters["reconnects"] += 1

    def _box(self, name: str) -> MailboxHealth:
        return self._boxes.setdefault(name, MailboxHealth())

    def problems(self) -> list[str]:
        now = self._clock()
        with self._lock:
            found = [f"store not writable: {self._store_error}"] if self._store_error else []
            for name in self._watched:
                box = self._boxes[name]
                since = box.last_poll if box.last_poll is not None else self._started
                if now - since > self.max_age:
                    what = "no successful poll yet" if box.last_poll is None else "last successful poll"
                    why = f"; last error: {box.error}" if box.error else ""
                    found.append(f"mailbox {name}: {what} {now - since:.0f} s ago (limit {self.max_age:.0f} s){why}")
        found.extend(store_problems(self.store_path))
        return found

    def snapshot(self) -> dict[str, MailboxHealth]:
        """A copy of every mailbox's counters and last poll, for /metrics."""
        with self._lock:
            return {name: replace(box, counters=dict(box.counters)) for name, box in self._boxes.items()}


def store_problems(path: Path) -> list[str]:
    """Cheap checks that never take the store's lock: the file and its folder must be writable."""
    if not path.exists():
        return [f"store not writable: {path} does not exist"]
    for target in (path, path.parent):
        if not os.access(target, os.W_OK):
            return [f"store not writable: no write permission on {target}"]
    return []


METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class HealthServer:
    """Serves /healthz and /metrics on (host, port) from a background thread.

    metrics: renders the Prometheus text (dmarcflow.metrics.render); None: /metrics answers 404.
    """

    def __init__(self, state: HealthState, host: str, port: int, metrics: Callable[[], bytes] | None = None) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(state, metrics))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="dmarcflow-http", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=JOIN_TIMEOUT)


def _handler(state: HealthState, metrics: Callable[[], bytes] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                problems = state.problems()
                body = "\n".join(problems) if problems else "ok"
                self._send(503 if problems else 200, body + "\n", "text/plain; charset=utf-8")
            elif path == "/metrics" and metrics is not None:
                self._send(200, metrics().decode(), METRICS_CONTENT_TYPE)
            else:
                self._send(404, "not found: try /healthz or /metrics\n", "text/plain; charset=utf-8")

        def _send(self, status: int, text: str, content_type: str) -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # scrapes every few seconds would drown the daemon's own log

    return Handler


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:PORT) for --http."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, e.g. 127.0.0.1:9108, not {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)
