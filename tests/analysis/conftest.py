"""Fixtures for the analysis tests: stores filled from datasets with a known truth."""

from __future__ import annotations

import json

import pytest

from benchmarks import generator as g
from dmarcflow.store import Store
from tests.support.analysis_data import ingest_dataset

MIXED = g.Options(reports=18, records_per_report=30, schema="mixed", quirks=True)


@pytest.fixture(scope="package", params=[5, 23], ids=lambda seed: f"seed{seed}")
def mixed(request, tmp_path_factory):
    """(dataset, db path): every source class, three policy domains, quirky reporters, 14 days."""
    dataset = g.generate_dataset(request.param, MIXED)
    path = tmp_path_factory.mktemp("mixed") / "store.sqlite"
    ingest_dataset(path, dataset)
    return dataset, path


@pytest.fixture
def open_store():
    opened = []

    def _open(path):
        opened.append(Store.open(path))
        return opened[-1]

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def run_json(cli):
    """Run the CLI and parse its stdout as JSON (asserting exit 0)."""

    def _run(*args):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    return _run
