"""The real ingest path for TLS and failure reports: detected by content, one outcome each, the kind reported."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.kinds.conftest import FAILURE_FILES, TLS_FILES
from tests.kinds.test_failure_parse import BODY_TEXTS, GOOD, _arf, _zip_bomb
from tests.kinds.test_tls_parse import EXPECTED as TLS_EXPECTED
from tests.support.imap_mail import mail_with_attachment
from tests.support.kind_samples import (
    FAILURE_DIR, TLS_DIR, _crlf, arf_mail, google_report, original_headers, plain_notice, tls_json,
)
from tests.support.report_xml import report


@pytest.mark.parametrize("name", TLS_FILES)
def test_every_tls_sample_is_found_by_its_content(name, ingestor, store):
    [outcome] = list(ingestor.ingest_file(str(TLS_DIR / name)))
    org, report_id, _, _, _, report_domain, _, policies, warnings = TLS_EXPECTED[name]
    assert (outcome.kind, outcome.status, outcome.reports, outcome.records, outcome.messages) == (
        "tls", "ingested", 1, len(policies), 0)
    stored = store.conn.execute("SELECT org_name, report_id, report_domain, warnings FROM tls_reports").fetchall()
    assert stored == [(org, report_id, report_domain, json.dumps(sorted(set(warnings) | set(outcome.warnings))))]
    assert set(warnings) <= set(outcome.warnings)
    [again] = list(ingestor.ingest_file(str(TLS_DIR / name)))
    assert (again.kind, again.status) == ("tls", "duplicate")


@pytest.mark.parametrize("name", FAILURE_FILES)
def test_every_failure_sample_is_one_failure_report(name, ingestor, store):
    [outcome] = list(ingestor.ingest_file(str(FAILURE_DIR / name)))
    assert (outcome.kind, outcome.status, outcome.reports, outcome.records, outcome.messages) == (
        "failure", "ingested", 1, 1, 0)
    assert store.conn.execute("SELECT count(*), count(sample) FROM failure_reports").fetchone() == (1, 0)
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 0  # nothing in the original was walked
    [again] = list(ingestor.ingest_file(str(FAILURE_DIR / name)))
    assert (again.kind, again.status) == ("failure", "duplicate")


def test_a_mail_with_an_aggregate_and_a_tls_report_is_mixed(ingestor, store):
    boundary = "mixed-b"
    raw = _crlf(
        f'From: reports@receiver.example\nSubject: reports\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain\n\nTwo reports.\n"
        f"--{boundary}\nContent-Type: application/gzip\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(gzip.compress(report(), mtime=0)).decode()
        + f"--{boundary}\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(tls_json(google_report())).decode() + f"--{boundary}--\n")
    outcome = ingestor.ingest_bytes("mixed.eml", raw)
    assert (outcome.kind, outcome.status, outcome.reports) == ("mixed", "ingested", 2)
    assert [(p.kind, p.status) for p in outcome.payloads if p.status != "skipped"] == [
        ("aggregate", "ingested"), ("tls", "ingested")]


def test_a_failure_report_s_original_is_never_walked(ingestor, store):
    """The original carries an aggregate-report-looking XML and a zip bomb: neither is read."""
    xml = base64.encodebytes(report(report_id="inside-the-original")).decode()
    bomb = base64.encodebytes(_zip_bomb(64 << 20)).decode()
    original = ("Content-Type: message/rfc822\n\n" + original_headers("o1@example.com", "Reports", "a@example.com",
                                                                      "Mon, 02 Mar 2026 10:00:00 +0000")
                + 'Content-Type: multipart/mixed; boundary="in"\n\n'
                "--in\nContent-Type: text/xml\nContent-Transfer-Encoding: base64\n\n" + xml
                + "--in\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n" + bomb + "--in--\n")
    outcome = ingestor.ingest_bytes("arf.eml", _arf(GOOD, original))
    assert (outcome.kind, outcome.status, outcome.reports) == ("failure", "ingested", 1)
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 0
    assert store.conn.execute("SELECT body_omitted, message_id FROM failure_reports").fetchone() == (1, "<o1@example.com>")


def test_a_notice_is_only_a_fallback(ingestor, store):
    """A mail whose text says DMARC failed but which carries an aggregate report is an aggregate report mail."""
    text = ("This DMARC aggregate report lists sources that failed.\n").encode()
    with_report = mail_with_attachment("Report Domain: example.com", report(), "r.xml", "text/xml").replace(
        b"See attachment.", text)
    outcome = ingestor.ingest_bytes("agg.eml", with_report)
    assert (outcome.kind, outcome.status) == ("aggregate", "ingested")
    assert store.conn.execute("SELECT count(*) FROM failure_reports").fetchone()[0] == 0
    notice = ingestor.ingest_bytes("notice.eml", plain_notice())
    assert (notice.kind, notice.status, notice.warnings) == (
        "failure", "ingested", ("missing_identity_alignment", "plain_text_notice"))


def test_json_that_is_no_report_and_broken_tls_reports(ingestor, store):
    other = ingestor.ingest_bytes("package.json", b'{"name": "x", "version": "1"}')
    assert (other.kind, other.status, other.reason) == (None, "rejected", "not_a_report")
    broken = ingestor.ingest_bytes("tls.json", tls_json(google_report())[:-30])
    assert (broken.kind, broken.status, broken.reason) == ("tls", "rejected", "malformed_json")
    kept = store.conn.execute("SELECT reason, raw_sha256 IS NOT NULL FROM rejected ORDER BY id").fetchall()
    assert kept == [("not_a_report", 1), ("malformed_json", 1)]


def test_a_feedback_report_of_another_type_is_rejected_naming_it(ingestor):
    outcome = ingestor.ingest_bytes("abuse.eml", _arf(GOOD.replace("auth-failure", "abuse")))
    assert (outcome.kind, outcome.status, outcome.reason, outcome.message) == (
        "failure", "rejected", "not_a_report",
        "a feedback report of type 'abuse', not a DMARC failure report (auth-failure)")


def test_keep_samples_keeps_the_mail(store, offline_enricher):
    from dmarcflow.config import Limits
    from dmarcflow.ingest import Ingestor

    keeping = Ingestor(store, offline_enricher, Limits(), keep_failure_samples=True)
    raw = (FAILURE_DIR / "email-arf-crlf-rfc822.eml").read_bytes()
    assert keeping.ingest_bytes("a.eml", raw).status == "ingested"
    from dmarcflow.store.failures import FailureReports

    assert FailureReports(store).sample(1) == raw


def test_a_forwarded_failure_report_is_found_inside_its_mail(ingestor, store):
    inner = (FAILURE_DIR / "email-arf-rfc822-headers.eml").read_bytes().decode()
    raw = _crlf('From: admin@example.com\nSubject: Fwd: failure\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="f"\n\n'
                "--f\nContent-Type: text/plain\n\nsee below\n--f\nContent-Type: message/rfc822\n\n" + inner + "\n--f--\n")
    outcome = ingestor.ingest_bytes("fwd.eml", raw)
    assert (outcome.kind, outcome.status) == ("failure", "ingested")
    assert store.conn.execute("SELECT source_ip, reporter FROM failure_reports").fetchone() == ("198.51.100.23", "isp.example")


def test_cli_ingest_reports_and_reprocess_cover_every_kind(cli, db_path, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "agg.xml").write_bytes(report())
    (folder / "tls.json.gz").write_bytes(gzip.compress(tls_json(google_report()), mtime=0))
    (folder / "ruf.eml").write_bytes((FAILURE_DIR / "email-arf-crlf-rfc822.eml").read_bytes())
    result = cli("--db", db_path, "ingest", "--offline", "--format", "json", folder)
    assert result.exit_code == 0
    assert [(r["path"].rsplit("/", 1)[1], r["kind"], r["status"]) for r in json.loads(result.stdout)] == [
        ("agg.xml", "aggregate", "ingested"), ("ruf.eml", "failure", "ingested"), ("tls.json.gz", "tls", "ingested")]
    listed = json.loads(cli("--db", db_path, "reports", "--format", "json").stdout)
    rows = listed if isinstance(listed, list) else listed["rows"]
    assert [(r["kind"], r["domain"], r["begin"]) for r in rows] == [
        ("aggregate", "example.com", "2026-03-01T00:00:00Z"), ("tls", "example.com", "2026-03-01T00:00:00Z"),
        ("failure", "example.com", "2026-03-02T10:12:31Z")]
    only = json.loads(cli("--db", db_path, "reports", "--kind", "tls", "--format", "json").stdout)
    assert [r["report_id"] for r in (only if isinstance(only, list) else only["rows"])] == [
        "2026-03-01T00:00:00Z_example.com"]
    table = cli("--db", db_path, "reports").stdout.splitlines()
    assert table[0].split() == ["kind", "id", "org_name", "domain", "begin", "records", "messages", "status"]
    assert [line.split()[0] for line in table[2:]] == ["aggregate", "tls", "failure"]
    again = cli("--db", db_path, "reprocess")
    assert (again.exit_code, again.stderr.splitlines()) == (0, [
        "reprocessed 1 report(s): 1 records, 3 messages", "reprocessed 1 SMTP TLS report(s): 1 policies",
        "reprocessed 1 DMARC failure report(s)"])
    out = cli("--db", db_path, "failures", "--format", "json").stdout
    assert [t for t in BODY_TEXTS if t in out] == []


def test_a_failure_mail_without_any_date_is_rejected_cleanly(ingestor):
    raw = _crlf(arf_mail(boundary="nd", reporter="r@reporter.example", feedback="Feedback-Type: auth-failure\nSource-IP: 192.0.2.1\n",
                         original_part="Content-Type: text/rfc822-headers\n\nFrom: a@example.com\n").replace(
        "Date: Mon, 02 Mar 2026 10:15:00 +0000\n", ""))
    outcome = ingestor.ingest_bytes("nd.eml", raw)
    assert (outcome.kind, outcome.status, outcome.reason) == ("failure", "rejected", "missing_field")


def test_a_200_mb_json_file_is_too_large_and_read_only_to_the_limit(ingestor, store, tmp_path):
    from dmarcflow.kinds.tls import LIMITS

    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.write(b'{"organization-name": "x", "pad": "')
        chunk = b"a" * (1 << 20)
        for _ in range(200):
            fh.write(chunk)
        fh.write(b'"}')
    [outcome] = list(ingestor.ingest_file(str(path)))
    assert (outcome.kind, outcome.status, outcome.reason, outcome.message) == (
        "tls", "rejected", "too_large",
        f"the SMTP TLS report is larger than {LIMITS.max_bytes} bytes; it is refused unread")
    assert store.conn.execute("SELECT count(*) FROM tls_reports").fetchone()[0] == 0
