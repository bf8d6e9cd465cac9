"""Fixtures shared by every test area: a real SQLite store in a temp folder, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "sample_reports"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """No test reads the developer's own config or store."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for name in ("DMARCFLOW_CONFIG", "DMARCFLOW_DB"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "store.sqlite"


@pytest.fixture
def store(db_path):
    with Store.open(db_path) as s:
        yield s


@pytest.fixture(scope="session")
def offline_enricher():
    enricher = Enricher(EnrichmentSettings(offline=True))
    yield enricher
    enricher.close()


@pytest.fixture
def ingestor(store, offline_enricher) -> Ingestor:
    return Ingestor(store, offline_enricher, Limits())


@pytest.fixture
def cli():
    from dmarcflow.cli import main

    runner = CliRunner()

    def run(*args: str, input: bytes | None = None):
        return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)

    return run
