"""``dmarcflow serve``: check the access rule and the store, then run the app under uvicorn."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import uvicorn

from dmarcflow.config import ApprovedSenders
from dmarcflow.store.readonly import open_readonly
from dmarcflow.web.app import create_app
from dmarcflow.web.security import Access

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn, but SIGTERM/SIGINT end it with exit code 0 after the graceful shutdown.

    uvicorn re-raises the signal once it has shut down, so the process would die of it (exit -15);
    ``serve`` promises the project's exit codes instead. A second signal forces the exit.
    """

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {s: signal.signal(s, self._on_signal) for s in signals}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


def serve(db: Path, approved: Mapping[str, ApprovedSenders], *, host: str, port: int, token_file: str,
          insecure_no_auth: bool) -> None:
    """Serve until SIGINT/SIGTERM. ConfigError for a network address without a token; StoreError for no store."""
    open_readonly(db).close()  # a missing or unmigrated store is reported now, not at the first request
    access = Access.for_bind(host, token_file, insecure_no_auth)
    if access.token is None and access.allowed_hosts is None:
        log.warning("serving %s:%s without authentication (--insecure-no-auth)", host, port)
    config = uvicorn.Config(create_app(db, approved, access), host=host, port=port, server_header=False,
                            proxy_headers=False, log_level="info")
    _Server(config).run()
