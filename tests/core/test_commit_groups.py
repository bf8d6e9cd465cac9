"""Group commits (issue 16): several inputs per write transaction, a savepoint each.

What a user sees must not change: an input's outcome is handed out only once the commit holding it is done
(checked from a second connection at that moment), a failing report rolls back only its own savepoint, and
when a group's commit fails none of its inputs is acknowledged. A real SQLite file; the commit failure is
SQLite's own (a deferred foreign-key violation found at COMMIT), not a mock.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from dmarcflow.errors import StoreError
from dmarcflow.ingest import GROUP_RECORDS, Ingestor, InputOutcome
from dmarcflow.store import Store
from tests.support.report_xml import record, report


def _frozen() -> float:
    return 0.0  # the clock never moves: only the input and record counts close a group


def _files(folder: Path, count: int, *, bad_at: int | None = None) -> list[str]:
    folder.mkdir()
    paths = []
    for n in range(count):
        body = record(ip=f"192.0.2.{n + 1}") + record(ip=f"198.51.100.{n + 1}", count="5")
        if n == bad_at:  # well-formed up to a record whose count is not a number: rejected mid-stream
            body = body + record(count="many")
        path = folder / f"r{n:02d}.xml"
        path.write_bytes(report(body, report_id=f"id-{n}"))
        paths.append(str(path))
    return paths


def _visible(db: Path) -> tuple[int, int]:
    """(reports, records) as another connection sees them: only what is committed."""
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM reports), (SELECT count(*) FROM records)").fetchone()


def _commits(store: Store) -> list[str]:
    seen: list[str] = []
    store.conn.set_trace_callback(lambda sql: seen.append(sql) if sql == "COMMIT" else None)
    return seen


def test_inputs_share_commits_and_are_handed_out_only_once_committed(db_path: Path, store: Store,
                                                                      ingestor: Ingestor, tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", 10)
    commits = _commits(store)
    batches: list[tuple[list[str], tuple[int, int]]] = []

    def committed(outcomes: list[InputOutcome]) -> None:
        batches.append(([o.status for o in outcomes], _visible(db_path)))

    with ingestor.commit_groups(committed, group_inputs=4, clock=_frozen) as add:
        for path in paths:
            for outcome in ingestor.ingest_file(path):
                add(outcome, outcome.records)
    assert batches == [(["ingested"] * 4, (4, 8)), (["ingested"] * 4, (8, 16)), (["ingested"] * 2, (10, 20))]
    assert len(commits) == 3  # the IP facts of each group went into its own commit (offline: no DNS wait)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM ip_pending").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ip_info").fetchone()[0] == 20


def test_ingest_files_hands_out_every_outcome_in_order(db_path: Path, store: Store, ingestor: Ingestor,
                                                       tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", 7)
    commits = _commits(store)
    got: list[list[str]] = []
    ingestor.ingest_files(paths, lambda outcomes: got.append([Path(o.path).name for o in outcomes]),
                          group_inputs=3, clock=_frozen)
    assert got == [["r00.xml", "r01.xml", "r02.xml"], ["r03.xml", "r04.xml", "r05.xml"], ["r06.xml"]]
    assert len(commits) == 3
    assert _visible(db_path) == (7, 14)


def test_a_report_of_many_records_closes_its_group(db_path: Path, store: Store, ingestor: Ingestor,
                                                   tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    big = tmp_path / "in" / "big.xml"
    big.write_bytes(report("".join(record(ip=f"10.0.{i // 250}.{i % 250 + 1}") for i in range(GROUP_RECORDS)),
                           report_id="big"))
    paths = [*_files(tmp_path / "small", 2), str(big), *_files(tmp_path / "more", 1)]
    got: list[list[int]] = []
    ingestor.ingest_files(paths, lambda outcomes: got.append([o.records for o in outcomes]), clock=_frozen)
    assert got == [[2, 2, GROUP_RECORDS], [2]]


def test_a_failing_report_rolls_back_only_its_savepoint(db_path: Path, store: Store, ingestor: Ingestor,
                                                        tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", 5, bad_at=2)
    commits = _commits(store)
    got: list[InputOutcome] = []
    ingestor.ingest_files(paths, got.extend, clock=_frozen)
    assert [(o.status, o.reason) for o in got] == [("ingested", None)] * 2 + [("rejected", "invalid_value")] + [
        ("ingested", None)] * 2
    assert len(commits) == 1
    with sqlite3.connect(db_path) as conn:
        assert [r[0] for r in conn.execute("SELECT report_id FROM reports ORDER BY id")] == [
            "id-0", "id-1", "id-3", "id-4"]
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 8
        assert conn.execute("SELECT count(*) FROM records WHERE report NOT IN (SELECT id FROM reports)"
                            ).fetchone()[0] == 0
        assert conn.execute("SELECT input, reason FROM rejected").fetchall() == [(paths[2], "invalid_value")]
        assert conn.execute("SELECT sum(messages) FROM daily_sources").fetchone()[0] == 4 * (3 + 5)


def test_an_exception_ends_the_group_after_committing_and_handing_out_what_was_done(
        db_path: Path, store: Store, ingestor: Ingestor, tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", 3)
    got: list[tuple[str, tuple[int, int]]] = []

    def committed(outcomes: list[InputOutcome]) -> None:
        got.extend((Path(o.path).name, _visible(db_path)) for o in outcomes)

    with pytest.raises(KeyboardInterrupt), ingestor.commit_groups(committed, clock=_frozen) as add:
        for path in paths:
            for outcome in ingestor.ingest_file(path):
                add(outcome, outcome.records)
        raise KeyboardInterrupt
    assert got == [("r00.xml", (3, 6)), ("r01.xml", (3, 6)), ("r02.xml", (3, 6))]


def test_a_failed_commit_hands_out_nothing_of_its_group(db_path: Path, store: Store, ingestor: Ingestor,
                                                        tmp_path: Path) -> None:
    paths = _files(tmp_path / "in", 4)
    got: list[InputOutcome] = []
    with pytest.raises(StoreError, match="FOREIGN KEY constraint failed"):  # noqa: PT012 - the group is the unit
        with ingestor.commit_groups(got.extend, group_inputs=3, clock=_frozen) as add:
            for path in paths:
                for outcome in ingestor.ingest_file(path):
                    add(outcome, outcome.records)
            with store.transaction() as conn:  # a row SQLite refuses only at COMMIT
                conn.execute("PRAGMA defer_foreign_keys = ON")
                conn.execute("INSERT INTO report_warnings (report, code) VALUES (999999, 'x')")
    assert [Path(o.path).name for o in got] == ["r00.xml", "r01.xml", "r02.xml"]  # the first group's commit
    assert _visible(db_path) == (3, 6)
    assert not store.conn.in_transaction
    again: list[InputOutcome] = []
    ingestor.ingest_files(paths, again.extend, clock=_frozen)
    assert [o.status for o in again] == ["duplicate"] * 3 + ["ingested"]


def test_groups_do_not_nest(store: Store) -> None:
    with store.group(), pytest.raises(StoreError, match="do not nest"), store.group():
        pass
