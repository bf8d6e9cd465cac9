"""Saved objects for Kibana and for OpenSearch Dashboards: migration stamps, same panels, fields mapped
on both engines, and the `dashboards` commands (neither UI can run here: see test_kibana.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dmarcflow.index import elastic, kibana
from tests.es.test_kibana import _Recorder, kibana_stand_in  # noqa: F401 (a fixture)

KIBANA_OBJECTS = kibana.load(kibana.bundled_path(kibana.KIBANA))
DASHBOARDS_OBJECTS = kibana.load(kibana.bundled_path(kibana.DASHBOARDS))


def test_kibana_objects_carry_the_migration_versions_of_kibana_8_9_and_later() -> None:
    stamps = {(o["type"], o["coreMigrationVersion"], o["typeMigrationVersion"]) for o in KIBANA_OBJECTS}
    assert stamps == {("index-pattern", "8.8.0", "8.0.0"), ("visualization", "8.8.0", "8.5.0"),
                      ("dashboard", "8.8.0", "8.9.0")}
    assert not any("migrationVersion" in o for o in KIBANA_OBJECTS)


def test_dashboards_objects_carry_the_migration_versions_of_opensearch_dashboards() -> None:
    stamps = {(o["type"], json.dumps(o["migrationVersion"])) for o in DASHBOARDS_OBJECTS}
    assert stamps == {("index-pattern", '{"index-pattern": "7.6.0"}'), ("visualization", '{"visualization": "7.10.0"}'),
                      ("dashboard", '{"dashboard": "7.9.3"}')}
    assert not any("coreMigrationVersion" in o or "typeMigrationVersion" in o for o in DASHBOARDS_OBJECTS)


def _without_stamps(obj: dict) -> dict:
    stamps = ("coreMigrationVersion", "typeMigrationVersion", "migrationVersion")
    return {k: v for k, v in obj.items() if k not in stamps}


def test_both_products_get_the_same_panels() -> None:
    """So the panel checks of test_kibana.py (fields, numbers) hold for the Dashboards objects too."""
    assert [(o["id"], o["type"], o["references"]) for o in DASHBOARDS_OBJECTS] == [
        (o["id"], o["type"], o["references"]) for o in KIBANA_OBJECTS]
    for mine, theirs in zip(DASHBOARDS_OBJECTS, KIBANA_OBJECTS, strict=True):
        if mine["type"] == "visualization":
            assert _without_stamps(mine) == _without_stamps(theirs)
    data_view = {o["id"]: o for o in DASHBOARDS_OBJECTS}[kibana.DATA_VIEW_ID]["attributes"]
    assert data_view == {"title": "dmarcflow-*", "timeFieldName": "@timestamp"}  # no 8.x data view name
    dashboards = [o["id"] for o in KIBANA_OBJECTS if o["type"] == "dashboard"]
    assert dashboards == ["dmarcflow-overview", "dmarcflow-tls", "dmarcflow-failures"]
    for dashboard in dashboards:
        mine, theirs = ({o["id"]: o for o in objects}[dashboard] for objects in (DASHBOARDS_OBJECTS, KIBANA_OBJECTS))
        kibana_panels = json.loads(theirs["attributes"]["panelsJSON"])
        for panel in kibana_panels:
            panel.update(version="7.10.2", embeddableConfig={})
        assert json.loads(mine["attributes"]["panelsJSON"]) == kibana_panels
        same = {k: v for k, v in mine["attributes"].items() if k != "panelsJSON"}
        assert same == {k: v for k, v in theirs["attributes"].items() if k != "panelsJSON"}


def _fields(objects: list[dict]) -> set[str]:
    """The fields the aggregate records' objects use (the other kinds' panels: test_kibana_kinds.py)."""
    by_id = {o["id"]: o for o in objects}
    fields = {by_id[kibana.DATA_VIEW_ID]["attributes"]["timeFieldName"]}
    for obj in objects:
        if obj["type"] != "index-pattern" and {r["id"] for r in obj["references"] if r["type"] == "index-pattern"} \
                - {kibana.DATA_VIEW_ID}:
            continue
        if obj["type"] == "visualization":
            for agg in json.loads(obj["attributes"]["visState"])["aggs"]:
                fields |= {agg["params"][k] for k in ("field", "sortField") if k in agg["params"]}
        if obj["type"] != "index-pattern":
            for f in json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"]).get("filter", []):
                fields |= set(f["query"]["match_phrase"])
    return fields


@pytest.mark.parametrize("objects", [KIBANA_OBJECTS, DASHBOARDS_OBJECTS], ids=["kibana", "dashboards"])
def test_every_panel_field_is_mapped_and_aggregatable(objects, es_client, es_settings, seeded_store) -> None:
    elastic.setup(es_client, es_settings)
    assert elastic.Syncer(es_client, seeded_store, es_settings).run_once().complete
    index = f"{es_settings.index_prefix}-*"
    es_client.indices.refresh(index=index)
    fields = _fields(objects)
    assert fields == {"@timestamp", "dmarc.aligned.dkim", "dmarc.aligned.spf", "dmarc.class", "dmarc.count",
                      "dmarc.identifiers.header_from", "dmarc.pass", "dmarc.policy_published.domain",
                      "dmarc.report.status", "dmarc.sender", "source.domain", "source.geo.country_iso_code",
                      "source.ip"}
    caps = es_client.field_caps(index=index, fields=sorted(fields)).body["fields"]
    assert fields <= set(caps)
    kinds = {}
    for name in fields:
        (kind, cap), = caps[name].items()
        assert cap["aggregatable"], name
        kinds[name] = kind
    assert [kinds[n] for n in ("@timestamp", "dmarc.count", "source.ip", "dmarc.pass", "dmarc.aligned.dkim",
                               "dmarc.aligned.spf")] == ["date", "long", "ip", "boolean", "boolean", "boolean"]
    assert {name for name, kind in kinds.items() if kind == "keyword"} == fields - {
        "@timestamp", "dmarc.count", "source.ip", "dmarc.pass", "dmarc.aligned.dkim", "dmarc.aligned.spf"}


def test_dashboards_import_posts_with_the_opensearch_headers(cli, kibana_stand_in, monkeypatch) -> None:  # noqa: F811
    url, recorder = kibana_stand_in
    recorder.answers.append((200, {"success": True, "successCount": 8}))
    monkeypatch.setenv("DMARCFLOW_DASHBOARDS_PASSWORD", "s3cret")
    result = cli("dashboards", "import", "--url", url, "--username", "admin", "--tenant", "global",
                 "--index-prefix", "mail")
    assert (result.exit_code, result.output) == (0, f"imported 8 saved object(s) into {url}\n")
    (path, headers, body), = recorder.seen
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert (headers["osd-xsrf"], headers["securitytenant"]) == ("dmarcflow", "global")
    assert "kbn-xsrf" not in headers
    assert headers["authorization"] == "Basic YWRtaW46czNjcmV0"
    sent = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0].decode()
    assert sent == kibana.dumps(kibana.adapt(DASHBOARDS_OBJECTS, "mail"))
    assert "s3cret" not in result.output


def test_dashboards_import_names_the_product_in_errors(cli, kibana_stand_in) -> None:  # noqa: F811
    url, recorder = kibana_stand_in
    recorder.answers.append((403, {"statusCode": 403, "error": "Forbidden"}))
    denied = cli("dashboards", "import", "--url", url)
    assert denied.exit_code == 1
    assert denied.output.startswith(f"Error: OpenSearch Dashboards at {url} answered HTTP 403 (check --username/")
    gone = cli("dashboards", "import", "--url", "http://127.0.0.1:9")
    assert gone.exit_code == 1
    assert gone.output.startswith("Error: cannot reach OpenSearch Dashboards at http://127.0.0.1:9: ")


def test_dashboards_export_writes_the_adapted_objects(cli, tmp_path: Path) -> None:
    out = tmp_path / "objects.ndjson"
    result = cli("dashboards", "export", "--out", out, "--index-prefix", "mail")
    assert (result.exit_code, result.output) == (0, f"wrote 16 saved object(s) to {out}\n")
    assert out.read_text() == kibana.dumps(kibana.adapt(DASHBOARDS_OBJECTS, "mail"))
    assert cli("dashboards", "export").output == kibana.bundled_path(kibana.DASHBOARDS).read_text()
    assert json.loads(out.read_text().splitlines()[0])["attributes"]["title"] == "mail-*"
