"""Fixtures for the analysis tests: stores filled from datasets with a known truth."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from benchmarks import generator as g
from benchmarks import make_samples
from dmarcflow.store import Store
from tests.conftest import SAMPLES
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


@pytest.fixture(scope="package")
def samples(tmp_path_factory):
    """(store path, truth): every sample report ingested offline; per domain, messages by (class, sender) and
    the receivers' dispositions of the unauthorised ones, from the generator's own records."""
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store import Store

    built, truth = make_samples.build()
    built = [s for s in built if not s.name.startswith("quirks/")]  # the ingest tests' quirk samples: not these figures
    volumes: dict[str, Counter] = defaultdict(Counter)
    impostors: dict[str, Counter] = defaultdict(Counter)
    for report in (r for s in built for r in s.reports):
        for record in report.records:
            t = truth[(record.source_ip, report.policy.domain)]
            volumes[report.policy.domain][(t.klass, t.sender)] += record.count
            if t.klass == "unauthorised":
                impostors[report.policy.domain][record.disposition] += record.count
    path = tmp_path_factory.mktemp("samples") / "store.sqlite"
    enricher = Enricher(EnrichmentSettings(offline=True))
    with Store.open(path) as store:
        ingestor = Ingestor(store, enricher, Limits())
        for name in sorted(s.name for s in built):
            assert {o.status for o in ingestor.ingest_file(str(SAMPLES / name))} == {"ingested"}
    enricher.close()
    return path, volumes, impostors
