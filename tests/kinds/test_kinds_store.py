"""The TLS and failure tables on a real SQLite file: dedupe, conflicts, exact counts, privacy by default."""

from __future__ import annotations

import json
import sqlite3

from dmarcflow.kinds.failure import parse_failure_mail
from dmarcflow.kinds.tls import parse_tls
from dmarcflow.store import Store
from dmarcflow.store.failures import FailureReports
from dmarcflow.store.schema import MIGRATIONS
from dmarcflow.store.tls import TlsReports
from tests.kinds.conftest import FAILURE_FILES, TLS_FILES, store_failure_sample, store_tls_sample
from tests.kinds.test_failure_parse import BODY_TEXTS
from tests.support.kind_samples import FAILURE_DIR, arf_crlf, google_report, tls_json


def _save_tls(store: Store, data: bytes, source: str = "x.json"):
    with store.transaction():
        return TlsReports(store).save(parse_tls(data), source=source, raw=data)


def test_the_schema_has_the_kind_tables(store):
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"tls_reports", "tls_policies", "tls_failures", "failure_reports"} <= tables
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_tls_same_content_is_a_duplicate_other_content_a_kept_conflict(store):
    first = _save_tls(store, tls_json(google_report()))
    again = _save_tls(store, json.dumps(google_report(), separators=(",", ":")).encode(), "y.json")
    other = _save_tls(store, tls_json(google_report(failed=40)), "z.json")
    other_again = _save_tls(store, tls_json(google_report(failed=40)), "z2.json")
    assert [(s.status, s.policies, s.sessions) for s in (first, again, other, other_again)] == [
        ("ingested", 1, 1547), ("duplicate", 1, 1547), ("conflict", 1, 1550), ("duplicate", 1, 1550)]
    rows = store.conn.execute("SELECT id, status, conflict_of, successful, failed, source FROM tls_reports ORDER BY id").fetchall()
    assert rows == [(1, "active", None, 1510, 37, "x.json"), (2, "conflict", 1, 1510, 40, "z.json")]


def test_tls_rows_hold_every_policy_and_failure_detail(kinds_store):
    conn = kinds_store.conn
    assert conn.execute("SELECT count(*), sum(successful), sum(failed) FROM tls_reports").fetchone() == (10, 15551, 113)
    assert conn.execute("SELECT count(*) FROM tls_policies").fetchone()[0] == 14
    assert conn.execute("SELECT count(*), sum(failed_sessions) FROM tls_failures").fetchone() == (12, 113)
    policy = conn.execute(
        "SELECT policy_type, policy_domain, policy_strings, mx_hosts, successful, failed FROM tls_policies "
        "WHERE report = (SELECT id FROM tls_reports WHERE report_id = 'kestrel-2026-03-02-example.net') ORDER BY position"
    ).fetchall()
    assert policy == [
        ("sts", "example.net", json.dumps(["version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 86400"]),
         json.dumps(["mx.example.net"]), 310, 4),
        ("no-policy-found", "example.net", "[]", "[]", 55, 0),
    ]
    listed = TlsReports(kinds_store).reports("example.net")
    assert [(r.org_name, r.policy_domains, r.policies, r.warnings) for r in listed] == [
        ("Kestrel Net", ("example.net",), 2, ("null_contact_info", "missing_policy_domain"))] * 2


def test_tls_counts_at_the_64_bit_limit_are_stored_exactly(store):
    report = google_report()
    report["policies"][0]["summary"]["total-successful-session-count"] = 2**63 - 1
    report["policies"][0]["summary"]["total-failure-session-count"] = 0
    report["policies"][0]["failure-details"] = []
    _save_tls(store, tls_json(report))
    assert store.conn.execute("SELECT successful FROM tls_policies").fetchone()[0] == 2**63 - 1


def test_tls_raw_json_is_kept_and_replace_rewrites_the_policies(store):
    data = tls_json(google_report())
    _save_tls(store, data)
    repo = TlsReports(store)
    [(pk, _, _, raw)] = list(repo.raw_reports())
    assert raw == data
    with store.transaction():
        repo.replace(pk, parse_tls(tls_json(google_report(failed=5))))
    assert store.conn.execute("SELECT failed FROM tls_reports").fetchone()[0] == 5
    assert store.conn.execute("SELECT count(*), sum(failed) FROM tls_policies").fetchone() == (1, 5)
    assert store.conn.execute("SELECT count(*) FROM tls_failures").fetchone()[0] == 1


def test_failure_identity_dedupes(store):
    first = store_failure_sample(store, "email-arf-crlf-rfc822.eml")
    again = store_failure_sample(store, "email-arf-crlf-rfc822.eml")
    assert (first.status, again.status) == ("ingested", "duplicate")
    assert store.conn.execute("SELECT count(*) FROM failure_reports").fetchone()[0] == 1


def test_failure_rows_read_back_as_stored(kinds_store):
    rows = FailureReports(kinds_store).reports()
    assert [(r.source_ip, r.reported_domain, r.auth_failure, r.identity_alignment, r.sample_kept) for r in rows] == [
        ("203.0.113.99", "example.com", ("dmarc",), None, False),
        ("2001:db8::66", "example.org", ("dkim", "spf"), ("dkim",), False),
        ("198.51.100.23", "example.net", ("dmarc",), None, False),
        ("203.0.113.66", "example.com", ("dmarc",), (), False),
    ]
    assert [r.source_ip for r in FailureReports(kinds_store).reports("example.com", limit=1)] == ["203.0.113.99"]


def _file_text(path) -> bytes:
    """Every byte of the store (checkpointed, so the WAL holds nothing more)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.read_bytes()


def test_by_default_no_body_reaches_the_store_file(db_path):
    with Store.open(db_path) as store:
        for name in FAILURE_FILES:
            store_failure_sample(store, name)
    data = _file_text(db_path)
    assert [t for t in BODY_TEXTS if t.encode() in data] == []
    assert b"Invoice March 2026" in data  # the headers are kept


def test_keep_samples_keeps_the_whole_mail(db_path):
    with Store.open(db_path) as store:
        store_failure_sample(store, "email-arf-crlf-rfc822.eml", keep_sample=True)
        [row] = FailureReports(store).reports()
        assert row.sample_kept is True
        assert FailureReports(store).sample(row.id) == (FAILURE_DIR / "email-arf-crlf-rfc822.eml").read_bytes()


def test_failure_replace_keeps_identity_and_sample(store):
    raw = arf_crlf()
    with store.transaction():
        FailureReports(store).save(parse_failure_mail(raw), source="a.eml", sample=raw)
    changed = parse_failure_mail(raw.replace(b"Delivery-Result: reject", b"Delivery-Result: spam"))
    with store.transaction():
        FailureReports(store).replace(1, changed)
    [row] = FailureReports(store).reports()
    assert (row.delivery_result, row.sample_kept) == ("spam", True)
    assert store.conn.execute("SELECT count(*) FROM failure_reports").fetchone()[0] == 1


def test_every_tls_sample_stores_once(store):
    statuses = [store_tls_sample(store, n).status for n in TLS_FILES]
    again = [store_tls_sample(store, n).status for n in TLS_FILES]
    assert statuses == ["ingested"] * len(TLS_FILES) and again == ["duplicate"] * len(TLS_FILES)
