"""Fixtures for the search-index tests: each real engine once per session, a seeded store, fresh prefixes.

Every test that uses an engine runs on both Elasticsearch and OpenSearch (``engine_name``,
parametrised per session: pytest runs all tests of one engine, stops its node, then starts the
other). Each test gets its own index prefix, so tests share the engine without seeing each other's
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
from dmarcflow.config import ElasticsearchSettings, EnrichmentSettings, IndexSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store
from tests.support.opensearch_client import EsStyleOpenSearch
from tests.support.search_engine import ENGINES, SearchEngine

SEED = 20260301
DATASET_OPTIONS = Options(reports=24, records_per_report=25, days=45, schema="mixed")
_prefixes = itertools.count(1)
# These drive the Elasticsearch-only names: `summary --backend elasticsearch` names its engine.
# (test_engines.py runs the same on OpenSearch through the engine-neutral names.)
ELASTICSEARCH_ONLY = {"test_cli_summary_backend_elasticsearch_prints_the_sqlite_json"}
# These check what happens when the Elasticsearch client meets an OpenSearch server.
OPENSEARCH_ONLY = {"test_the_elasticsearch_client_is_refused_by_opensearch_with_a_clear_error"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        name = metafunc.function.__name__
        engines = ["elasticsearch"] if name in ELASTICSEARCH_ONLY else ["opensearch"] if name in OPENSEARCH_ONLY \
            else list(ENGINES)
        metafunc.parametrize("engine_name", engines, scope="session")


@pytest.fixture(scope="session")
def es_engine(engine_name: str) -> Iterator[SearchEngine]:
    engine = SearchEngine(engine=engine_name)
    engine.start()
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture
def es_client(es_engine: SearchEngine) -> Iterator[Elasticsearch | EsStyleOpenSearch]:
    if es_engine.engine_name == "opensearch":
        client = EsStyleOpenSearch([es_engine.url], timeout=30)
        yield client
        client.close()
        return
    with Elasticsearch(es_engine.url, request_timeout=30) as client:
        yield client


@pytest.fixture
def es_settings(es_engine: SearchEngine, monkeypatch: pytest.MonkeyPatch) -> ElasticsearchSettings:
    """A unique prefix per test; no replicas (one node); quick retries so outages end a pass fast.

    On OpenSearch the settings name their engine, and so does the environment, for the CLI
    tests whose config files carry only the [elasticsearch] keys.
    """
    values = dict(url=es_engine.url, index_prefix=f"dmarcflow-t{next(_prefixes)}", replicas=0, batch_size=200,
                  max_retries=1)
    if es_engine.engine_name == "opensearch":
        monkeypatch.setenv("DMARCFLOW_INDEX_ENGINE", "opensearch")
        return IndexSettings(engine="opensearch", **values)
    return ElasticsearchSettings(**values)


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
