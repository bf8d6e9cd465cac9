"""Failure report parsing (RFC 6591 / 9991): every variant read exactly, never a body, hostile mail refused cleanly."""

from __future__ import annotations

import base64
import io
import tracemalloc
import zipfile

import pytest

from dmarcflow.errors import ParseError
from dmarcflow.kinds.arf import WARNINGS, MailFacts
from dmarcflow.kinds.failure import identity, is_failure_message, parse_failure_mail, reparse
from dmarcflow.utc import ISO_FORMAT
from tests.kinds.conftest import FAILURE_FILES
from tests.support.kind_samples import FAILURE_DIR, ORIGINAL_BODY, _crlf, arf_crlf, arf_mail, original_headers

# file -> the fields a failure listing shows
EXPECTED = {
    "email-arf-crlf-rfc822.eml": dict(
        arrival="2026-03-02T10:12:31Z", source_ip="203.0.113.66", reported_domain="example.com",
        reporter="receiver.example", auth_failure=("dmarc",), identity_alignment=(), delivery_result="reject",
        dkim_domain="example.com", dkim_selector="sel1", spf_domain="example.com",
        original_mail_from="<bounce@example.com>", original_rcpt_to="<bob@receiver.example>",
        header_from="Alice Example <alice@example.com>", header_to="bob@receiver.example",
        subject="Invoice March 2026", message_id="<inv-2026-03@example.com>", user_agent="Receiver-DMARC/2.4",
        reporting_mta="mx.receiver.example", submitter="dmarc-noreply@receiver.example", incidents=1,
        auth_results=(("dmarc", "fail"), ("spf", "fail"), ("dkim", "fail")), body_omitted=True, warnings=()),
    "email-arf-rfc822-headers.eml": dict(
        arrival="2026-03-03T19:00:05Z", source_ip="198.51.100.23", reported_domain="example.net",
        reporter="isp.example", auth_failure=("dmarc",), identity_alignment=None, delivery_result="spam",
        dkim_domain="bulk.example.net", dkim_selector="k1", spf_domain="bulk.example.net",
        original_mail_from="<newsletter@bulk.example.net>", original_rcpt_to=None,
        header_from="Alice Example <news@example.net>", header_to="bob@receiver.example",
        subject="Spring sale \u2013 40% off", message_id="<nl-0303@bulk.example.net>", user_agent="OpenDMARC-Reports/1.4",
        reporting_mta=None, submitter="opendmarc@isp.example", incidents=None,
        auth_results=(("dmarc", "fail"), ("spf", "pass"), ("dkim", "pass")), body_omitted=False,
        warnings=("missing_identity_alignment",)),
    "email-arf-base64-mislabelled.eml": dict(
        arrival="2026-03-04T06:30:00Z", source_ip="2001:db8::66", reported_domain="example.org",
        reporter="yahoo.example", auth_failure=("dkim", "spf"), identity_alignment=("dkim",), delivery_result=None,
        dkim_domain="example.org", dkim_selector=None, spf_domain="example.org", original_mail_from=None,
        original_rcpt_to=None, header_from="Alice Example <info@example.org>", header_to="bob@receiver.example",
        subject="Your account", message_id="<promo-77@example.org>", user_agent="Yahoo!-Mail-Feedback/2.0",
        reporting_mta=None, submitter="dmarc_ruf@yahoo.example", incidents=None,
        auth_results=(("dkim", "fail"), ("spf", "softfail"), ("dmarc", "fail")), body_omitted=True, warnings=()),
    "email-plain-text-notice.eml": dict(
        arrival="2026-03-05T09:00:00Z", source_ip="203.0.113.99", reported_domain="example.com",
        reporter="gateway.example", auth_failure=("dmarc",), identity_alignment=None, delivery_result="reject",
        dkim_domain=None, dkim_selector=None, spf_domain=None, original_mail_from=None, original_rcpt_to=None,
        header_from="Alice Example <ceo@example.com>", header_to="bob@receiver.example",
        subject="Urgent wire transfer", message_id="<ceo-urgent@example.com>", user_agent=None, reporting_mta=None,
        submitter="mailer-daemon@gateway.example", incidents=None, auth_results=(), body_omitted=True,
        warnings=("plain_text_notice", "missing_identity_alignment")),
}
BODY_TEXTS = ("Please pay by Friday", "Click here to verify", "Please wire 40,000 EUR", "invoice for March is attached",
              "SGVsbG8gQm9iLA0K")  # the last: the DKIM-Canonicalized-Body copy of the body


def test_every_sample_has_an_expectation():
    assert sorted(EXPECTED) == FAILURE_FILES


@pytest.mark.parametrize("name", FAILURE_FILES)
def test_sample_is_read_exactly(name):
    r = parse_failure_mail((FAILURE_DIR / name).read_bytes())
    got = {k: getattr(r, k) for k in EXPECTED[name] if k != "arrival"}
    assert (r.arrival.strftime(ISO_FORMAT), r.feedback_type) == (EXPECTED[name]["arrival"], "auth-failure")
    assert got == {k: v for k, v in EXPECTED[name].items() if k != "arrival"}
    assert set(r.warnings) <= set(WARNINGS)


@pytest.mark.parametrize("name", FAILURE_FILES)
def test_no_body_of_the_original_is_in_the_report(name):
    r = parse_failure_mail((FAILURE_DIR / name).read_bytes())
    everything = repr(r)
    assert [t for t in BODY_TEXTS if t in everything] == []
    assert "Message-ID: <" in r.original_headers and "Subject: " in r.original_headers


def test_the_kept_fields_parse_again_to_the_same_report():
    for name in FAILURE_FILES:
        first = parse_failure_mail((FAILURE_DIR / name).read_bytes())
        again = reparse(first.feedback_fields, first.original_headers,
                        MailFacts(first.submitter, first.mail_date, first.body_omitted))
        assert again == first, name
        assert identity(again) == identity(first)


def test_identity_is_reporter_message_id_and_arrival_else_a_hash_of_the_fields():
    raw = arf_crlf()
    r = parse_failure_mail(raw)
    assert identity(r).startswith("mid:") and identity(parse_failure_mail(raw)) == identity(r)
    later = parse_failure_mail(raw.replace(b"Arrival-Date: Mon, 02 Mar 2026 10:12:31", b"Arrival-Date: Mon, 02 Mar 2026 10:12:32"))
    assert identity(later) != identity(r)
    no_id = parse_failure_mail(raw.replace(b"Message-ID: <inv-2026-03@example.com>\r\n", b""))
    assert no_id.message_id is None and identity(no_id).startswith("arf:")


def _arf(feedback: str, original: str | None = None, **kw: str) -> bytes:
    part = original if original is not None else "Content-Type: text/rfc822-headers\n\n" + original_headers(
        "m1@example.com", "Hi", "a@example.com", "Mon, 02 Mar 2026 10:00:00 +0000")
    return _crlf(arf_mail(boundary="b1", reporter="ruf@reporter.example", feedback=feedback, original_part=part, **kw))


GOOD = ("Feedback-Type: auth-failure\nArrival-Date: Mon, 02 Mar 2026 10:00:01 +0000\nSource-IP: 192.0.2.1\n"
        "Reported-Domain: example.com\nAuth-Failure: dmarc\nIdentity-Alignment: spf\n")


def test_missing_fields_take_the_documented_stand_ins():
    r = parse_failure_mail(_arf("Feedback-Type: auth-failure\nSource-IP: 192.0.2.1\n"))
    assert (r.reported_domain, r.arrival.strftime(ISO_FORMAT), r.auth_failure) == ("example.com", "2026-03-02T10:15:00Z", ())
    assert r.warnings == ("reported_domain_from_header", "arrival_date_from_mail", "missing_auth_failure",
                          "missing_identity_alignment")
    untyped = parse_failure_mail(_arf(GOOD.replace("Feedback-Type: auth-failure\n", "")))
    assert untyped.warnings == ("missing_feedback_type",)
    odd = parse_failure_mail(_arf(GOOD + "Delivery-Result: bounced-to-sender\n"))
    assert (odd.delivery_result, odd.warnings) == ("other", ("unknown_delivery_result",))


HOSTILE = {
    "abuse report": (_arf(GOOD.replace("auth-failure", "abuse")), "not_a_report",
                     "a feedback report of type 'abuse', not a DMARC failure report (auth-failure)"),
    "no source ip": (_arf(GOOD.replace("Source-IP: 192.0.2.1\n", "")), "missing_field", "Source-IP is missing"),
    "bad source ip": (_arf(GOOD.replace("192.0.2.1", "192.0.2.999")), "invalid_value",
                      "Source-IP is not an IP address: '192.0.2.999'"),
    "markup domain": (_arf(GOOD.replace("Reported-Domain: example.com", "Reported-Domain: <b>x</b>")), "invalid_value",
                      "Reported-Domain is not a domain name: '<b>x</b>'"),
    "no date anywhere": (_arf(GOOD.replace("Arrival-Date: Mon, 02 Mar 2026 10:00:01 +0000\n", "")).replace(
        b"Date: Mon, 02 Mar 2026 10:15:00 +0000\r\n", b""), "missing_field",
        "Arrival-Date is missing or unreadable, and the report mail has no Date"),
    "huge incidents": (_arf(GOOD + "Incidents: " + "9" * 40 + "\n"), "invalid_value", f"Incidents is not a count: {'9' * 40!r}"),
    "unicode digit incidents": (_arf(GOOD + "Incidents: \u0663\n"), "invalid_value", "Incidents is not a count: '\u0663'"),
    "oversized field": (_arf(GOOD + "User-Agent: " + "x" * 5000 + "\n"), "invalid_value", "User-Agent is longer than 4096 characters"),
    "no report at all": (_crlf("From: a@example.com\nSubject: hello\n\nJust saying hi.\n"), "not_a_report",
                         "no ARF feedback part (Feedback-Type) and no plain-text DMARC failure notice"),
    "notice without ip": (_crlf("From: a@example.com\nSubject: DMARC\n\nYour message failed DMARC checks.\nSender Domain: example.com\n"),
                          "missing_field", "a plain-text DMARC failure notice without a sender IP address "
                          "(no line such as 'Sender IP Address: 192.0.2.1')"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_mail_is_one_documented_rejection(case):
    raw, reason, message = HOSTILE[case]
    with pytest.raises(ParseError) as err:
        parse_failure_mail(raw)
    assert (err.value.reason, err.value.message) == (reason, message)


def test_mime_nesting_bomb_is_too_large_not_a_crash():
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(1200))
    raw = ("From: a@example.com\n" + head + "Content-Type: text/plain\n\nx\n").encode()
    with pytest.raises(ParseError) as err:
        parse_failure_mail(raw)
    assert err.value.reason == "too_large"


def _zip_bomb(size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("invoice.pdf", "w") as member:
            block = b"\0" * (1 << 20)
            for _ in range(size >> 20):
                member.write(block)
    return out.getvalue()


def test_an_original_message_carrying_a_zip_bomb_costs_nothing():
    bomb = base64.encodebytes(_zip_bomb(256 << 20)).decode()  # 256 MiB of zeros in about 250 KB
    original = ("Content-Type: message/rfc822\n\n" + original_headers("bomb@example.com", "Invoice", "a@example.com",
                                                                      "Mon, 02 Mar 2026 10:00:00 +0000")
                + 'Content-Type: multipart/mixed; boundary="in"\n\n--in\nContent-Type: application/zip\n'
                "Content-Transfer-Encoding: base64\n\n" + bomb + "--in--\n")
    as_headers = "Content-Type: text/rfc822-headers\nContent-Transfer-Encoding: base64\n\n" + bomb
    for part in (original, as_headers):
        raw = _arf(GOOD, part)
        tracemalloc.start()
        r = parse_failure_mail(raw)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert r.source_ip == "192.0.2.1"
        assert peak < 40 * len(raw)  # proportional to the mail, never to what the bomb would inflate to
        assert "PK" not in r.original_headers and "\0" not in r.original_headers


def test_invalid_utf8_is_replaced_and_noted():
    raw = _arf(GOOD.replace("Source-IP", "User-Agent: caf\xe9\nSource-IP"))
    raw = raw.replace("café".encode(), b"caf\xe9")
    r = parse_failure_mail(raw)
    assert r.user_agent == "caf\ufffd"
    eight_bit = _arf(GOOD).replace(b"Subject: Hi", b"Subject: H\xe9llo \xff")
    assert parse_failure_mail(eight_bit).subject == "H\ufffdllo \ufffd"


def test_detection_is_by_content_not_by_declared_type():
    mislabelled = _arf(GOOD, feedback_headers="Content-Type: application/octet-stream")
    r = parse_failure_mail(mislabelled)
    assert (r.source_ip, r.identity_alignment) == ("192.0.2.1", ("spf",))
    import email
    from email.policy import compat32

    assert is_failure_message(email.message_from_bytes(mislabelled, policy=compat32))
    assert not is_failure_message(email.message_from_bytes(b"From: a@b.example\n\nhello\n", policy=compat32))


def test_an_encoded_message_rfc822_original_and_a_sparse_header_part_are_read():
    headers = original_headers("enc@example.com", "Encoded", "a@example.com", "Mon, 02 Mar 2026 10:00:00 +0000")
    encoded = base64.encodebytes((headers + "\nSecret body text\n").encode()).decode()
    r = parse_failure_mail(_arf(GOOD, "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + encoded))
    assert (r.message_id, r.subject, r.body_omitted) == ("<enc@example.com>", "Encoded", True)
    assert "Secret body text" not in repr(r)
    sparse = parse_failure_mail(_arf(GOOD, "Content-Type: text/rfc822-headers\n\nTo: bob@receiver.example\nDate: x\n"))
    assert (sparse.header_to, sparse.body_omitted) == ("bob@receiver.example", False)
