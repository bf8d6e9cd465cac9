"""Against the real engine: template installed and used, typed documents, idempotent re-sync,
an outage in the middle of a sync, refused documents parked and retried, retention, rebuild."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

from elasticsearch import Elasticsearch

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.index import elastic, mapping, outbox
from dmarcflow.index.document import IndexRow
from dmarcflow.store import Store
from tests.support.search_engine import SearchEngine

TOTAL_RECORDS = 624  # 24 reports x 25 records + a conflicting version of 24 records


def _sync(client: Elasticsearch, store: Store, settings: ElasticsearchSettings, **kwargs) -> elastic.SyncResult:
    return elastic.Syncer(client, store, settings, initial_backoff=0.01, **kwargs).run_once()


def _indexed(client: Elasticsearch, settings: ElasticsearchSettings, query: dict | None = None) -> tuple[int, int]:
    """(documents, sum of dmarc.count) in the test's indices."""
    index = mapping.index_pattern(settings.index_prefix)
    client.indices.refresh(index=index)
    body = client.search(index=index, size=0, query=query or {"match_all": {}}, track_total_hits=True,
                         aggs={"m": {"sum": {"field": "dmarc.count"}}}).body
    return body["hits"]["total"]["value"], int(body["aggregations"]["m"]["value"])


def _stored(store: Store, status: str | None = None) -> tuple[int, int]:
    sql = "SELECT count(*), coalesce(sum(r.count), 0) FROM records r JOIN reports p ON p.id = r.report"
    if status:
        return store.conn.execute(sql + " WHERE p.status = ?", (status,)).fetchone()
    return store.conn.execute(sql).fetchone()


def test_setup_is_idempotent_and_new_indices_use_the_template(es_client, es_settings) -> None:
    first = elastic.setup(es_client, es_settings)
    again = elastic.setup(es_client, es_settings)
    assert first == again == elastic.SetupResult(
        es_settings.index_prefix, (f"{es_settings.index_prefix}-mappings", f"{es_settings.index_prefix}-settings"),
        f"{es_settings.index_prefix}-*")
    simulated = es_client.indices.simulate_index_template(name=f"{es_settings.index_prefix}-2026.03").body
    assert simulated["template"]["mappings"]["dynamic"] == "strict"
    assert simulated["template"]["mappings"]["properties"] == mapping.mappings()["properties"]
    assert simulated["template"]["settings"]["index"]["number_of_replicas"] == "0"


def test_sync_indexes_every_record_typed_as_mapped(es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    result = _sync(es_client, seeded_store, es_settings)
    assert (result.sent, result.created, result.existing, result.failures) == (TOTAL_RECORDS, TOTAL_RECORDS, 0, ())
    assert (result.checkpoint, result.pending, result.parked, result.complete) == (TOTAL_RECORDS, 0, 0, True)
    assert _indexed(es_client, es_settings) == tuple(_stored(seeded_store))
    active = {"term": {"dmarc.report.status": "active"}}
    assert _indexed(es_client, es_settings, active) == tuple(_stored(seeded_store, "active"))
    index = f"{es_settings.index_prefix}-2026.03"
    props = es_client.indices.get_mapping(index=index).body[index]["mappings"]["properties"]
    assert props["source"]["properties"]["ip"]["type"] == "ip"
    assert props["@timestamp"]["type"] == "date"
    assert props["dmarc"]["properties"]["count"]["type"] == "long"
    assert props["dmarc"]["properties"]["report"]["properties"]["id"]["type"] == "keyword"
    # Typed, not strings: a CIDR query on source.ip and a date range work.
    some_ip = seeded_store.conn.execute("SELECT source_ip FROM records WHERE id = 1").fetchone()[0]
    cidr = {"term": {"source.ip": some_ip.rsplit(".", 1)[0] + ".0/24"}}
    expected = seeded_store.conn.execute(
        "SELECT count(*) FROM records WHERE source_ip LIKE ?", (some_ip.rsplit(".", 1)[0] + ".%",)).fetchone()[0]
    assert _indexed(es_client, es_settings, cidr)[0] == expected


def test_resync_after_a_crash_creates_no_duplicates(es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    _sync(es_client, seeded_store, es_settings)
    # A crash after the cluster acknowledged but before the checkpoint was saved: the next
    # pass sends everything again; op_type create answers 409 for each.
    outbox.reset(seeded_store, elastic.target_of(es_settings))
    again = _sync(es_client, seeded_store, es_settings)
    assert (again.sent, again.created, again.existing, again.checkpoint) == (TOTAL_RECORDS, 0, TOTAL_RECORDS, TOTAL_RECORDS)
    assert _indexed(es_client, es_settings) == tuple(_stored(seeded_store))


class _OutageAfter(elastic.Syncer):
    """Kills the engine just before the n-th chunk is sent: an outage in the middle of a pass."""

    def __init__(self, *args, engine: SearchEngine, chunks: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.engine, self.chunks = engine, chunks

    def _deliver(self, actions: list[dict], by_id: dict[str, IndexRow], first_record: int):
        self.chunks -= 1
        if self.chunks == 0:
            self.engine.kill()
        return super()._deliver(actions, by_id, first_record)


def test_engine_stopped_mid_sync_then_started_drains_the_backlog_exactly(
        es_engine, es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    settings = replace(es_settings, batch_size=100)
    # One request in flight, so that exactly the first two chunks are acknowledged before the outage.
    outage = _OutageAfter(es_client, seeded_store, settings, engine=es_engine, chunks=3, initial_backoff=0.01,
                          concurrency=1)
    try:
        stopped = outage.run_once()
        assert stopped.error is not None and "unreachable" in stopped.error
        assert (stopped.created, stopped.checkpoint, stopped.pending) == (200, 200, TOTAL_RECORDS - 200)
        assert outbox.backlog(seeded_store, elastic.target_of(settings)).pending == TOTAL_RECORDS - 200
    finally:
        if not es_engine.is_running():
            es_engine.start()
    resumed = _sync(es_client, seeded_store, settings)
    assert (resumed.created, resumed.existing, resumed.pending, resumed.error) == (TOTAL_RECORDS - 200, 0, 0, None)
    assert _indexed(es_client, settings) == tuple(_stored(seeded_store))


def test_outage_with_concurrent_requests_loses_nothing_and_duplicates_nothing(
        es_engine, es_client, es_settings, seeded_store) -> None:
    """Two requests in flight when the node dies: whatever was acknowledged, the counts end exact."""
    elastic.setup(es_client, es_settings)
    settings = replace(es_settings, batch_size=50)
    outage = _OutageAfter(es_client, seeded_store, settings, engine=es_engine, chunks=5, initial_backoff=0.01,
                          concurrency=2)
    try:
        stopped = outage.run_once()
    finally:
        if not es_engine.is_running():
            es_engine.start()
    assert stopped.error is not None
    assert stopped.checkpoint == stopped.created == TOTAL_RECORDS - stopped.pending
    resumed = _sync(es_client, seeded_store, settings)
    # Chunks the node indexed after an earlier chunk failed come back as 409s, not as copies.
    assert resumed.created + resumed.existing == stopped.pending
    assert (resumed.pending, resumed.error) == (0, None)
    assert _indexed(es_client, settings) == tuple(_stored(seeded_store))


def test_unreachable_cluster_leaves_everything_waiting(seeded_store) -> None:
    settings = ElasticsearchSettings(url="http://127.0.0.1:9", index_prefix="down", max_retries=2, timeout=2)
    sleeps: list[float] = []
    with elastic.make_client(settings) as client:
        result = elastic.Syncer(client, seeded_store, settings, initial_backoff=0.5, sleep=sleeps.append).run_once()
    assert result.error == ("http://127.0.0.1:9 unreachable (ConnectionError); records wait in the store "
                            "and the next sync resumes from record 1")
    assert (result.sent, result.checkpoint, result.pending) == (0, 0, TOTAL_RECORDS)
    assert sleeps == [0.5, 1.0]  # exponential backoff between the attempts


def test_refused_documents_are_reported_parked_and_retried(es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    # A value the strict mapping cannot take (not an IP) makes the cluster refuse two documents.
    # (It has no IP facts either: a day later, the pass no longer waits for its enrichment.)
    seeded_store.conn.execute("UPDATE record_rows SET source_ip = 'not-an-ip' WHERE id IN (10, 20)")
    later = datetime.now(timezone.utc) + outbox.ENRICHMENT_GRACE * 2
    first = _sync(es_client, seeded_store, es_settings, now=lambda: later)
    assert [(f.record_id, f.status) for f in first.failures] == [(10, 400), (20, 400)]
    assert "source.ip" in first.failures[0].error
    assert (first.created, first.checkpoint, first.pending, first.parked) == (TOTAL_RECORDS - 2, TOTAL_RECORDS, 0, 2)
    assert [f.attempts for f in outbox.failures(seeded_store, elastic.target_of(es_settings))] == [1, 1]
    # Fixed in the store (e.g. by reprocess): the next pass sends them and clears the list.
    seeded_store.conn.execute("UPDATE record_rows SET source_ip = '192.0.2.1' WHERE id IN (10, 20)")
    second = _sync(es_client, seeded_store, es_settings, now=lambda: later)
    assert (second.created, second.failures, second.parked, second.complete) == (2, (), 0, True)
    assert _indexed(es_client, es_settings) == tuple(_stored(seeded_store))


def test_retention_skips_old_records_and_prunes_old_indices(es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    _sync(es_client, seeded_store, es_settings)
    # The dataset spans March and April 2026; on 2026-05-20 a 40-day retention keeps April only.
    now = datetime(2026, 5, 20, tzinfo=timezone.utc)
    settings = replace(es_settings, retention_days=40)
    pruned = elastic.prune(es_client, settings, now)
    assert pruned == [f"{es_settings.index_prefix}-2026.03"]
    april = seeded_store.conn.execute(
        "SELECT count(*) FROM records r JOIN reports p ON p.id = r.report WHERE p.begin_ts >= 1775001600").fetchone()[0]
    assert _indexed(es_client, settings)[0] == april
    outbox.reset(seeded_store, elastic.target_of(settings))
    resent = _sync(es_client, seeded_store, settings, now=lambda: now)
    assert (resent.skipped, resent.existing, resent.created) == (TOTAL_RECORDS - april, april, 0)
    assert list(es_client.indices.get(index=mapping.index_pattern(settings.index_prefix))) == [
        f"{es_settings.index_prefix}-2026.04"]


def test_rebuild_deletes_our_indices_and_resends(es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    _sync(es_client, seeded_store, es_settings)
    deleted = elastic.rebuild(es_client, seeded_store, es_settings)
    assert deleted == [f"{es_settings.index_prefix}-2026.03", f"{es_settings.index_prefix}-2026.04"]
    assert outbox.checkpoint(seeded_store, elastic.target_of(es_settings)) == 0
    again = _sync(es_client, seeded_store, es_settings)
    assert (again.created, again.existing) == (TOTAL_RECORDS, 0)


def test_daemon_hook_syncs_after_a_pass_and_is_off_without_url(es_client, es_settings, seeded_store) -> None:
    from dmarcflow.config import Settings, StoreSettings

    assert elastic.after_pass_hook(Settings()) is None
    elastic.setup(es_client, es_settings)
    settings = Settings(store=StoreSettings(path=str(seeded_store.path)), elasticsearch=es_settings)
    hook = elastic.after_pass_hook(settings)
    hook()
    assert outbox.backlog(seeded_store, elastic.target_of(es_settings)).pending == 0
    assert _indexed(es_client, es_settings) == tuple(_stored(seeded_store))


def test_credentials_in_the_url_never_reach_messages(seeded_store) -> None:
    settings = ElasticsearchSettings(url="http://elastic:s3cret@127.0.0.1:9", index_prefix="down", max_retries=0)
    with elastic.make_client(settings) as client:
        result = elastic.Syncer(client, seeded_store, settings, sleep=lambda s: None).run_once()
    assert result.error.startswith("http://127.0.0.1:9 unreachable (ConnectionError)")
    assert result.target == "127.0.0.1:9/down"


def test_two_daemons_with_their_own_stores_feed_one_cluster_without_duplicates(
        es_client, es_settings, seeded_store, dataset, tmp_path) -> None:
    from tests.es.conftest import ingest_dataset

    elastic.setup(es_client, es_settings)
    other = tmp_path / "second-daemon.sqlite"
    ingest_dataset(other, dataset)
    with Store.open(other) as second:
        first_pass = _sync(es_client, seeded_store, es_settings)
        second_pass = _sync(es_client, second, es_settings)
    assert (first_pass.created, first_pass.existing) == (TOTAL_RECORDS, 0)
    assert (second_pass.created, second_pass.existing) == (0, TOTAL_RECORDS)
    assert _indexed(es_client, es_settings) == tuple(_stored(seeded_store))


def test_sync_without_setup_installs_the_template_first(es_client, es_settings, seeded_store) -> None:
    """A write must never create an index without the template: it would be mapped dynamically."""
    assert not es_client.indices.exists_index_template(name=es_settings.index_prefix)
    assert _sync(es_client, seeded_store, es_settings).created == TOTAL_RECORDS
    assert es_client.indices.exists_index_template(name=es_settings.index_prefix)
    index = f"{es_settings.index_prefix}-2026.04"
    props = es_client.indices.get_mapping(index=index).body[index]["mappings"]
    assert (props["dynamic"], props["properties"]["source"]["properties"]["ip"]["type"]) == ("strict", "ip")
