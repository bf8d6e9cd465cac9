"""Fixtures for the IMAP tests: a real Dovecot per test (installed on first use), a store path, a free port."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dovecot import DovecotServer, free_port
from tests.support.imap_mail import REPO, Folders


@pytest.fixture(scope="session")
def dovecot_installed() -> None:
    """The suite installs its own IMAP server (Debian dovecot-imapd) when it is missing."""
    if shutil.which("dovecot") is None:
        script = REPO / "scripts" / "install-system-deps.sh"
        done = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture
def dovecot(dovecot_installed: None) -> Iterator[DovecotServer]:
    with DovecotServer() as server:
        yield server


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def http_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def shared_dovecot(dovecot_installed: None) -> Iterator[DovecotServer]:
    """One server for a whole module: each test works in its own folders (see `folders`), because
    stopping Dovecot costs over a second per test."""
    with DovecotServer() as server:
        yield server


@pytest.fixture
def folders(request: pytest.FixtureRequest) -> Folders:
    return Folders("t" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10])
