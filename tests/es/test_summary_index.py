"""`summary` answered from the index equals `summary` answered from SQLite, and the es CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from dmarcflow.analysis import summarise
from dmarcflow.config import ApprovedSenders, ElasticsearchSettings
from dmarcflow.index import elastic
from dmarcflow.index.query import summarise_from_index

APPROVED = {"example.com": ApprovedSenders(networks=("0.0.0.0/1",))}


@pytest.fixture
def synced(es_client, es_settings, seeded_store):
    elastic.setup(es_client, es_settings)
    result = elastic.Syncer(es_client, seeded_store, es_settings).run_once()
    assert result.complete
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")
    return seeded_store


@pytest.mark.parametrize(("domains", "since", "until", "view", "top", "approved"), [
    ((), None, None, "ip", 0, {}),
    ((), None, None, "sender", 5, APPROVED),
    (("example.org", "Example.COM."), date(2026, 3, 20), date(2026, 4, 5), "ip", 10, {}),
    (("example.net",), date(2026, 4, 1), None, "sender", 0, APPROVED),
    (("nothing.example",), None, None, "ip", 10, {}),
])
def test_summary_from_index_equals_summary_from_sqlite(synced, es_client, es_settings, domains, since, until,
                                                       view, top, approved) -> None:
    from_sqlite = [s.as_dict() for s in summarise(synced, domains, since, until, approved, view=view, top=top)]
    from_index = [s.as_dict() for s in summarise_from_index(es_client, es_settings, domains, since, until, approved,
                                                            view=view, top=top)]
    assert from_index == from_sqlite
    if domains != ("nothing.example",):
        assert from_index and all(d["messages"] > 0 for d in from_index)


def test_summary_from_an_empty_cluster_is_empty(es_client, es_settings) -> None:
    assert summarise_from_index(es_client, es_settings) == []
    assert summarise_from_index(es_client, es_settings, ["example.com"]) == []


def test_conflicting_versions_are_indexed_but_not_counted(synced, es_client, es_settings) -> None:
    index = f"{es_settings.index_prefix}-*"
    conflict = es_client.count(index=index, query={"term": {"dmarc.report.status": "conflict"}})["count"]
    assert conflict == 24
    total = sum(s.messages for s in summarise_from_index(es_client, es_settings))
    assert total == synced.conn.execute("SELECT sum(messages) FROM daily_sources").fetchone()[0]


def _config(tmp_path: Path, settings: ElasticsearchSettings) -> Path:
    path = tmp_path / "dmarcflow.toml"
    path.write_text(
        f'[elasticsearch]\nurl = "{settings.url}"\nindex_prefix = "{settings.index_prefix}"\nreplicas = 0\n'
        "batch_size = 250\nmax_retries = 0\n"
    )
    return path


def test_cli_setup_sync_status(cli, tmp_path, es_client, es_settings, seeded_store) -> None:
    config, db = _config(tmp_path, es_settings), seeded_store.path
    target = elastic.target_of(es_settings)
    setup = cli("--config", config, "--db", db, "es", "setup", "--format", "json")
    assert setup.exit_code == 0
    assert json.loads(setup.output)["index_pattern"] == f"{es_settings.index_prefix}-*"
    before = cli("--config", config, "--db", db, "es", "status", "--format", "json")
    assert json.loads(before.output) == {"target": target, "checkpoint": 0, "last_record_id": 624, "pending": 624,
                                         "failed": 0, "failures": []}
    partial = cli("--config", config, "--db", db, "es", "sync", "--max-records", "300", "--format", "json")
    assert partial.exit_code == 0
    assert {k: json.loads(partial.output)[k] for k in ("created", "checkpoint", "pending")} == {
        "created": 300, "checkpoint": 300, "pending": 324}
    rest = cli("--config", config, "--db", db, "es", "sync")
    assert rest.exit_code == 0
    assert rest.output == f"{target}: 324 created, 0 already indexed, 0 refused, 0 past retention; " \
                          "0 record(s) waiting, 0 parked\n"
    after = cli("--config", config, "--db", db, "es", "status")
    assert after.output.splitlines()[2].split() == [target, "624", "624", "0", "0"]
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")  # else within the 10 s refresh interval
    view = json.loads(cli("--config", config, "--db", db, "es", "status", "--cluster", "--format", "json").output)
    assert view["cluster"] == {"template_installed": True, "documents": 624, "indices": [
        f"{es_settings.index_prefix}-2026.03", f"{es_settings.index_prefix}-2026.04"]}
    text = cli("--config", config, "--db", db, "es", "status", "--cluster").output
    assert text.splitlines()[-1] == "cluster: template installed; 624 searchable document(s) in 2 index(es)"
    csv = cli("--config", config, "--db", db, "es", "status", "--format", "csv")
    assert csv.output == f"target,checkpoint,last_record,pending,parked\n{target},624,624,0,0\n"


def test_cli_sync_against_a_dead_cluster_fails_and_keeps_the_backlog(cli, tmp_path, seeded_store) -> None:
    settings = ElasticsearchSettings(url="http://127.0.0.1:9", index_prefix="down")
    result = cli("--config", _config(tmp_path, settings), "--db", seeded_store.path, "es", "sync")
    assert result.exit_code == 1
    assert "Error: http://127.0.0.1:9 unreachable (ConnectionError); records wait in the store" in result.output
    assert "624 record(s) waiting" in result.output


@pytest.mark.parametrize("command", ["setup", "sync", "status"])
def test_cli_without_url_is_a_configuration_error(cli, seeded_store, command: str) -> None:
    result = cli("--db", seeded_store.path, "es", command)
    assert result.exit_code == 2
    assert result.output == "Error: configuration: [elasticsearch] url is not set: indexing is off\n"


def test_cli_summary_backend_elasticsearch_prints_the_sqlite_json(cli, tmp_path, synced, es_settings) -> None:
    config, db = _config(tmp_path, es_settings), synced.path
    from_sqlite = cli("--config", config, "--db", db, "summary", "--top", "0", "--format", "json")
    from_index = cli("--config", config, "--db", db, "summary", "--top", "0", "--backend", "elasticsearch",
                     "--format", "json")
    assert (from_sqlite.exit_code, from_index.exit_code) == (0, 0)
    assert json.loads(from_index.stdout) == json.loads(from_sqlite.stdout)
    assert len(json.loads(from_index.stdout)["domains"]) == 3


def test_cli_summary_backend_elasticsearch_without_url_is_a_configuration_error(cli, seeded_store) -> None:
    result = cli("--db", seeded_store.path, "summary", "--backend", "elasticsearch")
    assert result.exit_code == 2
    assert result.stderr == "Error: configuration: --backend elasticsearch needs [elasticsearch] url " \
                            "(or DMARCFLOW_ELASTICSEARCH_URL)\n"
