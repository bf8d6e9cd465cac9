"""Hostile and broken inputs: each gets one clear outcome, is kept, and never stops the run."""

from __future__ import annotations

import gzip
import io
import zipfile
from email.message import EmailMessage

import pytest

from dmarcflow.config import Limits
from dmarcflow.ingest import Ingestor
from tests.support.report_xml import record, report


def zip_of(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return buf.getvalue()


def encrypted_zip(data: bytes) -> bytes:
    """A zip whose member carries the 'encrypted' flag (traditional PKWARE encryption)."""
    raw = bytearray(zip_of([("report.xml", data)]))
    # general purpose flag: local header at offset 6, central directory entry at +8
    raw[6] |= 0x01
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 8] |= 0x01
    return bytes(raw)


def email_with(attachments: list[tuple[str, str, bytes]], body: str = "DMARC report attached") -> bytes:
    msg = EmailMessage()
    msg["From"] = "noreply-dmarc@receiver.example"
    msg["To"] = "dmarc@example.com"
    msg["Subject"] = "Report Domain: example.com"
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


GOOD = report()
BIG_SPACES = b"<" + b" " * (5 << 20)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("billion-laughs.xml", b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><feedback>&b;</feedback>', "forbidden_xml"),
        ("xxe.xml", b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback>&x;</feedback>', "forbidden_xml"),
        ("gzip-bomb.gz", gzip.compress(BIG_SPACES), "too_large"),
        ("zip-bomb.zip", zip_of([("bomb.xml", BIG_SPACES)]), "too_large"),
        ("truncated.xml.gz", gzip.compress(GOOD)[:-30], "unreadable"),
        ("protected.zip", encrypted_zip(GOOD), "encrypted_archive"),
        ("empty.xml", b"", "empty"),
        ("empty.zip", zip_of([]), "empty"),
        ("invalid-utf8-in-a-tag.xml", GOOD.replace(b"org_name", b"org\xc3\x28\xa0\xa1name"), "malformed_xml"),
        ("no-records.xml", report(""), "missing_field"),
        ("negative-count.xml", report(record(count="-1")), "invalid_value"),
        ("words-count.xml", report(record(count="ten")), "invalid_value"),
        ("backwards.xml", report(begin="1772409599", end="1772323200"), "invalid_value"),
        ("bzip2.xml.bz2", b"BZh91AY&SY" + b"\x00" * 20, "unsupported_compression"),
        ("picture.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not_a_report"),
        ("no-report.eml", email_with([]), "not_a_report"),
        ("pdf-only.eml", email_with([("invoice.pdf", "application/pdf", b"%PDF-1.4 not a report")]), "not_a_report"),
        ("html.xml", b"<html><body>nope</body></html>", "not_a_report"),
    ],
)
def test_hostile_input_is_rejected_and_kept(name, data, reason, ingestor, store):
    outcome = ingestor.ingest_bytes(name, data)
    assert (outcome.status, outcome.reason) == ("rejected", reason)
    assert outcome.reports == 0
    row = store.conn.execute("SELECT input, reason, raw_sha256 FROM rejected").fetchone()
    assert row[:2] == (name, reason)
    assert store.raw_input(row[2]) == data
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


def test_zip_bomb_by_member_count_is_refused(store, offline_enricher):
    ingestor = Ingestor(store, offline_enricher, Limits(max_members=3))
    outcome = ingestor.ingest_bytes("many.zip", zip_of([(f"{i}.xml", GOOD) for i in range(4)]))
    assert (outcome.status, outcome.reason) == ("rejected", "too_large")
    assert "4 members, more than 3" in outcome.message


def test_nesting_deeper_than_the_limit_is_refused(store, offline_enricher):
    ingestor = Ingestor(store, offline_enricher, Limits(max_depth=2))
    deep = gzip.compress(gzip.compress(gzip.compress(GOOD)))
    outcome = ingestor.ingest_bytes("deep.gz", deep)
    assert (outcome.status, outcome.reason) == ("rejected", "too_large")


def test_one_bad_member_does_not_hide_the_good_one(ingestor, store):
    data = zip_of([("good.xml", GOOD), ("bad.xml", report(record(count="x"), report_id="r-2"))])
    outcome = ingestor.ingest_bytes("mixed.zip", data)
    assert (outcome.status, outcome.reason, outcome.reports, outcome.messages) == ("rejected", "invalid_value", 1, 3)
    assert [p.status for p in outcome.payloads] == ["ingested", "rejected"]
    assert store.conn.execute("SELECT report_id FROM reports").fetchall() == [("r-1",)]


@pytest.mark.parametrize(
    "ctype", ["application/zip", "application/gzip", "application/octet-stream", "text/xml", "application/x-zip-compressed"]
)
def test_email_attachment_found_by_content_not_declared_type(ctype, ingestor):
    payload = {"application/zip": zip_of([("r.xml", GOOD)]), "application/x-zip-compressed": zip_of([("r.xml", GOOD)])}.get(
        ctype, gzip.compress(GOOD) if "gzip" in ctype or "octet" in ctype else GOOD
    )
    outcome = ingestor.ingest_bytes("mail.eml", email_with([("report.bin", ctype, payload)]))
    assert (outcome.status, outcome.reports, outcome.messages) == ("ingested", 1, 3)


def test_nested_zip_holding_gzip_and_gzip_in_gzip(ingestor):
    nested_zip = zip_of([("r.xml.gz", gzip.compress(report(report_id="z")))])
    assert ingestor.ingest_bytes("n.zip", nested_zip).status == "ingested"
    assert ingestor.ingest_bytes("n.gz", gzip.compress(gzip.compress(report(report_id="g")))).status == "ingested"


def test_every_xml_member_of_a_zip_is_read(ingestor):
    data = zip_of([(f"r{i}.xml", report(report_id=f"m{i}")) for i in range(3)])
    outcome = ingestor.ingest_bytes("three.zip", data)
    assert (outcome.status, outcome.reports, outcome.messages) == ("ingested", 3, 9)


def test_a_bad_input_does_not_stop_the_next(ingestor):
    outcomes = [ingestor.ingest_bytes("bad.xml", b"<feedback>"), ingestor.ingest_bytes("good.xml", GOOD)]
    assert [o.status for o in outcomes] == ["rejected", "ingested"]
