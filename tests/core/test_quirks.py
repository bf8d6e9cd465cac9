"""Quirks of real reporters: read, with a warning code recorded on the report; broken structure stays a rejection."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from benchmarks.zips import Entry, raw_zip
from tests.support.hostile import encoded, gzipped, mail, record, report, zip_of

GOOD = report()
NO_ORG = report(org="").replace(b"<email>noreply-dmarc@</email>", b"<email>DMARC Reports &lt;dmarc@Reports.Receiver.Example&gt;</email>")
BARE_ORG = (report(org="").replace(b"<email>noreply-dmarc@</email>", b"")
            .replace(b"<org_name></org_name>", b""))
LEGACY = (report(record(), version="", policy="<p>none</p>")
          .replace(b"<dkim>pass</dkim><spf>pass</spf>", b"")
          .replace(b"receiver.example</org_name>", "Empfänger GmbH</org_name>".encode()))


def legacy_cp1252() -> bytes:
    """A 2012-era report: declared windows-1252, policy_evaluated holds only the disposition."""
    return encoded(LEGACY, "cp1252", "windows-1252")


def gateway_mail(misplaced: str) -> bytes:
    """A large gateway's report mail: not multipart, the whole body base64 gzip, under odd headers."""
    b64 = base64.encodebytes(gzipped(GOOD))
    head = (b"From: dmarc-noreply@gateway.example\r\nTo: dmarc@example.com\r\nSubject: Report Domain: example.com\r\n"
            b"MIME-Version: 1.0\r\n")
    if misplaced == "folded":  # the transfer encoding folded into the header before it: never seen by a parser
        head += b'Content-Type: application/gzip;\r\n name="report.xml.gz"\r\nX-Mailer: gateway\r\n Content-Transfer-Encoding: base64\r\n'
        return head + b"\r\n" + b64
    # the part headers after the blank line, in the body
    return (head + b"X-Mailer: gateway\r\n\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="report.xml.gz"\r\n\r\n' + b64)


QUIRKS = [
    ("org-name-empty", NO_ORG, ("org_name_from_email",), "reports.receiver.example"),
    ("org-name-missing-in-mail", mail([("r.xml", "text/xml", BARE_ORG)], sender="DMARC <noreply@Sender.Example>"),
     ("org_name_from_sender",), "sender.example"),
    ("invalid-byte-in-header-from", report(record(header_from="examp\x00le.com")).replace(b"examp\x00le.com", b"examp\x92le.com"),
     ("invalid_bytes_replaced",), "receiver.example"),
    ("invalid-bytes-in-org-name", GOOD.replace(b"receiver.example</org", b"receiver\xff\xfe.example</org"),
     ("invalid_bytes_replaced",), "receiver\ufffd\ufffd.example"),
    ("invalid-byte-in-comment", GOOD.replace(b"</feedback>", b"<!-- caf\xe9 --></feedback>"), ("invalid_bytes_replaced",),
     "receiver.example"),
    ("whitespace-before-declaration", b"\r\n  \n" + GOOD, ("leading_whitespace",), "receiver.example"),
    ("bom-after-whitespace", b"\n\xef\xbb\xbf" + GOOD, ("leading_whitespace",), "receiver.example"),
    ("bom-only", b"\xef\xbb\xbf" + GOOD, (), "receiver.example"),
    ("utf-16-with-bom", encoded(GOOD, "utf-16"), ("non_utf8_encoding",), "receiver.example"),
    ("utf-16le-without-bom", encoded(GOOD, "utf-16-le", "UTF-16"), ("non_utf8_encoding",), "receiver.example"),
    ("utf-16be-without-bom", encoded(GOOD, "utf-16-be", "UTF-16"), ("non_utf8_encoding",), "receiver.example"),
    ("iso-8859-1", encoded(GOOD.replace(b"receiver.example</org", "réceiver.example</org".encode()), "latin-1",
                           "ISO-8859-1"), ("non_utf8_encoding",), "réceiver.example"),
    ("windows-1252-2012", legacy_cp1252(), ("non_utf8_encoding", "policy_evaluated_computed"), "Empfänger GmbH"),
    ("bare-zlib", zlib.compress(GOOD), ("bare_zlib",), "receiver.example"),
    ("zlib-in-zip", zip_of([("r.xml.z", zlib.compress(GOOD))]), ("bare_zlib",), "receiver.example"),
    ("unnamed-zip-member", raw_zip([Entry(b"", GOOD)]), ("unnamed_zip_member",), "receiver.example"),
    ("gzip-zero-padding", gzipped(GOOD) + bytes(4096), ("zero_padding",), "receiver.example"),
    ("gzip-two-members", gzipped(GOOD[:100]) + gzipped(GOOD[100:]), (), "receiver.example"),
    ("headers-without-space", mail([("r.xml.gz", "application/gzip", gzipped(GOOD))]).replace(b": ", b":"),
     ("mail_header_no_space",), "receiver.example"),
    ("gateway-folded-encoding", gateway_mail("folded"), ("undeclared_base64_body",), "receiver.example"),
    ("gateway-headers-in-body", gateway_mail("body"), ("misplaced_mail_headers",), "receiver.example"),
]


@pytest.mark.parametrize(("name", "data", "warnings", "org"), QUIRKS, ids=[q[0] for q in QUIRKS])
def test_quirk_is_read_with_its_warning(name, data, warnings, org, ingestor, store, cli, db_path) -> None:
    outcome = ingestor.ingest_bytes(name, data)
    assert (outcome.status, outcome.reason, outcome.reports, outcome.records, outcome.messages) == ("ingested", None, 1, 1, 3)
    assert outcome.warnings == warnings
    assert outcome.as_dict()["warnings"] == list(warnings)
    row = store.conn.execute("SELECT id, org_name, message_count FROM reports").fetchone()
    assert row[1:] == (org, 3)
    assert store.report_warnings(row[0]) == warnings
    listed = json.loads(cli("--db", db_path, "reports", "--format", "json").stdout)
    assert [r["warnings"] for r in listed] == [list(warnings)]


def test_invalid_bytes_replace_text_but_keep_counts(ingestor, store) -> None:
    data = report(record(header_from="examp\x00le.com", count="7")).replace(b"examp\x00le.com", b"examp\x92le.com")
    assert ingestor.ingest_bytes("cp1252-quote.xml", data).messages == 7
    assert store.conn.execute("SELECT header_from, count FROM records").fetchone() == ("examp\ufffdle.com", 7)


def test_missing_policy_evaluated_is_computed_from_alignment(ingestor, store) -> None:
    aligned = record(dkim_domain="example.com", spf_domain="bounce.esp.example", spf="pass")
    data = report(aligned).replace(b"<dkim>pass</dkim><spf>pass</spf>", b"")
    outcome = ingestor.ingest_bytes("legacy.xml", data)
    assert outcome.warnings == ("policy_evaluated_computed",)
    row = store.conn.execute("SELECT dkim_eval, spf_eval, dmarc_pass, class FROM records").fetchone()
    assert row == ("pass", "fail", 1, "authorised")


def test_a_present_verdict_is_never_recomputed(ingestor, store) -> None:
    data = report(record(dkim_eval="fail", spf_eval="fail"))  # auth results pass, the receiver says fail: kept
    assert ingestor.ingest_bytes("r.xml", data).warnings == ()
    assert store.conn.execute("SELECT dkim_eval, spf_eval, dmarc_pass FROM records").fetchone() == ("fail", "fail", 0)


STILL_BROKEN = [
    ("invalid-bytes-in-tag-names", GOOD.replace(b"org_name", b"org\x92name"), "malformed_xml"),
    ("invalid-bytes-in-an-attribute", GOOD.replace(b"<feedback>", b'<feedback a="\x92">'), "malformed_xml"),
    ("control-character-in-text", GOOD.replace(b"receiver.example</org", b"receiver\x01.example</org"), "malformed_xml"),
    ("truncated", GOOD[: len(GOOD) // 2], "malformed_xml"),
    ("org-name-and-email-missing", BARE_ORG, "missing_field"),
    ("gzip-trailing-garbage", gzipped(GOOD) + b"garbage", "unreadable"),
    ("gzip-padding-then-garbage", gzipped(GOOD) + bytes(10) + b"x", "unreadable"),
    ("zlib-truncated", zlib.compress(GOOD)[:-10], "unreadable"),
    ("undeclared-base64-not-a-report", mail([]).replace(b"DMARC report attached", base64.b64encode(b"hello " * 20)),
     "not_a_report"),
    ("declared-unknown-encoding", GOOD.replace(b'encoding="UTF-8"', b'encoding="x-no-such-charset"'), "malformed_xml"),
]


@pytest.mark.parametrize(("name", "data", "reason"), STILL_BROKEN, ids=[b[0] for b in STILL_BROKEN])
def test_broken_structure_stays_a_rejection(name, data, reason, ingestor, store) -> None:
    outcome = ingestor.ingest_bytes(name, data)
    assert (outcome.status, outcome.reason, outcome.reports, outcome.warnings) == ("rejected", reason, 0, ())
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


def test_same_report_with_and_without_a_quirk_is_a_duplicate(ingestor, store) -> None:
    first = ingestor.ingest_bytes("plain.xml", GOOD)
    second = ingestor.ingest_bytes("padded.gz", gzipped(GOOD) + bytes(100))
    assert (first.status, second.status, second.warnings) == ("ingested", "duplicate", ("zero_padding",))
    assert store.conn.execute("SELECT count(*) FROM report_warnings").fetchone() == (0,)


def test_reports_csv_lists_warnings_separated_by_spaces(ingestor, cli, db_path) -> None:
    ingestor.ingest_bytes("legacy.xml", legacy_cp1252())
    lines = cli("--db", db_path, "reports", "--format", "csv").stdout.splitlines()
    header = lines[0].split(",")
    assert header[-1] == "warnings"
    assert lines[1].split(",")[-1] == "non_utf8_encoding policy_evaluated_computed"


def test_a_quirk_of_an_outer_layer_reaches_the_report(ingestor) -> None:
    padded_mail = gzipped(mail([("r.xml", "text/xml", GOOD)])) + bytes(64)
    assert ingestor.ingest_bytes("mail.eml.gz", padded_mail).warnings == ("zero_padding",)
    padded_zip = gzipped(zip_of([("r.xml", report(report_id="z"))])) + bytes(64)
    assert ingestor.ingest_bytes("r.zip.gz", padded_zip).warnings == ("zero_padding",)
