"""A mixed dataset with a known truth: every figure, every class, every explanation."""

from __future__ import annotations

import pytest

from dmarcflow.analysis import list_sources, queries, summarise
from dmarcflow.analysis.window import Window
from tests.support.analysis_data import expected_explanation, main_header_from, source_truth

DOMAINS = ("example.com", "example.net", "example.org")
CLASSES = ("authorised", "forwarded", "misconfigured", "unauthorised")


def test_totals_equal_the_generated_figures(mixed, open_store):
    dataset, path = mixed
    summaries = summarise(open_store(path), top=0)
    assert [s.domain for s in summaries] == list(dataset.domains)
    for s in summaries:
        f = dataset.figures(s.domain)
        got = (s.messages, s.dmarc_pass, s.dmarc_fail, s.spf_aligned, s.dkim_aligned, s.reports, s.reporters)
        assert got == (f.messages, f.dmarc_pass, f.dmarc_fail, f.spf_aligned, f.dkim_aligned, f.reports, f.reporters)
        assert dict(s.dispositions) == {k: f.dispositions.get(k, 0) for k in ("none", "quarantine", "reject")}
        assert dict(s.classes) == {k: f.classes.get(k, 0) for k in CLASSES}


def test_totals_equal_the_stored_messages(mixed, open_store):
    dataset, path = mixed
    store = open_store(path)
    summaries = summarise(store, top=0)
    stored = store.conn.execute("SELECT SUM(message_count) FROM reports WHERE status = 'active'").fetchone()[0]
    assert sum(s.messages for s in summaries) == stored == dataset.figures().messages
    for s in summaries:
        assert sum(src.messages for src in s.sources) == s.messages
        assert sum(src.dmarc_pass for src in s.sources) == s.dmarc_pass


def test_totals_from_the_grouped_rows_equal_a_direct_scan(mixed, open_store):
    dataset, path = mixed
    store = open_store(path)
    for domain in DOMAINS:
        for window in (Window(), Window(20513, 20518)):
            rows = queries.source_rows(store.conn, domain, window)
            assert queries.totals_of(rows) == queries.domain_totals(store.conn, domain, window)


def test_period_covers_the_reports(mixed, open_store):
    dataset, path = mixed
    for s in summarise(open_store(path)):
        reports = [r for r in dataset.reports if r.policy.domain == s.domain]
        assert (s.begin_ts, s.end_ts) == (min(r.begin for r in reports), max(r.end for r in reports))


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_source_has_its_true_class_and_volume(mixed, open_store, domain):
    dataset, path = mixed
    truth = source_truth(dataset, domain)
    sources = list_sources(open_store(path), domain)
    assert {s.ip: s.klass for s in sources} == {ip: t.klass for ip, t in truth.items()}
    assert {s.ip: (s.messages, s.dmarc_pass) for s in sources} == {ip: (t.messages, t.dmarc_pass) for ip, t in truth.items()}
    assert [s.messages for s in sources] == sorted((s.messages for s in sources), reverse=True)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_explanation_names_what_passed_and_failed(mixed, open_store, domain):
    dataset, path = mixed
    spec = next(d for d in dataset.reports if d.policy.domain == domain).policy
    truth = source_truth(dataset, domain)
    for s in list_sources(open_store(path), domain):
        t = truth[s.ip]
        wanted = {expected_explanation(t.records[0], t.klass, hf, spec.adkim, spec.aspf) for hf in main_header_from(t.records)}
        assert s.explanation in wanted, (s.ip, t.klass)


@pytest.mark.parametrize("domain", DOMAINS)
def test_senders_class_unauthorised_lists_exactly_the_spoofing_sources(mixed, run_json, domain):
    dataset, path = mixed
    spoofing = {t.ip for t in dataset.sources if t.domain == domain and t.klass == "unauthorised"}
    out = run_json("--db", path, "senders", domain, "--class", "unauthorised", "--format", "json")
    assert out["domain"] == domain
    assert {s["ip"] for s in out["sources"]} == spoofing
    assert {s["class"] for s in out["sources"]} == {"unauthorised"}
    assert {s["verdict"] for s in out["sources"]} == {"impostor candidate"}


def test_summary_json_is_the_library_contract(mixed, run_json, open_store):
    dataset, path = mixed
    out = run_json("--db", path, "summary", "--format", "json", "--top", "0")
    assert out == {"domains": [s.as_dict() for s in summarise(open_store(path), top=0, order="worst")]}
    for d in out["domains"]:
        spoofing = {t.ip for t in dataset.sources if t.domain == d["domain"] and t.klass == "unauthorised"}
        assert {s["ip"] for s in d["unauthorised"]} == spoofing
        assert d["period"]["begin"].endswith("T00:00:00Z") and d["period"]["end"].endswith("T23:59:59Z")
        for src in d["sources"]:
            assert set(src) >= {"ip", "sender", "reverse_dns", "country", "asn", "messages", "dmarc_pass", "class", "explanation"}


def test_sender_view_groups_the_ip_view(mixed, open_store):
    dataset, path = mixed
    store = open_store(path)
    for domain in DOMAINS:
        by_ip = {s.ip: s for s in list_sources(store, domain)}
        by_sender = list_sources(store, domain, view="sender")
        assert sorted(ip for s in by_sender for ip in s.ips) == sorted(by_ip)
        for group in by_sender:
            assert group.ip is None
            assert {by_ip[ip].sender for ip in group.ips} == {group.sender}
            assert group.messages == sum(by_ip[ip].messages for ip in group.ips)
            assert group.dmarc_pass == sum(by_ip[ip].dmarc_pass for ip in group.ips)
        services = {t.sender: t.klass for t in dataset.sources if t.domain == domain and t.sender in ("SendGrid", "Mailchimp", "Amazon SES")}
        names = {"SendGrid": "Twilio SendGrid", "Mailchimp": "Intuit Mailchimp", "Amazon SES": "Amazon SES"}
        assert {names[k]: v for k, v in services.items()} == {g.sender: g.klass for g in by_sender if g.sender in names.values()}


@pytest.mark.parametrize("window", [Window(), Window(20513, 20519), Window(20520, 20526)])
def test_both_access_paths_give_the_same_rows(mixed, open_store, monkeypatch, window):
    """Long windows read the covering index, short ones the primary key: the rows must not differ."""
    _, path = mixed
    store = open_store(path)
    results = []
    for share in (0.0, 2.0):  # 0: always the covering index; 2: never
        monkeypatch.setattr(queries, "_INDEX_SHARE", share)
        hint, group = queries._access_path(store.conn, "example.com", window)
        plan = [r[3] for r in store.conn.execute(
            "EXPLAIN QUERY PLAN " + queries._DAILY_ROWS.format(hint=hint, group=group), ("example.com", 0, 1))]
        # the ids summed in index order (no sort) or found by day and sorted; then the groups of text sorted
        inner = (["SEARCH daily_rollup USING COVERING INDEX daily_rollup_by_source (domain=?)"] if share == 0.0
                 else ["SEARCH daily_rollup USING PRIMARY KEY (domain=? AND day>? AND day<?)", "USE TEMP B-TREE FOR GROUP BY"])
        lookup = ["SCALAR SUBQUERY 1", "SEARCH rollup_names USING COVERING INDEX sqlite_autoindex_rollup_names_1 (name=?)"]
        outer = ["SCAN g", "SEARCH i USING INTEGER PRIMARY KEY (rowid=?)", "SEARCH v USING INTEGER PRIMARY KEY (rowid=?)",
                 "USE TEMP B-TREE FOR GROUP BY"]
        assert plan == ["CO-ROUTINE g", inner[0], *lookup, *inner[1:], *outer]
        results.append(sorted(queries.source_rows(store.conn, "example.com", window)))
    assert results[0] == results[1] and results[0]
