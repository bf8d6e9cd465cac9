"""Strict values, broken archives and the DTD refusal: each hostile input gets its one documented outcome."""

from __future__ import annotations

import lzma
from dataclasses import dataclass

import pytest

from benchmarks.zips import BZIP2, LZMA, STORED, Entry, raw_zip
from tests.support.hostile import encoded, mail, nested_mime, record, report, xml_leaf


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    status: str
    reason: str | None = None
    message: str | None = None  # a part of the outcome's message
    reports: int = 0
    messages: int = 0
    warnings: tuple[str, ...] = ()


def rejected(name: str, data: bytes, reason: str, message: str) -> Case:
    return Case(name, data, "rejected", reason, message)


def ingested(name: str, data: bytes, messages: int = 3, warnings: tuple[str, ...] = ()) -> Case:
    return Case(name, data, "ingested", None, None, 1, messages, warnings)


GOOD = report()
COUNT = "record count is not a non-negative integer"

VALUES = [
    rejected("count-superscript-two", report(record(count="²")), "invalid_value", f"{COUNT}: '²'"),
    rejected("count-arabic-three", report(record(count="٣")), "invalid_value", f"{COUNT}: '٣'"),
    rejected("count-fullwidth", report(record(count="３")), "invalid_value", f"{COUNT}: '３'"),
    rejected("count-plus", report(record(count="+3")), "invalid_value", f"{COUNT}: '+3'"),
    rejected("count-float", report(record(count="3.0")), "invalid_value", f"{COUNT}: '3.0'"),
    rejected("count-underscore", report(record(count="1_000")), "invalid_value", f"{COUNT}: '1_000'"),
    rejected("count-2^63", report(record(count=str(2**63))), "invalid_value", "record count is larger than 2^63-1"),
    rejected("count-5000-digits", report(record(count="9" * 5000)), "invalid_value", COUNT),
    ingested("count-2^63-1", report(record(count=str(2**63 - 1))), messages=2**63 - 1),
    ingested("count-with-spaces", report(record(count="  3\n"))),
    rejected("count-sum-overflow", report(record(count=str(2**62)) + record(count=str(2**62), ip="192.0.2.11")),
             "invalid_value", "the report's record counts add up to more than 2^63-1 messages"),
    rejected("time-1e999", report(begin="1.0e999"), "invalid_value",
             "date_range/begin is not a whole number of seconds in range: '1.0e999'"),
    rejected("time-nan", report(begin="nan"), "invalid_value", "date_range/begin is not an epoch timestamp: 'nan'"),
    rejected("time-fraction", report(begin="1772323200.5"), "invalid_value", "not a whole number of seconds"),
    rejected("time-negative", report(begin="-1"), "invalid_value", "date_range/begin is not an epoch timestamp: '-1'"),
    rejected("time-2^32", report(begin=str(2**32), end=str(2**32 + 1)), "invalid_value", "date_range/begin is out of range"),
    rejected("time-arabic", report(begin="١٧٧٢٣٢٣٢٠٠"), "invalid_value", "date_range/begin is not an epoch timestamp"),
    rejected("time-huge-integer", report(end="9" * 400), "invalid_value", "date_range/end is not an epoch timestamp"),
    ingested("time-integral-float", report(begin="1772323200.0", end="1772409599.000")),
    ingested("time-exponent", report(begin="1.7723232E9")),
    rejected("pct-superscript", report(policy="<p>reject</p><pct>²</pct>"), "invalid_value", "policy_published/pct is not 0-100"),
    rejected("ip-999", report(record(ip="999.1.1.1")), "invalid_value", "record/row/source_ip is not an IP address: '999.1.1.1'"),
    rejected("ip-markup", report(record(ip="&lt;script&gt;")), "invalid_value", "source_ip is not an IP address: '<script>'"),
    rejected("ip-three-parts", report(record(ip="192.0.2")), "invalid_value", "source_ip is not an IP address: '192.0.2'"),
    rejected("ip-leading-zero", report(record(ip="192.0.02.1")), "invalid_value", "source_ip is not an IP address"),
    rejected("ip-hostname", report(record(ip="mail.example.com")), "invalid_value", "source_ip is not an IP address"),
    ingested("ip-v6", report(record(ip="2001:DB8::25"))),
    ingested("ip-v4-mapped", report(record(ip="::ffff:192.0.2.1"))),
]


@pytest.mark.parametrize("case", VALUES, ids=lambda c: c.name)
def test_values_are_strict(case: Case, ingestor, store) -> None:
    check(case, ingestor, store)


def corrupt_lzma() -> bytes:
    good = lzma.compress(GOOD, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA1}])
    props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1})  # type: ignore[attr-defined]
    payload = b"\x09\x14" + len(props).to_bytes(2, "little") + props + good
    broken = payload[:30] + bytes(b ^ 0x5A for b in payload[30:60]) + payload[60:]
    return raw_zip([Entry(b"report.xml", GOOD, method=LZMA, payload=broken)])


def zip_truncated() -> bytes:
    """The central directory cut off: the end record points at one entry that is not there."""
    whole = raw_zip([Entry(b"r.xml", GOOD)])
    directory = whole.rindex(b"PK\x01\x02")
    return whole[:directory] + whole[-22:]


ARCHIVES = [
    rejected("zip-corrupt-lzma", corrupt_lzma(), "unreadable", "cannot decompress"),
    rejected("zip-corrupt-bzip2", raw_zip([Entry(b"r.xml", GOOD, method=BZIP2, payload=b"BZh91AY&SY" + bytes(range(40)))]),
             "unreadable", "cannot decompress: OSError"),
    rejected("zip-local-name-differs", raw_zip([Entry(b"report.xml", GOOD, local_name=b"other.xml")]), "unreadable",
             "File name in directory 'report.xml' and header b'other.xml' differ"),
    rejected("zip-bad-crc", raw_zip([Entry(b"report.xml", GOOD, method=STORED, payload=GOOD[:-9] + b"</feedbac>")]),
             "unreadable", "Bad CRC-32"),
    rejected("zip-truncated-directory", zip_truncated(), "unreadable", "broken zip archive"),
    ingested("zip-empty-name", raw_zip([Entry(b"", GOOD)]), warnings=("unnamed_zip_member",)),
    rejected("mime-1000-levels", nested_mime(1000), "too_large", "the mail's MIME parts are nested too deeply to read"),
    rejected("mime-40-levels", nested_mime(40, xml_leaf(GOOD)), "too_large", "MIME parts nested deeper than 32 levels"),
    ingested("mime-10-levels", nested_mime(10, xml_leaf(GOOD))),
    rejected("mime-10000-parts", mail([]).replace(b"DMARC report attached", b"\n--x\n" * 5000), "too_large",
             "more than 4096 MIME boundary lines"),
]


@pytest.mark.parametrize("case", ARCHIVES, ids=lambda c: c.name)
def test_broken_archives_and_mails(case: Case, ingestor, store) -> None:
    check(case, ingestor, store)


LATE = b"<!--" + b"x" * 70_000 + b"-->"
DOCTYPES = [
    rejected("dtd-after-64k", GOOD.replace(b"?>", b"?>" + LATE + b"<!DOCTYPE feedback>", 1), "forbidden_xml",
             "declares a DTD"),
    rejected("dtd-utf16", encoded(GOOD.replace(b"?>", b'?><!DOCTYPE f [<!ENTITY a "b">]>', 1), "utf-16"),
             "forbidden_xml", "declares a DTD"),
    rejected("dtd-utf16-no-bom", encoded(GOOD.replace(b"?>", b"?><!DOCTYPE feedback>", 1), "utf-16-be", "UTF-16"),
             "forbidden_xml", "declares a DTD"),
    rejected("dtd-external-only", GOOD.replace(b"?>", b'?><!DOCTYPE feedback SYSTEM "http://127.0.0.1:9/x.dtd">', 1),
             "forbidden_xml", "declares a DTD"),
    rejected("dtd-parameter-entity", GOOD.replace(b"?>", b'?><!DOCTYPE f [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', 1),
             "forbidden_xml", "declares a DTD"),
    rejected("dtd-without-declaration", b"<!DOCTYPE feedback>" + GOOD[GOOD.index(b"<feedback>"):], "forbidden_xml", "DTD"),
    ingested("doctype-in-cdata", GOOD.replace(b"<report_metadata>", b"<report_metadata><![CDATA[<!DOCTYPE x [<!ENTITY a 'b'>]>]]>")),
    ingested("doctype-in-comment", GOOD.replace(b"?>", b"?><!-- <!DOCTYPE feedback> <!ENTITY x 'y'> -->", 1)),
    ingested("doctype-in-comment-after-64k", GOOD.replace(b"</feedback>", LATE + b"<!-- <!DOCTYPE x> --></feedback>")),
    ingested("entity-word-in-text", report(record(header_from="example.com"), org="&lt;!ENTITY x&gt;")),
    rejected("feedback-not-the-root", b"<wrapper>" + GOOD[GOOD.index(b"<feedback>"):] + b"</wrapper>", "not_a_report",
             "no <feedback> element: not a DMARC aggregate report (the root element is <wrapper>)"),
    rejected("feedback-inside-extension", b"<report>" + GOOD[GOOD.index(b"<feedback>"):] + b"</report>", "not_a_report",
             "the root element is <report>"),
]


@pytest.mark.parametrize("case", DOCTYPES, ids=lambda c: c.name)
def test_dtd_refusal_sees_the_decoded_document(case: Case, ingestor, store) -> None:
    check(case, ingestor, store)


def test_external_entity_content_never_reaches_the_store(tmp_path, ingestor, store) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-value")
    xxe = GOOD.replace(b"?>", f'?>{LATE.decode()}<!DOCTYPE f [<!ENTITY x SYSTEM "file://{secret}">]>'.encode(), 1)
    outcome = ingestor.ingest_bytes("xxe.xml", xxe.replace(b"receiver.example</org_name>", b"&x;</org_name>", 1))
    assert (outcome.status, outcome.reason) == ("rejected", "forbidden_xml")
    dump = "\n".join(store.conn.iterdump())
    assert "top-secret-value" not in dump


def check(case: Case, ingestor, store) -> None:
    outcome = ingestor.ingest_bytes(case.name, case.data)
    got = (outcome.status, outcome.reason, outcome.reports, outcome.messages, outcome.warnings)
    assert got == (case.status, case.reason, case.reports, case.messages, case.warnings), outcome.message
    if case.message is not None:
        assert case.message in (outcome.message or "")
    stored = store.conn.execute("SELECT count(*), coalesce(sum(message_count), 0) FROM reports").fetchone()
    assert stored == (case.reports, case.messages)
    kept = store.conn.execute("SELECT raw_sha256 FROM rejected").fetchall()
    assert len(kept) == (1 if case.status == "rejected" else 0)
    if kept:
        assert store.raw_input(kept[0][0]) == case.data
