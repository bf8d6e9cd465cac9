"""TLS and failure reports in the real engines: their own index families, strict templates, the same outbox.

Runs on Elasticsearch and OpenSearch (``engine_name``). The store is the seeded aggregate store plus
every TLS and failure sample, so the aggregate side is checked to stay exactly as it was.
"""

from __future__ import annotations

import json

import pytest

from dmarcflow.config import IndexSettings
from dmarcflow.index import outbox, retention, templates
from dmarcflow.index.engines import connect
from dmarcflow.index.feed import feeds
from dmarcflow.index.sync import sync_all, target_of
from tests.kinds.conftest import FAILURE_FILES, TLS_FILES, store_failure_sample, store_tls_sample

AGGREGATE_RECORDS = 624
TLS_DOCUMENTS = 14 + 12  # one per policy, one per failure detail
FAILURE_DOCUMENTS = 4


@pytest.fixture
def kinds_seeded(seeded_store):
    for name in TLS_FILES:
        store_tls_sample(seeded_store, name)
    for name in FAILURE_FILES:
        store_failure_sample(seeded_store, name)
    return seeded_store


@pytest.fixture
def client(es_settings, es_engine):
    """The engine-neutral client for the node under test (its adapter, as the CLI gets it)."""
    fields = {k: getattr(es_settings, k) for k in ("url", "index_prefix", "replicas", "batch_size", "max_retries")}
    c = connect(IndexSettings(engine=es_engine.engine_name, **fields))
    yield c
    c.close()


def _refresh(es_client, prefix: str) -> None:
    es_client.indices.refresh(index=f"{prefix}-*")


def _search(es_client, index: str, body: dict) -> dict:
    return dict(es_client.search(index=index, body=body))


def test_every_kind_is_indexed_once_in_its_own_family(client, es_client, es_settings, kinds_seeded) -> None:
    results = sync_all(client, kinds_seeded, es_settings)
    assert [(r.target.rpartition("#")[2] if "#" in r.target else "aggregate", r.created, r.pending, r.parked, r.error)
            for r in results] == [("aggregate", AGGREGATE_RECORDS, 0, 0, None), ("tls", TLS_DOCUMENTS, 0, 0, None),
                                  ("failure", FAILURE_DOCUMENTS, 0, 0, None)]
    again = sync_all(client, kinds_seeded, es_settings)
    assert [(r.created, r.sent) for r in again] == [(0, 0)] * 3
    prefix = es_settings.index_prefix
    _refresh(es_client, prefix)
    indices = sorted(es_client.indices.get(index=f"{prefix}-*").keys())
    assert indices == [f"{prefix}-2026.03", f"{prefix}-2026.04", f"{prefix}-failure-2026.03", f"{prefix}-tls-2026.03"]
    sums = _search(es_client, f"{prefix}-tls-*", {"size": 0, "aggs": {
        "ok": {"sum": {"field": "tlsrpt.sessions.successful"}}, "failed": {"sum": {"field": "tlsrpt.failure.sessions"}},
        "types": {"terms": {"field": "tlsrpt.failure.result_type", "size": 20}}}})["aggregations"]
    assert (sums["ok"]["value"], sums["failed"]["value"]) == (15551, 113)
    assert {b["key"]: b["doc_count"] for b in sums["types"]["buckets"]} == {
        "certificate-expired": 5, "certificate-host-mismatch": 2, "starttls-not-supported": 3, "validation-failure": 2}
    failures = _search(es_client, f"{prefix}-failure-*", {"size": 10, "sort": [{"@timestamp": "asc"}],
                                                         "query": {"term": {"source.ip": "203.0.113.0/24"}}})
    assert [h["_source"]["source"]["ip"] for h in failures["hits"]["hits"]] == ["203.0.113.66", "203.0.113.99"]
    # the aggregate family is untouched: exactly its records, nothing else
    assert es_client.count(index=f"{prefix}-2026.*")["count"] == AGGREGATE_RECORDS


def test_templates_are_strict_and_typed(client, es_client, es_settings, kinds_seeded) -> None:
    templates.setup(client, es_settings)
    sync_all(client, kinds_seeded, es_settings)
    prefix = es_settings.index_prefix
    mapping = es_client.indices.get_mapping(index=f"{prefix}-tls-2026.03")[f"{prefix}-tls-2026.03"]["mappings"]
    props = mapping["properties"]
    assert mapping["dynamic"] == "strict"
    assert (props["source"]["properties"]["ip"]["type"], props["destination"]["properties"]["domain"]["type"],
            props["destination"]["properties"]["ip"]["type"], props["tls"]["properties"]["established"]["type"]) == (
        "ip", "keyword", "ip", "boolean")
    failure = es_client.indices.get_mapping(index=f"{prefix}-failure-2026.03")[f"{prefix}-failure-2026.03"]["mappings"]
    assert failure["dynamic"] == "strict"
    assert failure["properties"]["email"]["properties"]["from"]["properties"]["address"]["type"] == "keyword"
    [(ok, item)] = client.bulk([{"_op_type": "create", "_index": f"{prefix}-tls-2026.03", "_id": "x",
                                 "_source": {"tlsrpt": {"surprise": 1}}}])
    assert (ok, item["create"]["status"], item["create"]["error"]["type"]) == (
        False, 400, "strict_dynamic_mapping_exception")


def test_a_crash_before_the_checkpoint_resends_without_duplicates(client, es_client, es_settings, kinds_seeded) -> None:
    sync_all(client, kinds_seeded, es_settings)
    base = target_of(es_settings)
    with kinds_seeded.transaction():
        for feed in feeds()[1:]:
            kinds_seeded.conn.execute("DELETE FROM index_checkpoint WHERE target = ?", (feed.target(base),))
    again = sync_all(client, kinds_seeded, es_settings)
    assert [(r.created, r.existing) for r in again[1:]] == [(0, TLS_DOCUMENTS), (0, FAILURE_DOCUMENTS)]
    _refresh(es_client, es_settings.index_prefix)
    assert es_client.count(index=f"{es_settings.index_prefix}-tls-*")["count"] == TLS_DOCUMENTS
    assert es_client.count(index=f"{es_settings.index_prefix}-failure-*")["count"] == FAILURE_DOCUMENTS


def test_rebuild_and_status_cover_every_kind(cli, tmp_path, client, es_client, es_settings, kinds_seeded) -> None:
    from tests.es.test_summary_index import _config

    config, db = _config(tmp_path, es_settings), kinds_seeded.path
    first = cli("--config", config, "--db", db, "es", "sync", "--format", "json")
    assert first.exit_code == 0
    data = json.loads(first.output)
    assert (data["created"], {k: v["created"] for k, v in data["kinds"].items()}) == (
        AGGREGATE_RECORDS, {"tls": TLS_DOCUMENTS, "failure": FAILURE_DOCUMENTS})
    status = json.loads(cli("--config", config, "--db", db, "es", "status", "--format", "json").output)
    assert {k: (v["last_record_id"], v["pending"]) for k, v in status["kinds"].items()} == {
        "tls": (14, 0), "failure": (4, 0)}
    _refresh(es_client, es_settings.index_prefix)
    text = cli("--config", config, "--db", db, "es", "status", "--cluster").output.splitlines()
    assert text[-3:] == ["cluster: tls reports: 26 searchable document(s) in 1 index(es)",
                         "cluster: failure reports: 4 searchable document(s) in 1 index(es)",
                         f"cluster: template installed; {AGGREGATE_RECORDS} searchable document(s) in 2 index(es)"]
    deleted = retention.rebuild(client, kinds_seeded, es_settings)
    prefix = es_settings.index_prefix
    assert deleted == [f"{prefix}-2026.03", f"{prefix}-2026.04", f"{prefix}-failure-2026.03", f"{prefix}-tls-2026.03"]
    base = target_of(es_settings)
    assert [outbox.checkpoint(kinds_seeded, f.target(base)) for f in feeds()] == [0, 0, 0]


def test_the_aggregate_summary_from_the_index_is_unchanged(cli, tmp_path, es_client, es_settings, kinds_seeded) -> None:
    from tests.es.test_summary_index import _config

    config, db = _config(tmp_path, es_settings), kinds_seeded.path
    assert cli("--config", config, "--db", db, "es", "sync").exit_code == 0
    _refresh(es_client, es_settings.index_prefix)
    from_sqlite = json.loads(cli("--config", config, "--db", db, "summary", "--top", "0", "--format", "json").stdout)
    from_index = cli("--config", config, "--db", db, "summary", "--top", "0", "--backend", "index", "--format", "json")
    assert json.loads(from_index.stdout) == from_sqlite
