"""Inputs the fuzzer (tests/core/test_fuzz.py, scripts/fuzz.sh) found, each kept as an explicit test."""

from __future__ import annotations

import io

from dmarcflow.mbox import split_mbox
from tests.support.hostile import gzipped, mail, mbox, report

GOOD = report()


def test_the_blank_line_before_a_from_line_belongs_to_the_mbox_not_the_message() -> None:
    # Found: a gzip report as the message of an mbox read as "data after the end of the gzip stream",
    # because the separator's blank line was kept as the message's last line (Python's mailbox drops it).
    raw = b"From a\nX: 1\n\nbody\n\nFrom b\nY: 2\n\nlast\n\n"
    assert [m.data for m in split_mbox(io.BytesIO(raw), 1 << 20)] == [b"X: 1\n\nbody\n", b"Y: 2\n\nlast\n"]
    assert [m.data for m in split_mbox(io.BytesIO(b"From a\r\nX: 1\r\n\r\n\r\nb\r\n\r\nFrom b\r\n"), 99)] == [
        b"X: 1\r\n\r\n\r\nb\r\n", b""]


def test_a_gzip_report_as_an_mbox_message(ingestor) -> None:
    # An mbox holds lines: the last line of a binary message ends with the newline the format adds,
    # which is data after the end of the gzip stream (nothing is "repaired").
    outcome = ingestor.ingest_bytes("box", mbox([gzipped(GOOD)]))
    assert [(p.name, p.status, p.reason, p.message) for p in outcome.payloads] == [
        ("box:1|gunzip", "rejected", "unreadable", "box:1: unexpected data after the end of the gzip stream")]


def test_a_mail_attached_under_a_wrong_content_type_is_read_as_a_mail(ingestor) -> None:
    # Found: a report mail attached as application/gzip (a forwarded .eml) was skipped as "not a report".
    inner = mail([("r.xml.gz", "application/gzip", gzipped(GOOD))])
    outcome = ingestor.ingest_bytes("fwd.eml", mail([("forwarded.eml", "application/gzip", inner)]))
    assert (outcome.status, outcome.reports, outcome.warnings) == ("ingested", 1, ())


def test_an_mbox_attached_to_a_mail_is_read_whatever_its_declared_type(ingestor) -> None:
    # Found: an mbox attachment (application/octet-stream, then text/xml) was skipped as "not a report".
    box = mbox([mail([("r.xml", "text/xml", GOOD)])])
    for ctype in ("application/octet-stream", "text/xml"):
        outcome = ingestor.ingest_bytes(f"archive-{ctype}.eml", mail([("reports.mbox", ctype, box)]))
        assert (outcome.status, outcome.reports) == ("ingested" if ctype.startswith("app") else "duplicate", 1)


def test_a_text_part_that_starts_like_an_mbox_is_still_no_report(ingestor) -> None:
    outcome = ingestor.ingest_bytes("note.eml", mail([], body="From the postmaster: see the attached report\n"))
    assert (outcome.status, outcome.reason) == ("rejected", "not_a_report")
    assert [s.name for s in outcome.skipped] == ["note.eml#part0"]
