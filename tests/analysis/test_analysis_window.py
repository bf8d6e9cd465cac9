"""Time windows: --since (relative or a date) and --until, by the UTC day a report begins."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from dmarcflow.analysis import list_sources, summarise
from dmarcflow.analysis.window import WindowError, parse_since, parse_until
from tests.support.analysis_data import in_window, source_truth

NOW = datetime(2026, 3, 31, 22, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("30d", date(2026, 3, 1)), ("0d", date(2026, 3, 31)), ("2w", date(2026, 3, 17)), ("2026-03-05", date(2026, 3, 5)),
    (None, None),
])
def test_parse_since(text, expected):
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text, message", [
    ("30", "--since: '30' needs a unit (e.g. 30d or 2w) or a date (YYYY-MM-DD)"),
    ("2026-02-30", "--since: '2026-02-30' is not a date (use YYYY-MM-DD, UTC)"),
    ("yesterday", "--since: 'yesterday' is not a date (use YYYY-MM-DD, UTC)"),
])
def test_parse_since_rejects(text, message):
    with pytest.raises(WindowError) as info:
        parse_since(text, now=NOW)
    assert str(info.value) == message


def test_parse_until():
    assert parse_until("2026-03-09") == date(2026, 3, 9)


@pytest.mark.parametrize("first, last", [("2026-03-04", "2026-03-09"), ("2026-03-10", None), (None, "2026-03-01")])
def test_a_window_counts_exactly_the_reports_that_begin_in_it(mixed, open_store, first, last):
    dataset, path = mixed
    part = in_window(dataset, first, last)
    since = date.fromisoformat(first) if first else None
    until = date.fromisoformat(last) if last else None
    store = open_store(path)
    summaries = summarise(store, since=since, until=until, top=0)
    assert [s.domain for s in summaries] == list(part.domains)
    for s in summaries:
        f = part.figures(s.domain)
        assert (s.messages, s.dmarc_pass, s.spf_aligned, s.dkim_aligned, s.reports, s.reporters) == (
            f.messages, f.dmarc_pass, f.spf_aligned, f.dkim_aligned, f.reports, f.reporters)
        assert dict(s.dispositions) == {k: f.dispositions.get(k, 0) for k in ("none", "quarantine", "reject")}
        truth = source_truth(part, s.domain)
        got = list_sources(store, s.domain, since, until)
        assert {x.ip: (x.messages, x.klass) for x in got} == {ip: (t.messages, t.klass) for ip, t in truth.items()}


def test_the_cli_window_matches_the_library(mixed, run_json, open_store):
    dataset, path = mixed
    out = run_json("--db", path, "summary", "--since", "2026-03-04", "--until", "2026-03-09", "--format", "json", "--top", "0")
    lib = summarise(open_store(path), since=date(2026, 3, 4), until=date(2026, 3, 9), top=0, order="worst")
    assert out == {"domains": [s.as_dict() for s in lib]}


def test_a_domain_with_no_data_in_the_period(mixed, cli):
    _, path = mixed
    result = cli("--db", path, "summary", "example.com", "--since", "30d", "--format", "json")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, '{\n  "domains": []\n}\n', "No data for example.com in this period.\n")
    result = cli("--db", path, "summary", "--since", "2026-04-01")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No data in this period.\n")
    result = cli("--db", path, "senders", "example.com", "--until", "2026-02-28", "--format", "json")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0, '{\n  "domain": "example.com",\n  "sources": []\n}\n', "No data for example.com in this period.\n")


@pytest.mark.parametrize("args, message", [
    (["--since", "2026-03-09", "--until", "2026-03-04"], "--until 2026-03-04 is before --since 2026-03-09"),
    (["--since", "2026-02-30"], "--since: '2026-02-30' is not a date (use YYYY-MM-DD, UTC)"),
    (["--until", "9d"], "--until: '9d' is not a date (use YYYY-MM-DD, UTC)"),
])
def test_bad_windows_are_usage_errors(mixed, cli, args, message):
    _, path = mixed
    for command in (["summary"], ["senders", "example.com"]):
        result = cli("--db", path, *command, *args)
        assert result.exit_code == 2
        assert result.stderr.endswith(f"Error: {message}\n")
