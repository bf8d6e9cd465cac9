"""The boundary-scanning mail reader against the email package: the same tree, or it declines.

Every sample mail, every mail of every sample mbox, the benchmark's report mails and hand-made
plain and hostile shapes are read both ways; where the scanner answers, its tree must equal the
feed parser's in every header, payload string, preamble and epilogue; where it declines, the email
package reads the mail as before. Which shapes it takes and which it declines is exact.
"""

from __future__ import annotations

import email
import io
from email.message import Message
from email.policy import compat32
from pathlib import Path

import pytest

from benchmarks.inputs import report_emails
from dmarcflow import mime
from dmarcflow.errors import ExtractError
from dmarcflow.mbox import split_mbox
from dmarcflow.mime_scan import MAX_SCAN_DEPTH, scan_mail
from tests.support.hostile import gzipped, mail, nested_mime, report, xml_leaf

SAMPLES = Path(__file__).resolve().parents[2] / "sample_reports"
GOOD = report(report_id="scan-1")


def tree(msg: Message) -> object:
    """Everything of a Message the pipeline can read, as plain data."""
    payload = msg.get_payload()
    body = [tree(p) for p in payload] if isinstance(payload, list) else payload
    return (msg.items(), msg.preamble, msg.epilogue, msg.get_default_type(), msg.get_unixfrom(), body)


def reference(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=compat32)


def sample_mails() -> list[tuple[str, bytes]]:
    found = [(str(p.relative_to(SAMPLES)), p.read_bytes()) for p in sorted(SAMPLES.rglob("*.eml"))]
    for path in sorted(SAMPLES.rglob("*.mbox")):
        with path.open("rb") as stream:
            found += [(f"{path.name}:{m.index}", m.data or b"") for m in split_mbox(stream, 1 << 24)]
    return found


def boundary_mail(body: bytes, ctype: bytes = b'multipart/mixed; boundary="b"', eol: bytes = b"\n") -> bytes:
    head = b"From: a@example.com" + eol + b"Subject: s" + eol + b"Content-Type: " + ctype + eol + eol
    return head + body.replace(b"\n", eol)


PART = b"Content-Type: text/xml\n\n<feedback/>\n"
PLAIN = {  # shapes the scanner reads itself
    "preamble and epilogue": boundary_mail(b"preamble\n--b\n" + PART + b"--b--\nepilogue\n"),
    "crlf": boundary_mail(b"--b\n" + PART + b"--b--\n", eol=b"\r\n"),
    "no preamble, no epilogue": boundary_mail(b"--b\n" + PART + b"--b--"),
    "boundary with trailing blanks": boundary_mail(b"--b  \n" + PART + b"--b-- \t\n"),
    "two levels": boundary_mail(b"--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\n" + PART
                                + b"--c--\ninner epilogue\n\n--b\n" + PART + b"--b--\n"),
    "folded header": b"From: a@example.com\nSubject: one\n two\n\tthree\nContent-Type: text/plain\n\nbody\n",
    "not multipart": b"From: a@example.com\nContent-Type: application/gzip\nContent-Transfer-Encoding: base64\n\nAAAA\n",
    "8-bit header value": b"From: a@example.com\nSubject: caf\xc3\xa9\n\nbody\n",
    "boundary-like text": boundary_mail(b"--b\nContent-Type: text/plain\n\n--bx\n-- b\n--b-\n--b\n" + PART + b"--b--\n"),
    "deep within the bound": nested_mime(MAX_SCAN_DEPTH),
}
DECLINED = {  # shapes left to the email package, whose reading of them is the contract
    "forwarded mail": boundary_mail(b"--b\nContent-Type: message/rfc822\n\nFrom: x@example.com\n\nhi\n--b--\n"),
    "digest": boundary_mail(b"--b\n\nFrom: x@example.com\n\nhi\n--b--\n", b'multipart/digest; boundary="b"'),
    "no boundary parameter": boundary_mail(b"--b\n" + PART + b"--b--\n", b"multipart/mixed"),
    "no opening boundary": boundary_mail(b"text\n" + PART),
    "only a closing boundary": boundary_mail(b"--b--\n" + PART),
    "no closing boundary (truncated)": boundary_mail(b"--b\n" + PART),
    "two boundary lines in a row": boundary_mail(b"--b\n--b\n" + PART + b"--b--\n"),
    "same boundary nested": boundary_mail(b"--b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n" + PART + b"--b--\n"),
    "lone carriage return": b"From: a@example.com\rSubject: s\n\nbody\n",
    "header line without a colon": b"From: a@example.com\nnot a header\n\nbody\n",
    "first line a continuation": b" folded\nFrom: a@example.com\n\nbody\n",
    "envelope line": b"From someone Thu Mar  5 10:00:00 2026\nFrom: a@example.com\n\nbody\n",
    "no blank line after the headers": b"From: a@example.com\nSubject: s\n",
    "empty header name": b"From: a@example.com\n: nameless\n\nbody\n",
    "encoded multipart": boundary_mail(b"--b\n" + PART + b"--b--\n", b"multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64"),
    "deeper than the bound": nested_mime(MAX_SCAN_DEPTH + 1),
    "a part without headers or blank line": boundary_mail(b"--b\nhello\n--b--\n"),
}


def test_the_scanner_builds_the_feed_parsers_tree_for_every_sample_mail() -> None:
    mails = sample_mails()
    scanned = 0
    for name, raw in mails:
        got = scan_mail(raw)
        if got is not None:
            assert tree(got) == tree(reference(raw)), name
            scanned += 1
    assert (len(mails), scanned) == (23, 19)  # declined: the four with a message/rfc822 part


def test_the_scanner_reads_every_benchmark_report_mail_as_the_feed_parser_does() -> None:
    mails = list(report_emails(60, 5, 3))
    for raw in mails:
        got = scan_mail(raw)
        assert got is not None
        assert tree(got) == tree(reference(raw))


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_plain_shapes_are_scanned_exactly_as_the_feed_parser_reads_them(name: str) -> None:
    raw = PLAIN[name]
    got = scan_mail(raw)
    assert got is not None
    assert reference(raw).defects == []
    assert tree(got) == tree(reference(raw))


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_other_shapes_are_left_to_the_email_package(name: str) -> None:
    raw = DECLINED[name]
    assert scan_mail(raw) is None
    assert tree(mime.parse_mail(raw)) == tree(reference(raw))


def test_hostile_mails_keep_their_outcomes() -> None:
    wide = mail([(f"r{i}.xml", "text/xml", GOOD) for i in range(40)])
    assert scan_mail(wide) is not None and len(list(mime.leaves(mime.parse_mail(wide)))) == 41
    deep = nested_mime(MAX_SCAN_DEPTH + 3)
    assert [type(x).__name__ for x in mime.leaves(mime.parse_mail(deep))] == ["Leaf"]
    too_deep = nested_mime(40)
    assert scan_mail(too_deep) is None
    errors = [x for x in mime.leaves(mime.parse_mail(too_deep)) if isinstance(x, ExtractError)]
    assert [(e.reason, e.message) for e in errors] == [("too_large", "MIME parts nested deeper than 32 levels")]
    huge_header = b"From: a@example.com\nX-Long: " + b"x" * 500_000 + b"\nContent-Type: text/xml\n\n" + GOOD
    got = scan_mail(huge_header)
    assert got is not None and tree(got) == tree(reference(huge_header))
    mislabelled = mail([("r.bin", "image/png", gzipped(GOOD))])
    got = scan_mail(mislabelled)
    assert got is not None and tree(got) == tree(reference(mislabelled))
    bad_bytes = boundary_mail(b"--b\nContent-Type: text/xml; charset=\xff\xfe\n\n\x00\x80\xff\n--b--\n")
    got = scan_mail(bad_bytes)
    assert got is not None and tree(got) == tree(reference(bad_bytes))
    leaf = scan_mail(b"From: a@example.com\nContent-Type: multipart/mixed; boundary=q\n\n--q\n" + xml_leaf(GOOD) + b"--q--\n")
    assert leaf is not None and mime.content(leaf.get_payload()[0]) == GOOD  # the CRLF before the boundary belongs to the boundary


def test_a_mail_is_read_from_an_mbox_stream_the_same_way() -> None:
    raw = mail([("r.xml", "text/xml", GOOD)])
    data = b"From x Thu Mar  5 10:00:00 2026\n" + raw + b"\n"
    (only,) = list(split_mbox(io.BytesIO(data), 1 << 20))
    got = scan_mail(only.data or b"")
    assert got is not None and tree(got) == tree(reference(raw))
