"""The TLS panels and the failures table of the bundled saved objects, checked on the real engines.

As test_kibana.py does for the aggregate panels: every field a panel uses is mapped and aggregatable in
its family's indices, and each panel's aggregation, sent as Kibana's editor would, returns the numbers
the store holds (and `tls summary` / `failures` print).
"""

from __future__ import annotations

import json

import pytest

from dmarcflow.analysis.failures import list_failures
from dmarcflow.analysis.tls import summarise_tls
from dmarcflow.index import kibana
from dmarcflow.index.sync import sync_all
from tests.es.test_kibana import BY_ID, OBJECTS, _bucket, _metric, _search_source, _value, _vis_state
from tests.es.test_kinds_index import client, kinds_seeded  # noqa: F401 (fixtures)

VIEWS = {"tls": "dmarcflow-tls-data-view", "failure": "dmarcflow-failure-data-view"}
DASHBOARDS = {"tls": BY_ID["dmarcflow-tls"], "failure": BY_ID["dmarcflow-failures"]}


def _panels(view: str) -> list[dict]:
    return [o for o in OBJECTS if o["type"] == "visualization" and {r["id"] for r in o["references"]} == {view}]


def test_the_kinds_objects_resolve_and_name_their_families() -> None:
    assert [o["attributes"]["title"] for o in _panels(VIEWS["tls"])] == [
        "TLS sessions over time", "TLS failure types over time", "TLS failures by receiving MX"]
    assert [o["attributes"]["title"] for o in _panels(VIEWS["failure"])] == ["DMARC failure reports by source"]
    assert {k: BY_ID[v]["attributes"]["title"] for k, v in VIEWS.items()} == {
        "tls": "dmarcflow-tls-*", "failure": "dmarcflow-failure-*"}
    for kind, dashboard in DASHBOARDS.items():
        panels = {r["id"] for r in dashboard["references"] if r["type"] == "visualization"}
        assert panels == {o["id"] for o in _panels(VIEWS[kind])}
    tls_filter = [f["query"] for f in _search_source(DASHBOARDS["tls"])["filter"]]
    assert tls_filter == [{"match_phrase": {"tlsrpt.report.status": "active"}}]
    adapted = kibana.adapt(OBJECTS, "acme")
    assert {o["id"]: o["attributes"]["title"] for o in adapted if o["type"] == "index-pattern"} == {
        kibana.DATA_VIEW_ID: "acme-*", VIEWS["tls"]: "acme-tls-*", VIEWS["failure"]: "acme-failure-*"}


@pytest.fixture
def indexed(client, es_client, es_settings, kinds_seeded):  # noqa: F811
    assert all(r.complete for r in sync_all(client, kinds_seeded, es_settings))
    es_client.indices.refresh(index=f"{es_settings.index_prefix}-*")
    return kinds_seeded


def _fields(panel: dict) -> set[str]:
    fields = {"@timestamp"}
    for agg in _vis_state(panel)["aggs"]:
        fields |= {agg["params"][k] for k in ("field", "sortField") if k in agg["params"]}
    for f in _search_source(panel).get("filter", []):
        fields |= set(f["query"]["match_phrase"])
    return fields


@pytest.mark.parametrize("kind", sorted(VIEWS))
def test_every_kind_panel_field_is_mapped_and_aggregatable(kind, indexed, es_client, es_settings) -> None:
    index = f"{es_settings.index_prefix}-{kind}-*"
    fields = set().union(*(_fields(p) for p in _panels(VIEWS[kind]))) | {
        f for f in (set().union(*(set(f["query"]["match_phrase"]) for f in _search_source(DASHBOARDS[kind])["filter"])))}
    caps = es_client.field_caps(index=index, fields=sorted(fields)).body["fields"]
    assert fields <= set(caps)
    for name in fields:
        (kind_of_field, cap), = caps[name].items()
        assert cap["aggregatable"] and kind_of_field in ("keyword", "long", "date", "ip", "boolean"), (name, kind_of_field)


def _rows(es_client, index: str, panel: dict, dashboard: dict) -> dict[tuple, dict[str, object]]:
    aggs = _vis_state(panel)["aggs"]
    metrics = {a["id"]: _metric(a) for a in aggs if a["schema"] == "metric"}
    buckets = [a for a in aggs if a["schema"] != "metric"]
    tree: dict = metrics
    for agg in reversed(buckets):
        order_by = agg["params"].get("orderBy")
        extra = {order_by: metrics[order_by]} if order_by in metrics else {}
        tree = {agg["id"]: {**_bucket(agg), "aggs": {**extra, **tree}}}
    filters = [f["query"] for obj in (dashboard, panel) for f in _search_source(obj).get("filter", [])]
    body = es_client.search(index=index, size=0, query={"bool": {"filter": filters}}, aggs=tree).body["aggregations"]
    rows: dict[tuple, dict] = {}

    def walk(level: dict, depth: int, keys: tuple) -> None:
        if depth == len(buckets):
            rows[keys] = {m["id"]: _value(level[m["id"]], m) for m in aggs if m["schema"] == "metric"}
            return
        for bucket in level[buckets[depth]["id"]]["buckets"]:
            walk(bucket, depth + 1, keys + (bucket["key"],))

    walk(body, 0, ())
    return rows


def _tls_panel(es_client, es_settings, panel_id: str) -> dict[tuple, dict[str, object]]:
    return _rows(es_client, f"{es_settings.index_prefix}-tls-*", BY_ID[panel_id], DASHBOARDS["tls"])


def test_tls_sessions_over_time_panel(indexed, es_client, es_settings) -> None:
    rows = _tls_panel(es_client, es_settings, "dmarcflow-tls-sessions-over-time")
    expected = {((begin // 86400) * 86_400_000,): {"1": ok, "2": failed} for begin, ok, failed in indexed.conn.execute(
        "SELECT r.begin_ts, sum(p.successful), sum(p.failed) FROM tls_policies p JOIN tls_reports r ON r.id = p.report "
        "WHERE r.status = 'active' GROUP BY r.begin_ts / 86400")}
    assert rows == expected
    totals = summarise_tls(indexed)
    assert sum(v["1"] for v in rows.values()) == sum(s.successful for s in totals) == 15551
    assert sum(v["2"] for v in rows.values()) == sum(s.failed for s in totals) == 113


def test_tls_failure_types_over_time_panel(indexed, es_client, es_settings) -> None:
    rows = _tls_panel(es_client, es_settings, "dmarcflow-tls-failure-types-over-time")
    expected = {((begin // 86400) * 86_400_000, result): {"1": n} for begin, result, n in indexed.conn.execute(
        "SELECT r.begin_ts, f.result_type, sum(f.failed_sessions) FROM tls_failures f JOIN tls_policies p ON p.id = f.policy "
        "JOIN tls_reports r ON r.id = p.report WHERE r.status = 'active' GROUP BY r.begin_ts / 86400, f.result_type")}
    assert rows == expected


def test_tls_failures_by_mx_panel(indexed, es_client, es_settings) -> None:
    rows = _tls_panel(es_client, es_settings, "dmarcflow-tls-failures-by-mx")
    expected: dict[tuple, dict] = {}
    for summary in summarise_tls(indexed):
        for group in summary.failures:
            key = (group.receiving_mx_hostname, group.result_type)
            expected.setdefault(key, {"1": 0})["1"] += group.sessions
    assert rows == expected
    assert rows[("mx1.example.com", "certificate-expired")] == {"1": 79}


def test_failures_table_panel(indexed, es_client, es_settings) -> None:
    rows = _rows(es_client, f"{es_settings.index_prefix}-failure-*", BY_ID["dmarcflow-failures-table"],
                 DASHBOARDS["failure"])
    listing = list_failures(indexed)
    expected: dict[tuple, dict] = {}
    for f in listing.failures:
        entry = expected.setdefault((f.source_ip, f.reported_domain), {"1": 0, "4": 0})
        entry["1"] += 1
        entry["4"] = max(entry["4"], f.arrival_ts * 1000)
    assert rows == expected
    assert json.dumps(sorted(rows)) == json.dumps(sorted((s.source_ip, d) for s in listing.sources for d in s.domains))
