"""The whole-history rollup (``domain_sources``): the same rows, summaries and answers as the daily rollup.

A window that holds every day of a domain is answered from ``domain_sources``; every other window from
``daily_sources``. These tests compare the two on generated stores, for every domain and edge windows,
and check that the triggers, the migration and reprocess keep the table equal to the daily rows summed.
"""

from __future__ import annotations

import datetime
import json
import shutil
from dataclasses import dataclass, replace

import pytest

from benchmarks import generator as g
from dmarcflow.analysis import list_sources, queries, summarise
from dmarcflow.answers import senders_answer, summary_answer, to_json
from dmarcflow.models import SourceRow, Window
from dmarcflow.reprocess import reprocess
from dmarcflow.store import Store
from tests.support.analysis_data import ingest_payloads
from tests.support.old_schema import undo_daily_rollup

DOMAINS = ("example.com", "example.net", "example.org")
# domain_sources as daily_sources summed: what the table must hold at every moment.
SUMMED = (
    f"SELECT domain, {queries._GROUP}, SUM(messages), SUM(CASE disposition WHEN 'quarantine' THEN messages ELSE 0 END), "
    f"SUM(CASE disposition WHEN 'reject' THEN messages ELSE 0 END), COUNT(*) FROM daily_sources "
    f"GROUP BY domain, {queries._GROUP} ORDER BY domain, {queries._GROUP}"
)
STORED = f"SELECT * FROM domain_sources ORDER BY domain, {queries._GROUP}"


def _daily(store: Store, domain: str, window: Window) -> list[SourceRow]:
    """The rows as the daily rollup gives them (the query every window was answered from before)."""
    return [SourceRow._make(r) for r in queries.daily_source_rows(store.conn, domain, window)]


def _span(store: Store, domain: str) -> tuple[int, int]:
    first, last = store.conn.execute("SELECT MIN(day), MAX(day) FROM daily_sources WHERE domain = ?", (domain,)).fetchone()
    return int(first), int(last)


def _windows(first: int, last: int) -> dict[str, tuple[Window, bool]]:
    """Edge windows around a domain's days: (window, whether it holds every day)."""
    return {
        "all time": (Window(), True),
        "exactly the days": (Window(first, last), True),
        "a day either side": (Window(first - 1, last + 1), True),
        "from the first day on": (Window(first), True),
        "up to the last day": (Window(0, last), True),
        "without the first day": (Window(first + 1, last), False),
        "without the last day": (Window(first, last - 1), False),
        "the first day only": (Window(first, first), False),
        "the last day only": (Window(last, last), False),
        "a middle day": (Window(first + 2, first + 2), False),
        "before the days": (Window(0, first - 1), False),
        "after the days": (Window(last + 1), False),
    }


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_edge_window_gives_the_daily_rows(mixed, open_store, domain):
    _, path = mixed
    store = open_store(path)
    first, last = _span(store, domain)
    assert last - first >= 4  # the edges below are distinct days
    days = {d for (d,) in store.conn.execute("SELECT DISTINCT day FROM daily_sources WHERE domain = ?", (domain,))}
    for name, (window, whole) in _windows(first, last).items():
        assert queries.whole_history(store.conn, domain, window) is whole, name
        expected = _daily(store, domain, window)
        assert queries.source_rows(store.conn, domain, window) == expected, name
        assert (len(expected) > 0) is any(window.first_day <= d <= window.last_day for d in days), name


def test_a_domain_without_rows_is_answered_by_the_daily_rollup(mixed, open_store):
    _, path = mixed
    store = open_store(path)
    assert queries.whole_history(store.conn, "nothing.example", Window()) is False
    assert queries.source_rows(store.conn, "nothing.example", Window()) == []


def test_the_whole_history_is_read_in_group_order_without_a_sort(mixed, open_store):
    _, path = mixed
    store = open_store(path)
    plan = [r[3] for r in store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT {queries._GROUP}, messages FROM domain_sources WHERE domain = ? "
        f"ORDER BY {queries._GROUP}", ("example.com",))]
    assert plan == ["SEARCH domain_sources USING PRIMARY KEY (domain=?)"]


def test_the_table_is_the_daily_rows_summed_after_ingest(mixed, open_store):
    _, path = mixed
    store = open_store(path)
    stored = store.conn.execute(STORED).fetchall()
    assert stored == store.conn.execute(SUMMED).fetchall()
    assert sum(r[-1] for r in stored) == store.conn.execute("SELECT COUNT(*) FROM daily_sources").fetchone()[0]


def test_the_migration_fills_the_table_of_an_existing_store(mixed, tmp_path):
    """A store made before migration 13 (the table and its triggers dropped, the version set back) gets the
    same rows from the migration as the triggers wrote."""
    _, path = mixed
    copy = tmp_path / "old.sqlite"
    shutil.copy(path, copy)
    with Store.open(copy) as store:
        expected = store.conn.execute(STORED).fetchall()
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
        undo_daily_rollup(store.conn)  # migration 15 (the rollup by ids) came after it too: undone first
        for trigger in ("daily_sources_added", "daily_sources_summed", "daily_sources_dropped"):
            store.conn.execute(f"DROP TRIGGER {trigger}")
        store.conn.execute("DROP TABLE domain_sources")
        # migration 14 (verdicts) came after it: undone too, so that both run again, in their order
        store.conn.execute("CREATE TABLE old_records AS SELECT * FROM records")
        for statement in ("DROP VIEW records", "DROP TABLE record_rows", "DROP TABLE verdicts",
                          "ALTER TABLE old_records RENAME TO records"):
            store.conn.execute(statement)
        store.conn.execute("PRAGMA user_version = 12")
    with Store.open(copy) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == version
        assert store.conn.execute(STORED).fetchall() == expected
        assert len(expected) > 0


def test_a_conflict_stays_out_and_reprocess_rebuilds_the_table(mixed, tmp_path):
    dataset, path = mixed
    copy = tmp_path / "store.sqlite"
    shutil.copy(path, copy)
    with Store.open(copy) as store:
        before = store.conn.execute(STORED).fetchall()
    spec = dataset.reports[0]
    changed = replace(spec, records=(replace(spec.records[0], count=spec.records[0].count + 7), *spec.records[1:]))
    assert [o.status for o in ingest_payloads(copy, [g.render_xml(changed)])] == ["conflict"]
    with Store.open(copy) as store:
        assert store.conn.execute(STORED).fetchall() == before
        result = reprocess(store)
        assert result.reports == len(dataset.reports) + 1
        assert store.conn.execute(STORED).fetchall() == before == store.conn.execute(SUMMED).fetchall()


def test_deleting_daily_rows_takes_them_out_of_the_table(mixed, tmp_path):
    """The delete trigger (no writer deletes daily rows but reprocess, which empties both): the table
    follows any deletion, and a row goes with the last daily row behind it."""
    _, path = mixed
    copy = tmp_path / "store.sqlite"
    shutil.copy(path, copy)
    with Store.open(copy) as store, store.transaction():
        first, _ = _span(store, "example.com")
        for domain, day in (("example.com", f"= {first}"), ("example.org", "IS NOT NULL")):
            store.conn.execute(f"DELETE FROM daily_rollup WHERE domain = (SELECT id FROM rollup_names WHERE name = ?) "
                               f"AND day {day}", (domain,))
        assert store.conn.execute(STORED).fetchall() == store.conn.execute(SUMMED).fetchall()
        assert store.conn.execute("SELECT COUNT(*) FROM domain_sources WHERE domain = 'example.org'").fetchone()[0] == 0


@pytest.mark.parametrize("view", ["ip", "sender"])
def test_summaries_and_senders_answers_are_byte_equal_on_both_paths(mixed, open_store, monkeypatch, view):
    """The answers as the CLI and the web API print them, from the whole-history table and from the daily rows."""
    _, path = mixed
    store = open_store(path)
    answers = []
    for whole in (True, False):
        if not whole:
            monkeypatch.setattr(queries, "whole_history", lambda *_: False)
        answer = [to_json(summary_answer(summarise(store, top=0, view=view, order="worst")))]
        answer += [to_json(senders_answer(d, list_sources(store, d, view=view))) for d in DOMAINS]
        answers.append(answer)
    assert answers[0] == answers[1]
    assert [d["domain"] for d in json.loads(answers[0][0])["domains"]] != []


@pytest.mark.parametrize("since", [None, "2026-03-02", "2026-03-06"])
def test_the_cli_answer_is_the_same_on_both_paths(mixed, cli, monkeypatch, since):
    _, path = mixed
    args = ["--db", str(path), "summary", "--format", "json", *(["--since", since] if since else [])]
    fast = cli(*args)
    monkeypatch.setattr(queries, "whole_history", lambda *_: False)
    slow = cli(*args)
    assert (fast.exit_code, slow.exit_code) == (0, 0)
    assert fast.stdout == slow.stdout


@dataclass
class _Plain:
    n: int = 1


@pytest.mark.parametrize("value", [
    1e-05, -1e-05, 9.99e-05, 1e-07, 2.5e-06, 5e-324, 1e-4, 0.1, 0.000123, 1e16, -1.5e22, 123456789012345678.0,
    0.0, -0.0, 2**63 - 1, -(2**63), 2**64, "e-5 0.00001", "1e-5", "a: 1e-7", "\u0000\u001f\u007f\u2028\"\\/\t",
    "\ud800", {"k": [1e-6, {"x": 1.25e-5}]}, {3: "int key"}, {True: 1}, [], {}, [[], {}], (1, 2), {1, 2}, b"raw",
    datetime.datetime(2026, 3, 1, tzinfo=datetime.UTC), datetime.date(2026, 3, 1), _Plain(),
])
def test_to_json_writes_what_the_standard_encoder_writes(value):
    for data in (value, [value, "e-"], {"v": value, "w": [value]}):
        assert to_json(data) == json.dumps(data, indent=2, ensure_ascii=False, default=str)
