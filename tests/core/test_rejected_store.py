"""Rejected inputs are kept once per (input, payload, reason, bytes), with a seen count; too-large ones are described."""

from __future__ import annotations

import hashlib
import json
import sqlite3

from dmarcflow.store import Store
from dmarcflow.store.rejected import KEEP_MAX_BYTES
from dmarcflow.store.schema import MIGRATIONS
from tests.support.report_xml import record, report

BAD = report(record(count="lots"), report_id="bad-1")


def _rejected(cli, db) -> list[dict]:
    result = cli("--db", db, "rejected", "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_same_bad_file_twice_is_one_row_seen_twice(cli, db_path, tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_bytes(BAD)
    first = cli("--db", db_path, "ingest", "--offline", bad)
    second = cli("--db", db_path, "ingest", "--offline", bad)
    assert (first.exit_code, second.exit_code) == (1, 1)
    rows = _rejected(cli, db_path)
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("id", "input", "payload", "reason", "seen_count", "raw_kept", "size", "sha256")} == {
        "id": 1, "input": str(bad), "payload": str(bad), "reason": "invalid_value", "seen_count": 2, "raw_kept": True,
        "size": len(BAD), "sha256": hashlib.sha256(BAD).hexdigest(),
    }
    assert row["raw_sha256"] == row["sha256"]
    assert row["last_seen_at"] >= row["rejected_at"]
    table = cli("--db", db_path, "rejected").stdout.splitlines()
    assert table[0].split() == ["id", "input", "reason", "seen_count", "message"]
    assert table[2].split()[2:4] == ["invalid_value", "2"]


def test_other_bytes_or_another_name_are_other_rows(cli, db_path, tmp_path):
    (tmp_path / "a").mkdir()
    bad, copy = tmp_path / "a" / "bad.xml", tmp_path / "copy.xml"
    bad.write_bytes(BAD)
    copy.write_bytes(BAD)
    cli("--db", db_path, "ingest", "--offline", bad, copy)
    bad.write_bytes(BAD.replace(b"lots", b"many"))
    cli("--db", db_path, "ingest", "--offline", bad)
    rows = _rejected(cli, db_path)
    assert [(r["input"], r["seen_count"]) for r in rows] == [(str(bad), 1), (str(copy), 1), (str(bad), 1)]
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM raw_inputs").fetchone()[0] == 2  # the same bytes are kept once


def test_an_input_too_large_to_keep_is_recorded_with_its_size_and_sha256(cli, db_path, tmp_path):
    huge = tmp_path / "huge.xml"
    head = b'<?xml version="1.0"?><feedback>'
    with open(huge, "wb") as fh:  # sparse: costs no disk space
        fh.write(head)
        fh.truncate(KEEP_MAX_BYTES + 1)
    digest = hashlib.sha256()
    with open(huge, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    result = cli("--db", db_path, "ingest", "--offline", "--format", "json", huge)
    assert result.exit_code == 1
    assert json.loads(result.stdout)[0]["status"] == "rejected"
    (row,) = _rejected(cli, db_path)
    assert (row["size"], row["sha256"], row["raw_kept"], row["raw_sha256"]) == (
        KEEP_MAX_BYTES + 1, digest.hexdigest(), False, None)
    assert row["message"].endswith(
        f"(its {KEEP_MAX_BYTES + 1} bytes were not kept: larger than the 256 MiB the store keeps of a rejected input)")
    saved = cli("--db", db_path, "rejected", "--save", row["id"], "--output", tmp_path / "out.xml")
    assert (saved.exit_code, saved.stderr.strip()) == (
        1, f"Error: no raw bytes kept for rejected input {row['id']} (unknown id, or the file was too large to keep)")
    again = cli("--db", db_path, "ingest", "--offline", huge)
    assert again.exit_code == 1
    assert [r["seen_count"] for r in _rejected(cli, db_path)] == [2]


def test_the_migration_merges_repeats_an_older_store_recorded(tmp_path):
    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:
        for script in MIGRATIONS[:4]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 4")
        conn.execute("INSERT INTO raw_inputs VALUES ('aa', 3, x'00')")
        rows = [("a.xml", "a.xml", "empty", "m", "aa", "2026-01-01T00:00:00Z"),
                ("a.xml", "a.xml", "empty", "m", "aa", "2026-01-03T00:00:00Z"),
                ("a.xml", "a.xml", "empty", "m", "aa", "2026-01-02T00:00:00Z"),
                ("imap://x/INBOX/7", "imap://x/INBOX/7", "too_large", "n", None, "2026-01-01T00:00:00Z"),
                ("imap://x/INBOX/7", "imap://x/INBOX/7", "too_large", "n", None, "2026-01-05T00:00:00Z"),
                ("b.xml", "b.xml", "empty", "m", "aa", "2026-01-04T00:00:00Z")]
        conn.executemany("INSERT INTO rejected (input, payload, reason, message, raw_sha256, rejected_at) VALUES (?,?,?,?,?,?)", rows)
    conn.close()
    with Store.open(db) as store:
        got = [(r.id, r.input, r.seen_count, r.rejected_at, r.last_seen_at, r.size) for r in store.rejected_inputs()]
    assert got == [
        (1, "a.xml", 3, "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z", 3),
        (4, "imap://x/INBOX/7", 2, "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", None),
        (6, "b.xml", 1, "2026-01-04T00:00:00Z", "2026-01-04T00:00:00Z", 3),
    ]


def test_the_migration_marks_ips_an_earlier_crash_left_without_facts(tmp_path, offline_enricher):
    from dmarcflow.config import Limits
    from dmarcflow.ingest import Ingestor

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as conn:  # a store of the previous release, after a crash before the facts
        for script in MIGRATIONS[:3]:
            conn.executescript(script)
        conn.execute("PRAGMA user_version = 3")
        conn.execute("INSERT INTO reports (id, org_name, report_id, domain, begin_ts, end_ts, schema, records_hash, "
                     "status, ingested_at) VALUES (1, 'o', 'r', 'example.com', 0, 86399, 'rfc7489', 'h', 'active', 'x')")
        for position, ip in enumerate(["192.0.2.7", "192.0.2.8", "192.0.2.8"]):
            conn.execute("INSERT INTO records (report, position, source_ip, count, disposition, dkim_eval, spf_eval, "
                         "header_from, reasons, dkim, spf, dmarc_pass, dkim_aligned, spf_aligned, class) "
                         "VALUES (1, ?, ?, 1, 'none', 'pass', 'pass', 'example.com', '[]', '[]', '[]', 1, 1, 1, 'authorised')",
                         (position, ip))
        conn.execute("INSERT INTO ip_info (ip, sender, updated_at) VALUES ('192.0.2.7', '192.0.2.7', 'x')")
    conn.close()
    with Store.open(db) as store:
        assert store.pending_ips() == ["192.0.2.8"]
        assert Ingestor(store, offline_enricher, Limits()).complete_enrichment() == 1
        assert store.pending_ips() == []
        assert store.known_ips(["192.0.2.7", "192.0.2.8"], need_rdns=False) == {"192.0.2.7", "192.0.2.8"}
