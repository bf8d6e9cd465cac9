"""The daily rollup by dictionary ids (migration 15): a store migrated from schema 14 answers exactly as one built
fresh, the writer's id caches never outlive a rolled-back savepoint, and the bounded caches and batches give the
same rows. Real SQLite files, the real CLI and ingest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from dmarcflow.ingest import Ingestor
from dmarcflow.models import Window
from dmarcflow.store import Store, record_writer, rollup_ids
from dmarcflow.store.figures import read_figures
from dmarcflow.store.schema import MIGRATIONS, _statements
from tests.conftest import SAMPLES
from tests.support.report_xml import record, report

WINDOWS = (("--since", "2000-01-01", "--until", "2030-12-31"), ("--since", "2018-01-01", "--until", "2018-03-31"), ())
ROLLUP = "SELECT * FROM daily_sources ORDER BY 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"


def _schema_14_copy(fresh: Path, old: Path) -> None:
    """The store as dmarcflow with schema 14 wrote it: its tables by migrations 1-14, each filled from the fresh
    store (daily_sources from its view, which has the old table's columns in order); domain_sources by the old
    triggers, as the old writer's inserts fired them."""
    conn = sqlite3.connect(old, isolation_level=None)
    for script in MIGRATIONS[:14]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 14")
    conn.execute("ATTACH DATABASE ? AS fresh", (str(fresh),))
    tables = [name for (name,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
    for table in tables:
        if table != "domain_sources":
            conn.execute(f"INSERT INTO main.{table} SELECT * FROM fresh.{table}")
    conn.execute("DETACH DATABASE fresh")
    conn.close()


def _rollup_reads(db: Path) -> dict[str, Any]:
    """Every store reader of the rollups, for each domain and a long, a short and an empty window."""
    out: dict[str, Any] = {}
    with Store.open_readonly(db) as store:
        domains = store.reports.domains()
        ips = [ip for (ip,) in store.conn.execute("SELECT DISTINCT source_ip FROM records ORDER BY 1")]
        for domain in domains:
            for window in (Window(), Window(17532, 17622), Window(17600, 17601), Window(0, 1)):
                span = (window.first_day, window.last_day)
                out[f"{domain} {span}"] = (
                    store.rollups.source_rows(domain, window), store.rollups.domain_totals(domain, window),
                    store.series.domain_days(domain, *span), store.series.source_days(domain, ips[:3], *span),
                    store.series.source_auth(domain, ips, *span))
        out["every"] = store.series.every_domain_days(0, 40000)
        out["rows"] = store.conn.execute(ROLLUP).fetchall()
        out["whole"] = store.conn.execute("SELECT * FROM domain_sources ORDER BY 1,2,3,4,5,6,7,8,9,10,11,12").fetchall()
        days = {d for (d,) in store.conn.execute("SELECT DISTINCT day FROM daily_sources")}
    out["figures"] = [read_figures(db, day) for day in sorted(days)]
    return out


def _answers(cli, db: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for window in WINDOWS:
        for args in (("summary",), ("senders", "example.com")):
            result = cli("--db", db, *args, "--format", "json", *window)
            assert result.exit_code == 0, result.output
            out[f"{args} {window}"] = result.output  # the bytes, not only what they parse to
    return {**out, **_rollup_reads(db)}


def test_a_store_migrated_from_schema_14_answers_as_one_built_fresh(cli, tmp_path: Path) -> None:
    fresh, old = tmp_path / "fresh.sqlite", tmp_path / "old.sqlite"
    assert cli("--db", fresh, "ingest", "--offline", "--format", "json", SAMPLES).exit_code == 0
    _schema_14_copy(fresh, old)
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'daily_sources'").fetchone()[0] == "table"
        assert conn.execute("SELECT count(*), sum(messages) FROM daily_sources").fetchone() == (210, 24310)
    expected = _answers(cli, fresh)
    assert json.loads(expected["('summary',) ()"])["domains"]  # the answers hold data
    assert _answers(cli, old) == expected  # opening it migrated it (a reader migrates an older store)
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'daily_sources'").fetchone()[0] == "view"
        assert conn.execute("SELECT count(*) FROM daily_rollup").fetchone()[0] == 210
        assert conn.execute("SELECT count(*) FROM rollup_verdicts").fetchone()[0] == 53
        names = conn.execute("SELECT count(*) FROM rollup_names").fetchone()[0]
        assert names == conn.execute("SELECT count(*) FROM (SELECT domain FROM reports WHERE status = 'active' "
                                     "UNION SELECT source_ip FROM records)").fetchone()[0]
    # the writer goes on from the migration's ids: a new report, then a reprocess, in both stores
    extra = tmp_path / "extra.xml"
    extra.write_bytes(report(record(ip="192.0.2.200", count="4") + record(), report_id="extra"))
    for db in (fresh, old):
        assert cli("--db", db, "ingest", "--offline", "--format", "json", extra).exit_code == 0
    again = _answers(cli, old)
    assert again == _answers(cli, fresh)
    assert again["rows"] != expected["rows"]
    for db in (fresh, old):
        assert cli("--db", db, "reprocess").exit_code == 0
    assert _answers(cli, old) == _answers(cli, fresh) == again


def test_rollup_ids_added_in_a_rolled_back_savepoint_are_added_again(db_path: Path, ingestor: Ingestor,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    new = record(ip="192.0.2.7", header_from="new.example.com", disposition="quarantine")
    # the first report adds its IP and rollup verdict, then fails on its second record: its savepoint is rolled back
    (folder / "a.xml").write_bytes(report(new + record(count="many"), report_id="a"))
    (folder / "b.xml").write_bytes(report(new, report_id="b"))
    statuses: list[str] = []
    ingestor.ingest_files([str(folder / "a.xml"), str(folder / "b.xml")],
                          lambda outcomes: statuses.extend(o.status for o in outcomes), group_inputs=10)
    assert statuses == ["rejected", "ingested"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT source_ip, header_from, disposition, messages FROM daily_sources").fetchall() == [
            ("192.0.2.7", "new.example.com", "quarantine", 3)]
        assert conn.execute("SELECT name FROM rollup_names ORDER BY 1").fetchall() == [("192.0.2.7",), ("example.com",)]
        assert conn.execute("SELECT count(*) FROM rollup_verdicts").fetchone()[0] == 1


@pytest.mark.parametrize("tiny", [False, True])
def test_bounded_caches_and_batches_give_the_same_rows(cli, tmp_path: Path, monkeypatch, tiny: bool) -> None:
    """Caches cleared every few entries and sums merged every two rows: the same rollup as one pass."""
    reference = tmp_path / "reference.sqlite"
    assert cli("--db", reference, "ingest", "--offline", "--format", "json", SAMPLES).exit_code == 0
    if tiny:
        monkeypatch.setattr(rollup_ids, "_NAMES_MAX", 3)
        monkeypatch.setattr(rollup_ids, "_VERDICTS_MAX", 2)
        monkeypatch.setattr(record_writer, "_ROLLUP_BATCH", 2)
    db = tmp_path / "store.sqlite"
    assert cli("--db", db, "ingest", "--offline", "--format", "json", SAMPLES).exit_code == 0
    assert _rollup_reads(db) == _rollup_reads(reference)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT name) FROM rollup_names").fetchone() == (
            conn.execute("SELECT count(*) FROM (SELECT domain FROM daily_sources UNION SELECT source_ip "
                         "FROM daily_sources)").fetchone()[0],) * 2
