"""Verdicts stored once (migration 14): a migrated store answers exactly as one built fresh, and the verdict
ids a store caches never outlive a rolled-back savepoint. Real SQLite files, the real CLI and ingest."""

from __future__ import annotations

import json
import sqlite3
import zlib
from pathlib import Path

from dmarcflow.ingest import Ingestor
from dmarcflow.store import Store, raw_xml
from dmarcflow.store.schema import MIGRATIONS, _statements
from tests.conftest import SAMPLES
from tests.support.report_xml import record, report

WINDOW = ("--since", "2026-01-01", "--until", "2026-12-31")


def _schema_12_copy(fresh: Path, old: Path) -> None:
    """The store as dmarcflow with schema 12 wrote it: every table copied, records as the old table."""
    conn = sqlite3.connect(old, isolation_level=None)
    for script in MIGRATIONS[:12]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 12")
    conn.execute("ATTACH DATABASE ? AS fresh", (str(fresh),))
    tables = [name for (name,) in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
    for table in tables:  # records included: the fresh store's view has the old table's columns, in order
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM fresh.{table}")
    conn.execute("DETACH DATABASE fresh")
    conn.close()


def _answers(cli, db: Path) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, args in (("summary", ("summary", "--format", "json", *WINDOW)),
                       ("senders", ("senders", "example.com", "--format", "json", *WINDOW)),
                       ("reports", ("reports", "--format", "json"))):
        result = cli("--db", db, *args)
        assert result.exit_code == 0, result.output
        out[name] = json.loads(result.output)
    with Store.open_readonly(db) as store:
        out["detail"] = [[(r.position, r.record) for r in store.reports.records(pk, 0, 10_000)]
                         for (pk,) in store.conn.execute("SELECT id FROM reports ORDER BY id")]
        out["records"] = store.conn.execute("SELECT * FROM records ORDER BY id").fetchall()
        out["rollup"] = store.conn.execute("SELECT * FROM daily_sources ORDER BY 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"
                                           ).fetchall()
        out["report_sources"] = store.conn.execute("SELECT * FROM report_sources ORDER BY 1, 2, 3").fetchall()
    return out


def test_a_store_migrated_from_schema_12_answers_as_one_built_fresh(cli, tmp_path: Path) -> None:
    fresh, old = tmp_path / "fresh.sqlite", tmp_path / "old.sqlite"
    assert cli("--db", fresh, "ingest", "--offline", "--format", "json", SAMPLES).exit_code == 0
    _schema_12_copy(fresh, old)
    with sqlite3.connect(old) as conn:
        assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 242
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'records'").fetchone()[0] == "table"
    expected = _answers(cli, fresh)
    assert _answers(cli, old) == expected  # opening it for writing migrated it
    assert len(expected["records"]) == 242  # type: ignore[arg-type]
    with sqlite3.connect(old) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'records'").fetchone()[0] == "view"
        assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 146
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    # a reprocess of the migrated store rewrites the same records and rollups as one of the fresh store
    for db in (fresh, old):
        assert cli("--db", db, "reprocess").exit_code == 0
    again = _answers(cli, old)
    assert again == _answers(cli, fresh)
    assert again["detail"] == expected["detail"]
    assert again["rollup"] == expected["rollup"]


def test_a_verdict_added_in_a_rolled_back_savepoint_is_added_again(db_path: Path, store: Store, ingestor: Ingestor,
                                                                  tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    new_verdict = record(ip="192.0.2.7", header_from="new.example.com", disposition="quarantine")
    # the first report adds the verdict, then fails on its second record: its savepoint is rolled back
    (folder / "a.xml").write_bytes(report(new_verdict + record(count="many"), report_id="a"))
    (folder / "b.xml").write_bytes(report(new_verdict, report_id="b"))
    statuses: list[str] = []
    ingestor.ingest_files([str(folder / "a.xml"), str(folder / "b.xml")],
                          lambda outcomes: statuses.extend(o.status for o in outcomes), group_inputs=10)
    assert statuses == ["rejected", "ingested"]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT header_from, disposition, count FROM records").fetchall() == [
            ("new.example.com", "quarantine", 3)]
        assert conn.execute("SELECT count(*) FROM verdicts WHERE header_from = 'new.example.com'").fetchone()[0] == 1
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_reports_share_their_verdicts(db_path: Path, ingestor: Ingestor, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for n in range(6):
        body = record(ip=f"192.0.2.{n + 1}") + record(ip=f"198.51.100.{n + 1}", spf="fail", count="2")
        paths.append(folder / f"r{n}.xml")
        paths[-1].write_bytes(report(body, report_id=f"id-{n}"))
    ingestor.ingest_files([str(p) for p in paths], lambda outcomes: None, group_inputs=4)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT verdict) FROM record_rows").fetchone() == (12, 2)
        assert conn.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2


def test_raw_xml_is_kept_with_the_dictionary_and_copies_kept_without_it_still_read(store: Store, ingestor: Ingestor,
                                                                                     tmp_path: Path) -> None:
    xml = report(record() + record(ip="192.0.2.99", count="8"))
    path = tmp_path / "r.xml"
    path.write_bytes(xml)
    assert [o.status for o in ingestor.ingest_file(str(path))] == ["ingested"]
    blob = store.conn.execute("SELECT raw_xml FROM reports").fetchone()[0]
    assert blob[1] & 0x20  # FDICT: the stream names its preset dictionary
    assert zlib.decompressobj(zdict=raw_xml.DICTIONARY).decompress(blob) == xml
    kept = store.open_raw_xml(1)
    assert kept is not None
    with kept:
        assert kept.read() == xml
    with store.transaction():  # a copy as dmarcflow kept it before the dictionary
        store.conn.execute("UPDATE reports SET raw_xml = ?", (zlib.compress(xml, 3),))
    kept = store.open_raw_xml(1)
    assert kept is not None
    with kept:
        assert kept.read() == xml
