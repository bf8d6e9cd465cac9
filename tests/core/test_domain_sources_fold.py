"""The whole-history rollup folded once per commit (migration 16): the daily rollup's triggers note changes in
``domain_sources_pending``, the store folds them into ``domain_sources`` before every commit. A committed store
holds the same rows and gives the same answers as before; no commit leaves a note; a rolled-back savepoint takes
its notes with it; a reader inside a write transaction, and a delete, never see domain_sources behind. Real
SQLite files, the real CLI and ingest."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from dmarcflow.ingest import Ingestor
from dmarcflow.models import Window
from dmarcflow.store import rollups as queries
from dmarcflow.store.schema import MIGRATIONS
from tests.conftest import SAMPLES
from tests.core.test_rollup_ids import _answers
from tests.support.old_schema import undo_domain_sources_notes
from tests.support.report_xml import record, report

# domain_sources as the daily rows summed: what it holds after every commit (and after every delete)
SUMMED = (
    f"SELECT domain, {queries._GROUP}, SUM(messages), SUM(CASE disposition WHEN 'quarantine' THEN messages ELSE 0 END), "
    f"SUM(CASE disposition WHEN 'reject' THEN messages ELSE 0 END), COUNT(*) FROM daily_sources "
    f"GROUP BY domain, {queries._GROUP} ORDER BY domain, {queries._GROUP}"
)
STORED = f"SELECT * FROM domain_sources ORDER BY domain, {queries._GROUP}"
NOTES = "SELECT COUNT(*) FROM domain_sources_pending"


def _check(db: Path) -> list[tuple[object, ...]]:
    """domain_sources of a committed store: no notes left, the daily rows summed. The rows."""
    with sqlite3.connect(db) as conn:
        assert conn.execute(NOTES).fetchone()[0] == 0
        stored = conn.execute(STORED).fetchall()
        assert stored == conn.execute(SUMMED).fetchall()
    return stored


def _write(folder: Path, name: str, body: bytes) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(body)
    return folder / name


def test_a_store_at_schema_15_migrates_and_goes_on_as_one_built_fresh(cli, tmp_path: Path) -> None:
    fresh, old = tmp_path / "fresh.sqlite", tmp_path / "old.sqlite"
    assert cli("--db", fresh, "ingest", "--offline", "--format", "json", SAMPLES).exit_code == 0
    shutil.copy(fresh, old)
    with sqlite3.connect(old, isolation_level=None) as conn:
        undo_domain_sources_notes(conn)  # the store as schema 15 left it: its triggers write domain_sources
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'domain_sources_pending'").fetchone() is None
    expected = _answers(cli, fresh)
    assert json.loads(expected["('summary',) ()"])["domains"]  # the answers hold data
    assert _answers(cli, old) == expected  # opening it migrated it
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 16
    # the writer goes on in both: a new report, one that adds to daily rows already there, a conflict, a reprocess
    more = tmp_path / "more"
    _write(more, "a.xml", report(record(ip="192.0.2.200", count="4") + record(), report_id="extra-a"))
    _write(more, "b.xml", report(record(count="9") + record(ip="192.0.2.200", disposition="reject"),
                                 report_id="extra-b"))
    _write(more, "c.xml", report(record(ip="192.0.2.200", count="5"), report_id="extra-a"))
    for db in (fresh, old):
        result = cli("--db", db, "ingest", "--offline", "--format", "json", more)
        assert result.exit_code == 0, result.output
        assert _check(db)
    again = _answers(cli, old)
    assert again == _answers(cli, fresh)
    assert again["whole"] != expected["whole"]
    for db in (fresh, old):
        assert cli("--db", db, "reprocess").exit_code == 0
        _check(db)
    assert _answers(cli, old) == _answers(cli, fresh) == again


def test_group_commits_leave_no_notes_and_a_rolled_back_report_none_of_its_own(
        db_path: Path, ingestor: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    paths = [
        _write(folder, "a.xml", report(record(ip="192.0.2.7", count="3") + record(), report_id="a")),
        # adds to a's daily rows, then fails on its last record: its savepoint (and its notes) rolled back
        _write(folder, "b.xml", report(record(ip="192.0.2.7", count="50") + record(count="many"), report_id="b")),
        _write(folder, "c.xml", report(record(ip="192.0.2.7", disposition="quarantine"), report_id="c")),
    ]
    statuses: list[str] = []
    ingestor.ingest_files([str(p) for p in paths], lambda outcomes: statuses.extend(o.status for o in outcomes),
                          group_inputs=10)
    assert statuses == ["ingested", "rejected", "ingested"]
    assert [r[-4:] for r in _check(db_path)] == [(3, 0, 0, 1), (6, 3, 0, 2)]  # b's 50 not among them


def test_a_reader_inside_the_transaction_answers_from_the_daily_rollup(db_path: Path, ingestor: Ingestor,
                                                                       tmp_path: Path) -> None:
    first = _write(tmp_path / "in", "a.xml", report(record(ip="192.0.2.7", count="3"), report_id="a"))
    second = _write(tmp_path / "in", "b.xml", report(record(ip="192.0.2.7", count="5") + record(), report_id="b"))
    list(ingestor.ingest_file(str(first)))
    store = ingestor.store
    before = queries.source_rows(store.conn, "example.com", Window())
    with store.group():
        list(ingestor.ingest_file(str(second)))
        assert store.conn.execute(NOTES).fetchone()[0] > 0  # not folded yet: the commit does it
        inside = queries.source_rows(store.conn, "example.com", Window())
        assert inside == [queries.SourceRow._make(r) for r in
                          queries.daily_source_rows(store.conn, "example.com", Window())]
        assert inside != before
    assert queries.source_rows(store.conn, "example.com", Window()) == inside
    _check(db_path)


def test_a_delete_after_unfolded_changes_keeps_the_table_equal_at_once(db_path: Path, ingestor: Ingestor,
                                                                       tmp_path: Path) -> None:
    """The delete trigger folds the notes before it subtracts: a daily row added and deleted in one transaction
    leaves domain_sources as it was, whatever was noted before."""
    first = _write(tmp_path / "in", "a.xml", report(record(ip="192.0.2.7", count="3"), report_id="a"))
    second = _write(tmp_path / "in", "b.xml", report(record(ip="192.0.2.8", count="5") + record(count="2"),
                                                     report_id="b", begin="1772409600", end="1772495999"))
    list(ingestor.ingest_file(str(first)))
    before = _check(db_path)
    store = ingestor.store
    with store.group():
        list(ingestor.ingest_file(str(second)))
        assert store.conn.execute(NOTES).fetchone()[0] > 0
        with store.transaction() as conn:
            conn.execute("DELETE FROM daily_rollup WHERE day = 1772409600 / 86400")
            assert conn.execute(NOTES).fetchone()[0] == 0
            assert conn.execute(STORED).fetchall() == conn.execute(SUMMED).fetchall() == before
    assert _check(db_path) == before
