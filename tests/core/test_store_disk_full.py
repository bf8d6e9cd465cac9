"""Disk full inside a transaction: one clear line, exit 1, the outcomes done so far printed, nothing damaged.

The store lives on a real 1 MiB tmpfs mounted by the test (root only; skipped otherwise).
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.support.filesystems import remount, tmpfs
from tests.support.report_xml import record, report

FILES = 12
DISK_FULL = ("the disk is full (database or disk is full): free some space and run the command again; "
             "everything stored before this point is kept")


@pytest.fixture(autouse=True)
def _a_commit_per_report(monkeypatch):
    """Each report of 600 records its own commit, so that some commits succeed before the disk is full."""
    monkeypatch.setattr("dmarcflow.ingest.GROUP_RECORDS", 600)


def _inputs(folder):
    folder.mkdir()
    for n in range(FILES):
        body = "".join(record(ip=f"10.{n}.{i // 250}.{i % 250 + 1}", count=str(i + 1)) for i in range(600))
        (folder / f"r{n:02d}.xml").write_bytes(report(body, report_id=f"big-{n}"))


def test_disk_full_is_one_line_exit_1_with_the_outcomes_so_far(cli, tmp_path):
    _inputs(tmp_path / "in")
    with tmpfs(tmp_path / "small", "1m") as small:
        db = small / "store.sqlite"
        result = cli("--db", db, "ingest", "--offline", "--format", "json", tmp_path / "in")
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [f"Error: cannot write to the store at {db}: {DISK_FULL}"]
        assert "Traceback" not in result.stderr and "rollback" not in result.stderr
        done = json.loads(result.stdout)
        assert 1 <= len(done) < FILES
        assert {row["status"] for row in done} == {"ingested"}
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = [r[0] for r in conn.execute("SELECT report_id FROM reports ORDER BY id")]
        assert stored == [f"big-{n}" for n in range(len(done))]

        remount(small, "size=64m")  # space freed: the same command finishes the job
        again = cli("--db", db, "ingest", "--offline", "--format", "json", tmp_path / "in")
        assert again.exit_code == 0, again.stderr
        assert [r["status"] for r in json.loads(again.stdout)] == ["duplicate"] * len(done) + ["ingested"] * (FILES - len(done))
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*), count(DISTINCT report_id) FROM reports").fetchone() == (FILES, FILES)
            assert conn.execute("SELECT count(*) FROM ip_pending").fetchone()[0] == 0
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_disk_full_in_table_format_prints_the_summary_then_the_error(cli, tmp_path):
    _inputs(tmp_path / "in")
    with tmpfs(tmp_path / "small", "1m") as small:
        db = small / "store.sqlite"
        result = cli("--db", db, "ingest", "--offline", tmp_path / "in")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == f"Error: cannot write to the store at {db}: {DISK_FULL}"
    assert lines[-2].endswith("new message(s) stored") and " ingested;" in lines[-2]
    assert result.stdout.splitlines()[0].split() == ["path", "status", "reason", "reports", "records", "messages"]
