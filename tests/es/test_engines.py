"""The engine seam on both engines: `index` commands and their `es` aliases, `summary --backend`,
the client adapters, the daemon hook registration, and the [index] / [elasticsearch] settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmarcflow.config import ElasticsearchSettings, IndexSettings, Settings, StoreSettings, load_settings
from dmarcflow.errors import ConfigError
from dmarcflow.index import outbox
from dmarcflow.index.engines import connect
from dmarcflow.index.sync import target_of

TOTAL_RECORDS = 624


def _index_config(tmp_path: Path, settings: ElasticsearchSettings, engine: str) -> Path:
    path = tmp_path / "index.toml"
    path.write_text(f'[index]\nengine = "{engine}"\nurl = "{settings.url}"\nindex_prefix = "{settings.index_prefix}"\n'
                    "replicas = 0\nbatch_size = 250\nmax_retries = 0\n")
    return path


@pytest.fixture
def index_config(tmp_path, es_engine, es_settings, monkeypatch) -> Path:
    monkeypatch.delenv("DMARCFLOW_INDEX_ENGINE", raising=False)  # the file says it
    return _index_config(tmp_path, es_settings, es_engine.engine_name)


def test_index_commands_and_their_es_aliases_print_the_same(cli, index_config, es_settings, es_client,
                                                              seeded_store) -> None:
    base = ("--config", index_config, "--db", seeded_store.path)
    setups = [cli(*base, group, "setup", "--format", "json") for group in ("index", "es")]
    assert [r.exit_code for r in setups] == [0, 0]
    assert json.loads(setups[0].output) == json.loads(setups[1].output) == {
        "index_template": es_settings.index_prefix, "index_pattern": f"{es_settings.index_prefix}-*",
        "component_templates": [f"{es_settings.index_prefix}-mappings", f"{es_settings.index_prefix}-settings"]}
    first = cli(*base, "index", "sync", "--max-records", "250", "--format", "json")
    assert (first.exit_code, json.loads(first.output)["created"], json.loads(first.output)["pending"]) == (0, 250, 374)
    statuses = [cli(*base, group, "status") for group in ("index", "es")]
    assert statuses[0].output == statuses[1].output
    assert statuses[0].output.splitlines()[2].split() == [target_of(es_settings), "250", "624", "374", "0"]
    rest = cli(*base, "es", "sync")
    assert (rest.exit_code, rest.output) == (0, f"{target_of(es_settings)}: 374 created, 0 already indexed, 0 refused, "
                                                "0 past retention; 0 record(s) waiting, 0 parked\n")
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")
    views = [json.loads(cli(*base, group, "status", "--cluster", "--format", "json").output)
             for group in ("index", "es")]
    assert views[0] == views[1]
    assert views[0]["cluster"] == {"template_installed": True, "documents": TOTAL_RECORDS, "indices": [
        f"{es_settings.index_prefix}-2026.03", f"{es_settings.index_prefix}-2026.04"]}


def test_summary_backend_index_and_the_engine_name_print_the_sqlite_json(cli, index_config, es_engine, es_client,
                                                                          es_settings, seeded_store) -> None:
    base = ("--config", index_config, "--db", seeded_store.path)
    assert cli(*base, "index", "sync").exit_code == 0
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")
    from_sqlite = json.loads(cli(*base, "summary", "--top", "0", "--format", "json").stdout)
    assert len(from_sqlite["domains"]) == 3
    for backend in ("index", es_engine.engine_name):
        answer = cli(*base, "summary", "--top", "0", "--backend", backend, "--format", "json")
        assert (answer.exit_code, json.loads(answer.stdout)) == (0, from_sqlite)
    other = "opensearch" if es_engine.engine_name == "elasticsearch" else "elasticsearch"
    wrong = cli(*base, "summary", "--backend", other)
    assert wrong.exit_code == 2
    assert f"--backend {other}, but [index] engine is {es_engine.engine_name}: use --backend " \
           f"{es_engine.engine_name} (or --backend index)" in wrong.stderr


@pytest.mark.parametrize(("backend", "message"), [
    ("index", "--backend index needs [index] url (or DMARCFLOW_INDEX_URL)"),
    ("opensearch", "--backend opensearch needs [index] url (or DMARCFLOW_INDEX_URL)"),
])
def test_summary_from_the_index_without_url_is_a_configuration_error(cli, seeded_store, backend, message) -> None:
    result = cli("--db", seeded_store.path, "summary", "--backend", backend)
    assert (result.exit_code, result.stderr) == (2, f"Error: configuration: {message}\n")


@pytest.mark.parametrize("command", ["setup", "sync", "status"])
def test_index_commands_without_url_name_the_index_section(cli, seeded_store, command: str) -> None:
    result = cli("--db", seeded_store.path, "index", command)
    assert (result.exit_code, result.output) == (2, "Error: configuration: [index] url is not set: indexing is off\n")


def test_each_adapter_talks_to_its_engine(es_engine, es_settings) -> None:
    client = connect(IndexSettings(engine=es_engine.engine_name, url=es_settings.url, index_prefix="x"))
    try:
        info = client.info()
        assert (client.engine, info.engine, info.version) == (es_engine.engine_name, es_engine.engine_name,
                                                              es_engine.version)
        assert (client.list_indices("nothing-here-*"), client.count("nothing-here-*")) == ([], 0)
        assert client.has_index_template("nothing-here") is False
    finally:
        client.close()


def test_the_elasticsearch_client_is_refused_by_opensearch_with_a_clear_error(es_engine) -> None:
    """engine = "elasticsearch" pointed at an OpenSearch node: one clear line, not a traceback."""
    from dmarcflow.errors import IndexingError
    from dmarcflow.index import templates

    client = connect(IndexSettings(engine="elasticsearch", url=es_engine.url, index_prefix="wrong"))
    with pytest.raises(IndexingError) as info:
        templates.setup(client, IndexSettings(url=es_engine.url, index_prefix="wrong"))
    assert str(info.value) == (
        f"cannot install the index templates on {es_engine.url} (run `dmarcflow es setup` as a user with "
        "manage_index_templates): HTTP 406: the server refused the Elasticsearch client: if it is OpenSearch, "
        'set [index] engine = "opensearch"')
    client.close()


def test_the_daemon_runs_the_hook_the_index_feature_registers(es_client, es_settings, seeded_store) -> None:
    from dmarcflow import daemon
    from dmarcflow.index import hook

    assert hook.after_pass_hook in daemon.registered_hooks()
    assert daemon.HOOK_FACTORIES[:len(daemon.registered_hooks())] == daemon.registered_hooks()
    assert hook.after_pass_hook(Settings()) is None
    settings = Settings(store=StoreSettings(path=str(seeded_store.path)), elasticsearch=es_settings)
    sync_after_pass = hook.after_pass_hook(settings)
    assert sync_after_pass is not None
    sync_after_pass()
    assert outbox.backlog(seeded_store, target_of(es_settings)).pending == 0


# ------------------------------------------------------------------------------ settings


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dmarcflow.toml"
    path.write_text(text)
    return path


def test_index_section_and_its_deprecated_alias_merge_key_by_key(tmp_path) -> None:
    path = _write(tmp_path, '[index]\nengine = "opensearch"\nurl = "https://os.example:9200"\n'
                            '[elasticsearch]\nusername = "dmarc"\nreplicas = 0\n')
    s = load_settings(path, env={"DMARCFLOW_ELASTICSEARCH_PASSWORD": "pw", "DMARCFLOW_INDEX_INDEX_PREFIX": "mail"})
    assert s.index == IndexSettings(engine="opensearch", url="https://os.example:9200", username="dmarc",
                                    password="pw", replicas=0, index_prefix="mail")
    assert s.elasticsearch == ElasticsearchSettings(username="dmarc", password="pw", replicas=0)
    assert "pw" not in repr(s)


def test_the_alias_alone_configures_elasticsearch_as_before(tmp_path) -> None:
    s = load_settings(_write(tmp_path, '[elasticsearch]\nurl = "http://es:9200"\n'), env={})
    assert (s.index.engine, s.index.url) == ("elasticsearch", "http://es:9200")
    assert load_settings(env={"DMARCFLOW_ELASTICSEARCH_URL": "http://e:9200"}).index.url == "http://e:9200"
    assert load_settings(env={}).index == IndexSettings()


@pytest.mark.parametrize(("text", "env", "message"), [
    ('[index]\nurl = "http://a:9200"\n[elasticsearch]\nurl = "http://b:9200"\n', {},
     "[index] url and [elasticsearch] url differ: [elasticsearch] is the deprecated name of [index]; "
     "set the key in [index] only"),
    ('[index]\nreplicas = 1\n', {"DMARCFLOW_ELASTICSEARCH_REPLICAS": "0"},
     "[index] replicas and [elasticsearch] replicas differ"),
    ('[index]\nengine = "solr"\n', {}, "[index] engine must be elasticsearch or opensearch, not 'solr'"),
    ('[elasticsearch]\nengine = "opensearch"\n', {}, "[elasticsearch] unknown key(s): engine"),
    ('', {"DMARCFLOW_INDEX_ENGINE": "OpenSearch"}, "[index] engine must be elasticsearch or opensearch"),
])
def test_index_settings_errors_say_what_to_fix(tmp_path, text, env, message) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_write(tmp_path, text), env=env)
    assert message in str(info.value)


def test_same_value_in_both_sections_is_fine(tmp_path) -> None:
    path = _write(tmp_path, '[index]\nurl = "http://a:9200"\n[elasticsearch]\nurl = "http://a:9200"\n')
    assert load_settings(path, env={}).index.url == "http://a:9200"


def test_the_alias_at_its_defaults_does_not_conflict(tmp_path) -> None:
    """The example config lists [elasticsearch] with every default: editing only [index] must work."""
    from tests.conftest import REPO

    text = (REPO / "config" / "dmarcflow.example.toml").read_text().replace(
        'engine = "elasticsearch"', 'engine = "opensearch"').replace('url = ""  ', 'url = "https://os:9200"', 1)
    s = load_settings(_write(tmp_path, text), env={})
    assert (s.index.engine, s.index.url, s.index.replicas) == ("opensearch", "https://os:9200", 1)


def test_opensearch_refuses_an_api_key_at_connect() -> None:
    with pytest.raises(ConfigError) as info:
        connect(IndexSettings(engine="opensearch", url="http://127.0.0.1:9", api_key="abc"))
    assert str(info.value) == "[index] api_key: OpenSearch has no API keys; use username and password"


def test_the_example_config_documents_the_index_section() -> None:
    import tomllib
    from dataclasses import fields

    from tests.conftest import REPO

    path = REPO / "config" / "dmarcflow.example.toml"
    data = tomllib.loads(path.read_text())
    assert sorted(data["index"]) == sorted(f.name for f in fields(IndexSettings))
    assert load_settings(path, env={}).index == IndexSettings()
