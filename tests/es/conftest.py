"""Fixtures for the search-index tests: one real engine per session, a seeded store, fresh prefixes.

Each test gets its own index prefix, so tests share the engine without seeing each other's
documents; each test also gets its own copy of the seeded store (checkpoints are written there).
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from benchmarks.generator import Options, generate_dataset, render_xml
from dmarcflow.config import ElasticsearchSettings, EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.search_engine import SearchEngine

SEED = 20260301
DATASET_OPTIONS = Options(reports=24, records_per_report=25, days=45, schema="mixed")
_prefixes = itertools.count(1)


@pytest.fixture(scope="session")
def es_engine() -> Iterator[SearchEngine]:
    engine = SearchEngine()
    engine.start()
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def es_client(es_engine: SearchEngine) -> Iterator[Elasticsearch]:
    with Elasticsearch(es_engine.url, request_timeout=30) as client:
        yield client


@pytest.fixture
def es_settings(es_engine: SearchEngine) -> ElasticsearchSettings:
    """A unique prefix per test; no replicas (one node); quick retries so outages end a pass fast."""
    return ElasticsearchSettings(
        url=es_engine.url, index_prefix=f"dmarcflow-t{next(_prefixes)}", replicas=0, batch_size=200, max_retries=1,
    )


@pytest.fixture(scope="session")
def dataset():
    return generate_dataset(SEED, DATASET_OPTIONS)


def ingest_dataset(path: Path, dataset) -> None:
    """Store every report, plus one conflicting second version of the first report (one record fewer)."""
    enricher = Enricher(EnrichmentSettings(offline=True))
    try:
        with Store.open(path) as store:
            ingestor = Ingestor(store, enricher, Limits())
            for n, report in enumerate(dataset.reports):
                outcome = ingestor.ingest_bytes(f"report-{n}.xml", render_xml(report))
                assert outcome.status == "ingested", outcome.as_dict()
            first = dataset.reports[0]
            conflict = ingestor.ingest_bytes("conflict.xml", render_xml(replace(first, records=first.records[:-1])))
            assert conflict.status == "conflict", conflict.as_dict()
    finally:
        enricher.close()


@pytest.fixture(scope="session")
def seeded_store_file(tmp_path_factory, dataset) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "seeded.sqlite"
    ingest_dataset(path, dataset)
    return path


@pytest.fixture
def seeded_store(seeded_store_file: Path, tmp_path: Path) -> Iterator[Store]:
    copy = tmp_path / "store.sqlite"
    shutil.copyfile(seeded_store_file, copy)
    with Store.open(copy) as store:
        yield store
