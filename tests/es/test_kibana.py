"""The bundled Kibana saved objects, checked without Kibana (it cannot run here).

Each line parses; every reference resolves; every field a panel uses exists in the real
engine's mapping and is aggregatable; and each panel's aggregation, translated to the query
Kibana would send, returns the same numbers as `dmarcflow summary` on the same data.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from dmarcflow.analysis import summarise
from dmarcflow.index import elastic, kibana

OBJECTS = kibana.load(kibana.bundled_path())
BY_ID = {o["id"]: o for o in OBJECTS}
VISUALIZATIONS = [o for o in OBJECTS if o["type"] == "visualization"]
# The aggregate records' panels (the TLS and failure panels, on their own data views: test_kibana_kinds.py).
PANELS = [o for o in VISUALIZATIONS if {r["id"] for r in o["references"]} == {kibana.DATA_VIEW_ID}]
DASHBOARD = BY_ID["dmarcflow-overview"]


def _vis_state(obj: dict) -> dict:
    return json.loads(obj["attributes"]["visState"])


def _search_source(obj: dict) -> dict:
    return json.loads(obj["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def test_every_line_parses_and_ids_are_unique() -> None:
    lines = [line for line in kibana.bundled_path().read_text().splitlines() if line.strip()]
    assert len(lines) == len(OBJECTS) == len(BY_ID) == 16
    assert sorted(o["type"] for o in OBJECTS) == ["dashboard"] * 3 + ["index-pattern"] * 3 + ["visualization"] * 10
    assert len(PANELS) == 6
    data_view = BY_ID[kibana.DATA_VIEW_ID]["attributes"]
    assert (data_view["title"], data_view["timeFieldName"]) == ("dmarcflow-*", "@timestamp")
    for panel in VISUALIZATIONS:
        assert _vis_state(panel)["title"] == panel["attributes"]["title"]


def test_dashboard_has_the_required_panels() -> None:
    panels = json.loads(DASHBOARD["attributes"]["panelsJSON"])
    refs = {r["name"]: r["id"] for r in DASHBOARD["references"]}
    titles = {BY_ID[refs[p["panelRefName"]]]["attributes"]["title"] for p in panels}
    assert titles == {"DMARC compliance over time", "Volume per domain", "Top sources by class",
                      "Unauthorised senders", "Sources by country", "SPF/DKIM alignment"}


def _ref_names_used(obj: dict) -> set[str]:
    names: set[str] = set()
    source = _search_source(obj)
    if "indexRefName" in source:
        names.add(source["indexRefName"])
    names |= {f["meta"]["indexRefName"] for f in source.get("filter", [])}
    if obj["type"] == "dashboard":
        names |= {p["panelRefName"] for p in json.loads(obj["attributes"]["panelsJSON"])}
    return names


@pytest.mark.parametrize("obj", [o for o in OBJECTS if o["type"] != "index-pattern"], ids=lambda o: o["id"])
def test_references_resolve(obj: dict) -> None:
    refs = obj["references"]
    assert {r["name"] for r in refs} == _ref_names_used(obj)
    for ref in refs:
        assert BY_ID[ref["id"]]["type"] == ref["type"]


def _fields_used() -> set[str]:
    fields = {BY_ID[kibana.DATA_VIEW_ID]["attributes"]["timeFieldName"]}
    for panel in PANELS:
        for agg in _vis_state(panel)["aggs"]:
            fields |= {agg["params"][k] for k in ("field", "sortField") if k in agg["params"]}
    for obj in [*PANELS, DASHBOARD]:
        for f in _search_source(obj).get("filter", []):
            fields |= set(f["query"]["match_phrase"])
    return fields


@pytest.fixture
def synced(es_client, es_settings, seeded_store):
    elastic.setup(es_client, es_settings)
    assert elastic.Syncer(es_client, seeded_store, es_settings).run_once().complete
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")
    return seeded_store


def test_every_panel_field_is_mapped_and_aggregatable(synced, es_client, es_settings) -> None:
    fields = _fields_used()
    caps = es_client.field_caps(index=f"{es_settings.index_prefix}-*", fields=sorted(fields)).body["fields"]
    assert fields <= set(caps)  # (newer engines also list the parent objects)
    for name in fields:
        (kind, cap), = caps[name].items()
        assert cap["aggregatable"], name
        assert kind in ("keyword", "long", "date", "ip", "boolean"), (name, kind)
    assert list(caps["@timestamp"]) == ["date"]


# --------------------------------------------------------------- panels as queries


def _metric(agg: dict) -> dict:
    p = agg["params"]
    if agg["type"] == "top_hits":
        return {"top_hits": {"size": p["size"], "_source": [p["field"]], "sort": [{p["sortField"]: p["sortOrder"]}]}}
    return {agg["type"]: {"field": p["field"]}}


def _bucket(agg: dict) -> dict:
    p = agg["params"]
    if agg["type"] == "date_histogram":
        assert p["interval"] == "d"
        return {"date_histogram": {"field": p["field"], "calendar_interval": "1d", "min_doc_count": p["min_doc_count"]}}
    assert agg["type"] == "terms"
    return {"terms": {"field": p["field"], "size": p["size"], "order": {p["orderBy"]: p["order"]}}}


def panel_request(panel: dict) -> dict:
    """The request Kibana's aggregation-based editor builds: buckets nested in order, metrics at the
    leaf, and a terms level ordered by a metric gets that metric as its own sub-aggregation too."""
    aggs = _vis_state(panel)["aggs"]
    metrics = {a["id"]: _metric(a) for a in aggs if a["schema"] == "metric"}
    tree: dict = metrics
    for agg in reversed([a for a in aggs if a["schema"] != "metric"]):
        order_by = agg["params"].get("orderBy")
        extra = {order_by: metrics[order_by]} if order_by in metrics else {}
        tree = {agg["id"]: {**_bucket(agg), "aggs": {**extra, **tree}}}
    filters = [f["query"] for obj in (DASHBOARD, panel) for f in _search_source(obj).get("filter", [])]
    return {"query": {"bool": {"filter": filters}}, "aggs": tree}


def _value(result: dict, agg: dict):
    if agg["type"] == "top_hits":
        hit = result["hits"]["hits"][0]["_source"]
        for part in agg["params"]["field"].split("."):
            hit = hit.get(part, {}) if isinstance(hit, dict) else None
        return hit or None
    return int(result["value"])


def panel_rows(es_client, index: str, panel: dict) -> dict[tuple, dict[str, object]]:
    """(bucket keys...) -> {metric id: value}, from the real engine."""
    aggs = _vis_state(panel)["aggs"]
    metrics = [a for a in aggs if a["schema"] == "metric"]
    buckets = [a for a in aggs if a["schema"] != "metric"]
    body = es_client.search(index=index, size=0, **panel_request(panel)).body["aggregations"]
    rows: dict[tuple, dict] = {}

    def walk(level: dict, depth: int, keys: tuple) -> None:
        if depth == len(buckets):
            rows[keys] = {m["id"]: _value(level[m["id"]], m) for m in metrics}
            return
        for bucket in level[buckets[depth]["id"]]["buckets"]:
            walk(bucket, depth + 1, keys + (bucket["key"],))

    walk(body, 0, ())
    return rows


@pytest.fixture
def panels(synced, es_client, es_settings):
    index = f"{es_settings.index_prefix}-*"
    return {p["id"]: panel_rows(es_client, index, p) for p in PANELS}


@pytest.fixture
def summary(synced):
    return summarise(synced, top=0)


def test_compliance_over_time_panel(panels, summary, synced) -> None:
    rows = panels["dmarcflow-compliance-over-time"]
    expected = {(day * 86_400_000, passed): messages for day, passed, messages in synced.conn.execute(
        "SELECT day, dmarc_pass, sum(messages) FROM daily_sources GROUP BY day, dmarc_pass")}
    assert {k: v["1"] for k, v in rows.items()} == expected
    assert sum(v["1"] for (_, passed), v in rows.items() if passed) == sum(d.dmarc_pass for d in summary)
    assert sum(v["1"] for (_, passed), v in rows.items() if not passed) == sum(d.dmarc_fail for d in summary)


def test_volume_per_domain_panel(panels, summary) -> None:
    rows = panels["dmarcflow-volume-per-domain"]
    expected = {(d.domain, 1): d.dmarc_pass for d in summary} | {(d.domain, 0): d.dmarc_fail for d in summary}
    assert {k: v["1"] for k, v in rows.items()} == {k: v for k, v in expected.items() if v}


def _sources_by_ip(summary) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for domain in summary:
        for s in domain.sources:
            entry = out.setdefault(s.ip, {"messages": 0, "klass": s.klass, "sender": s.sender, "country": s.country,
                                          "reverse_dns": s.reverse_dns})
            entry["messages"] += s.messages
    return out


def test_top_sources_by_class_panel(panels, summary) -> None:
    rows = panels["dmarcflow-top-sources-by-class"]
    sources = _sources_by_ip(summary)
    per_class: dict[str, list[int]] = defaultdict(list)
    for (klass, ip), values in rows.items():
        assert (values["1"], values["4"], klass) == (sources[ip]["messages"], sources[ip]["sender"], sources[ip]["klass"])
        per_class[klass].append(values["1"])
    for klass in per_class:
        biggest = sorted((s["messages"] for s in sources.values() if s["klass"] == klass), reverse=True)[:10]
        assert sorted(per_class[klass], reverse=True) == biggest
    assert set(per_class) == {s["klass"] for s in sources.values()}


def test_unauthorised_senders_panel(panels, summary) -> None:
    rows = panels["dmarcflow-unauthorised-senders"]
    expected = {}
    for domain in summary:
        for s in domain.unauthorised:
            expected[(s.ip,)] = (s.messages, s.sender, s.reverse_dns, s.country)
    assert expected
    assert {k: (v["1"], v["3"], v["4"], v["5"]) for k, v in rows.items()} == expected


def test_sources_by_country_panel(panels, summary) -> None:
    rows = panels["dmarcflow-sources-by-country"]
    messages: dict[tuple, int] = defaultdict(int)
    ips: dict[tuple, set] = defaultdict(set)
    for ip, s in _sources_by_ip(summary).items():
        if s["country"]:
            messages[(s["country"],)] += s["messages"]
            ips[(s["country"],)].add(ip)
    assert {k: (v["1"], v["3"]) for k, v in rows.items()} == {k: (messages[k], len(ips[k])) for k in messages}


def test_spf_dkim_alignment_panel(panels, summary, synced) -> None:
    rows = panels["dmarcflow-spf-dkim-alignment"]
    expected = {(dkim, spf): m for dkim, spf, m in synced.conn.execute(
        "SELECT dkim_aligned, spf_aligned, sum(messages) FROM daily_sources GROUP BY dkim_aligned, spf_aligned")}
    assert {k: v["1"] for k, v in rows.items()} == expected
    assert sum(v["1"] for (dkim, _), v in rows.items() if dkim) == sum(d.dkim_aligned for d in summary)
    assert sum(v["1"] for (_, spf), v in rows.items() if spf) == sum(d.spf_aligned for d in summary)


# ------------------------------------------------------------------- import / export


class _Recorder(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict]] = []
    seen: list[tuple[str, dict, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        status, answer = self.answers.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def kibana_stand_in():
    """A loopback HTTP endpoint that records what `kibana import` posts (Kibana itself cannot run here)."""
    _Recorder.answers, _Recorder.seen = [], []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder
    server.shutdown()
    server.server_close()


def test_import_posts_ndjson_with_auth_and_space(cli, kibana_stand_in, monkeypatch) -> None:
    url, recorder = kibana_stand_in
    recorder.answers.append((200, {"success": True, "successCount": 8}))
    monkeypatch.setenv("DMARCFLOW_KIBANA_PASSWORD", "s3cret")
    result = cli("kibana", "import", "--url", url, "--username", "elastic", "--space", "dmarc",
                 "--index-prefix", "mail")
    assert (result.exit_code, result.output) == (0, f"imported 8 saved object(s) into {url}\n")
    (path, headers, body), = recorder.seen
    assert path == "/s/dmarc/api/saved_objects/_import?overwrite=true"
    assert headers["kbn-xsrf"] == "dmarcflow"
    assert headers["authorization"] == "Basic ZWxhc3RpYzpzM2NyZXQ="
    assert headers["content-type"].startswith("multipart/form-data; boundary=")
    sent = body.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n--", 1)[0].decode()
    assert sent == kibana.dumps(kibana.adapt(OBJECTS, "mail"))
    assert json.loads(sent.splitlines()[0])["attributes"]["title"] == "mail-*"
    assert "s3cret" not in result.output


def test_import_reports_refusals_and_auth_failures(cli, kibana_stand_in) -> None:
    url, recorder = kibana_stand_in
    recorder.answers.append((200, {"success": False, "successCount": 7, "errors": [
        {"type": "visualization", "id": "dmarcflow-volume-per-domain", "error": {"type": "missing_references"}}]}))
    recorder.answers.append((401, {"statusCode": 401, "error": "Unauthorized"}))
    refused = cli("kibana", "import", "--url", url)
    assert refused.exit_code == 1
    assert refused.output == (f"Error: Kibana at {url} refused the import: "
                              "visualization dmarcflow-volume-per-domain: missing_references\n")
    denied = cli("kibana", "import", "--url", url, "--api-key", "abc")
    assert denied.exit_code == 1
    assert denied.output.startswith(f"Error: Kibana at {url} answered HTTP 401 (check --username/--password or --api-key)")
    assert recorder.seen[1][1]["authorization"] == "ApiKey abc"


def test_import_to_nothing_listening_is_a_clear_error(cli) -> None:
    result = cli("kibana", "import", "--url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.output.startswith("Error: cannot reach Kibana at http://127.0.0.1:9: ")


def test_export_writes_the_adapted_objects(cli, tmp_path: Path) -> None:
    out = tmp_path / "objects.ndjson"
    result = cli("kibana", "export", "--out", out, "--index-prefix", "mail")
    assert result.exit_code == 0
    assert out.read_text() == kibana.dumps(kibana.adapt(OBJECTS, "mail"))
    assert cli("kibana", "export").output == kibana.bundled_path().read_text()
