"""Sample SMTP TLS reports and DMARC failure reports, one per variant real reporters send.

    python -m tests.support.kind_samples    # (re)write them into sample_reports/tls and sample_reports/failure

Every byte is built here (gzip and zip without timestamps), so the files are reproducible; a test
checks the committed files equal what this module builds. All content is synthetic: documentation
addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and example domains.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent.parent
TLS_DIR = REPO / "sample_reports" / "tls"
FAILURE_DIR = REPO / "sample_reports" / "failure"
DAY = 86400
MARCH_1 = 1772323200  # 2026-03-01T00:00:00Z


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    exercises: str


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def zip_bytes(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(name, date_time=(2026, 3, 2, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data)
    return out.getvalue()


def tls_json(report: dict[str, Any]) -> bytes:
    return json.dumps(report, indent=1).encode()


def google_report(day: int = 1, failed: int = 37) -> dict[str, Any]:
    """An STS domain whose first MX serves an expired certificate to part of Google's sessions."""
    date = f"2026-03-{day:02d}"
    return {
        "organization-name": "Google Inc.",
        "date-range": {"start-datetime": f"{date}T00:00:00Z", "end-datetime": f"{date}T23:59:59Z"},
        "contact-info": "smtp-tls-reporting@google.com",
        "report-id": f"{date}T00:00:00Z_example.com",
        "policies": [{
            "policy": {
                "policy-type": "sts",
                "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: mx2.example.com",
                                  "max_age: 604800"],
                "policy-domain": "example.com",
                "mx-host": ["mx1.example.com", "mx2.example.com"],
            },
            "summary": {"total-successful-session-count": 1500 + 10 * day, "total-failure-session-count": failed},
            "failure-details": [{
                "result-type": "certificate-expired", "sending-mta-ip": "209.85.220.41",
                "receiving-mx-hostname": "mx1.example.com", "receiving-ip": "192.0.2.10", "failed-session-count": failed,
            }],
        }],
    }


def microsoft_report(day: int = 1) -> dict[str, Any]:
    """Microsoft's shape: fractional seconds, no sending-mta-ip in failure details, a TLSA policy too."""
    date = f"2026-03-{day:02d}"
    return {
        "organization-name": "Microsoft Corporation",
        "date-range": {"start-datetime": f"{date}T00:00:00.0000000Z", "end-datetime": f"{date}T23:59:59.9999999Z"},
        "contact-info": "tlsrpt-noreply@microsoft.com",
        "report-id": f"1335409{day:02d}000000000+example.org",
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing",
                                                                    "mx: *.mail.example.org", "max_age: 86400"],
                           "policy-domain": "example.org", "mx-host": ["*.mail.example.org"]},
                "summary": {"total-successful-session-count": 4210, "total-failure-session-count": 12},
                "failure-details": [
                    {"result-type": "certificate-host-mismatch", "receiving-mx-hostname": "mx2.mail.example.org",
                     "receiving-ip": "198.51.100.25", "failed-session-count": 9,
                     "failure-reason-code": "CertificateNameMismatch"},
                    {"result-type": "starttls-not-supported", "receiving-mx-hostname": "mx3.mail.example.org",
                     "receiving-ip": "198.51.100.26", "failed-session-count": 3},
                ],
            },
            {
                "policy": {"policy-type": "tlsa", "policy-string": ["3 1 1 8a0f2bd4e8e2a1c3d9f7b6a5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1"],
                           "policy-domain": "example.org", "mx-host": ["mx1.mail.example.org"]},
                "summary": {"total-successful-session-count": 800, "total-failure-session-count": 0},
            },
        ],
    }


def no_policy_report(day: int = 2) -> dict[str, Any]:
    """contact-info null, a no-policy-found policy without policy-domain, extra keys, offsets."""
    return {
        "organization-name": "Kestrel Net",
        "date-range": {"start-datetime": f"2026-03-{day:02d}T01:00:00.250+01:00",
                       "end-datetime": f"2026-03-{day + 1:02d}T00:59:59+01:00"},
        "contact-info": None,
        "report-id": f"kestrel-2026-03-{day:02d}-example.net",
        "x-generator": "kestrel-tlsrpt 2.1",
        "policies": [
            {
                "policy": {"policy-type": "sts", "policy-domain": "example.net", "mx-host": "mx.example.net",
                           "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 86400"]},
                "summary": {"total-successful-session-count": 310, "total-failure-session-count": 4},
                "failure-details": [{"result-type": "validation-failure", "sending-mta-ip": "2001:db8:5::25",
                                     "receiving-mx-hostname": "mx.example.net", "receiving-mx-helo": "mx.example.net",
                                     "receiving-ip": "203.0.113.5", "failed-session-count": 4,
                                     "additional-information": "https://tls.kestrel-net.example/why/4",
                                     "x-debug": {"handshake": "alert 42"}}],
            },
            {
                "policy": {"policy-type": "no-policy-found"},
                "summary": {"total-successful-session-count": 55, "total-failure-session-count": 0},
            },
        ],
    }


def draft_names_report(day: int = 4) -> dict[str, Any]:
    """A reporter still writing the draft names mx-host-pattern and additional-info-uri."""
    date = f"2026-03-{day:02d}"
    return {
        "organization-name": "Nordvik Telecom",
        "date-range": {"start-datetime": f"{date}T00:00:00Z", "end-datetime": f"{date}T23:59:59Z"},
        "contact-info": "tlsrpt@nordvik-telecom.example",
        "report-id": f"nordvik-{date.replace('-', '')}-example.com",
        "policies": [{
            "policy": {"policy-type": "sts", "policy-domain": "example.com", "mx-host-pattern": ["mx1.example.com"],
                       "policy-string": ["version: STSv1", "mode: enforce", "mx: mx1.example.com", "max_age: 604800"]},
            "summary": {"total-successful-session-count": 75, "total-failure-session-count": 5},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "198.51.100.77",
                                 "receiving-mx-hostname": "mx1.example.com", "failed-session-count": 5,
                                 "additional-info-uri": "https://nordvik-telecom.example/tls/5"}],
        }],
    }


def only_no_policy_report() -> dict[str, Any]:
    """Only a no-policy-found policy without policy-domain: the mail's TLS-Report-Domain stands in."""
    return {
        "organization-name": "Mail.Ru",
        "date-range": {"start-datetime": "2026-03-05T00:00:00Z", "end-datetime": "2026-03-05T23:59:59Z"},
        "contact-info": None,
        "report-id": "mailru-20260305-example.org",
        "policies": [{"policy": {"policy-type": "no-policy-found"},
                      "summary": {"total-successful-session-count": 91, "total-failure-session-count": 2},
                      "failure-details": [{"result-type": "starttls-not-supported", "sending-mta-ip": "203.0.113.80",
                                           "receiving-mx-hostname": "mx.example.org", "failed-session-count": 2}]}],
    }


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode()


def tls_mail(org: str, submitter: str, domain: str, report_id: str, part_type: str, filename: str, data: bytes) -> bytes:
    """An RFC 8460 report mail: multipart/report; report-type=tlsrpt, the report base64 in the second part."""
    return _crlf(
        f"From: {submitter}\nTo: tlsrpt@{domain}\nSubject: Report Domain: {domain} Submitter: {org} Report-ID: <{report_id}>\n"
        f"Date: Tue, 03 Mar 2026 08:00:00 +0000\nMessage-ID: <{report_id}@{submitter.split('@')[1]}>\n"
        f"TLS-Report-Domain: {domain}\nTLS-Report-Submitter: {org}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type="tlsrpt"; boundary="tlsrpt-boundary"\n\n'
        "--tlsrpt-boundary\nContent-Type: text/plain; charset=utf-8\n\n"
        f"This is an aggregate TLS report from {org}.\n\n"
        f"--tlsrpt-boundary\nContent-Type: {part_type}\nContent-Transfer-Encoding: base64\n"
        f'Content-Disposition: attachment; filename="{filename}"\n\n{_b64(data)}\n--tlsrpt-boundary--\n'
    )


def tls_name(org_domain: str, policy_domain: str, day: int, suffix: str) -> str:
    begin = MARCH_1 + (day - 1) * DAY
    return f"{org_domain}!{policy_domain}!{begin}!{begin + DAY - 1}{suffix}"


def tls_samples() -> list[Sample]:
    """Every sample holds a report of its own (no two share an identity)."""
    nordvik, mailru = draft_names_report(), only_no_policy_report()
    google3, microsoft2, kestrel3 = google_report(3, failed=12), microsoft_report(2), no_policy_report(3)
    return [
        Sample(tls_name("google.com", "example.com", 1, "!001.json"), tls_json(google_report(1)),
               "plain JSON, RFC 8460 names, an expired certificate on one MX"),
        Sample(tls_name("google.com", "example.com", 2, "!001.json.gz"), gzip_bytes(tls_json(google_report(2, failed=20))),
               "gzip JSON"),
        Sample(tls_name("microsoft.com", "example.org", 1, "!ms.json"), tls_json(microsoft_report(1)),
               "fractional seconds, missing sending-mta-ip, STS and TLSA policies"),
        Sample(tls_name("kestrel-net.de", "example.net", 2, ".json"), tls_json(no_policy_report(2)),
               "contact-info null, no-policy-found without policy-domain, +01:00 offsets, unknown keys"),
        Sample(tls_name("nordvik-telecom.no", "example.com", 4, ".json"), tls_json(nordvik),
               "draft field names (mx-host-pattern, additional-info-uri)"),
        Sample("email-tlsrpt-gzip.eml", tls_mail("Google Inc.", "noreply-smtp-tls-reporting@google.com", "example.com",
                                                  google3["report-id"], "application/tlsrpt+gzip",
                                                  tls_name("google.com", "example.com", 3, "!001.json.gz"),
                                                  gzip_bytes(tls_json(google3))),
               "mail, application/tlsrpt+gzip part (RFC 8460)"),
        Sample("email-tlsrpt-json.eml", tls_mail("Microsoft Corporation", "tlsrpt-noreply@microsoft.com", "example.org",
                                                  microsoft2["report-id"], "application/tlsrpt+json",
                                                  tls_name("microsoft.com", "example.org", 2, "!ms.json"),
                                                  tls_json(microsoft2)),
               "mail, application/tlsrpt+json part"),
        Sample("email-octet-stream-gzip.eml", tls_mail("Mail.Ru", "tlsrpt@corp.mail.ru", "example.org",
                                                        mailru["report-id"], "application/octet-stream",
                                                        tls_name("mail.ru", "example.org", 5, ".json.gz"),
                                                        gzip_bytes(tls_json(mailru))),
               "mail, gzip report mislabelled application/octet-stream; only no-policy-found (TLS-Report-Domain stands in)"),
        Sample("email-zip.eml", tls_mail("Nordvik Telecom", "tlsrpt@nordvik-telecom.example", "example.com",
                                          "nordvik-20260306-example.com", "application/zip", "nordvik.zip",
                                          zip_bytes("nordvik.json", tls_json(draft_names_report(6)))),
               "mail, the report inside a zip"),
        Sample(tls_name("kestrel-net.de", "example.net", 3, ".zip"),
               zip_bytes(tls_name("kestrel-net.de", "example.net", 3, ".json"), tls_json(kestrel3)),
               "the report inside a zip file"),
    ]


ORIGINAL_BODY = "Hello Bob,\n\nthe invoice for March is attached. Please pay by Friday.\n\nAlice\n"


def original_headers(message_id: str, subject: str, sender: str, date: str) -> str:
    return (
        f"Return-Path: <bounce@{sender.split('@')[1]}>\n"
        "Received: from mail.forger.example (mail.forger.example [203.0.113.66])\n"
        "\tby mx.receiver.example with ESMTP id 4Zk9; " + date + "\n"
        f"From: Alice Example <{sender}>\nTo: bob@receiver.example\nSubject: {subject}\n"
        f"Date: {date}\nMessage-ID: <{message_id}>\nMIME-Version: 1.0\n"
    )


def arf_mail(*, boundary: str, reporter: str, feedback: str, original_part: str, feedback_headers: str = "") -> str:
    return (
        f"From: DMARC Failure Reports <{reporter}>\nTo: ruf@example.com\n"
        "Subject: DMARC failure report for example.com\nDate: Mon, 02 Mar 2026 10:15:00 +0000\n"
        f"Message-ID: <ruf-{boundary}@{reporter.split('@')[1]}>\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=feedback-report; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n"
        "This is an authentication failure report for an email message received from IP\n"
        "203.0.113.66 on Mon, 02 Mar 2026 10:12:31 +0000. DMARC failed for example.com.\n\n"
        f"--{boundary}\n{feedback_headers or 'Content-Type: message/feedback-report'}\n\n{feedback}\n"
        f"--{boundary}\n{original_part}\n--{boundary}--\n"
    )


def arf_crlf() -> bytes:
    """RFC 9991 ARF with CRLF endings, the original as message/rfc822 (with a body that must not be kept)."""
    feedback = (
        "Feedback-Type: auth-failure\nUser-Agent: Receiver-DMARC/2.4\nVersion: 1\n"
        "Original-Envelope-Id: 4Zk9\nOriginal-Mail-From: <bounce@example.com>\nOriginal-Rcpt-To: <bob@receiver.example>\n"
        "Arrival-Date: Mon, 02 Mar 2026 10:12:31 +0000\nReporting-MTA: dns; mx.receiver.example\n"
        "Source-IP: 203.0.113.66\nIncidents: 1\nReported-Domain: example.com\n"
        "Authentication-Results: mx.receiver.example; dmarc=fail (p=reject) header.from=example.com;\n"
        "  spf=fail smtp.mailfrom=bounce@example.com; dkim=fail (bad signature) header.d=example.com header.s=sel1\n"
        "Auth-Failure: dmarc\nIdentity-Alignment: none\nDelivery-Result: reject\n"
        "DKIM-Domain: example.com\nDKIM-Selector: sel1\n"
        "DKIM-Canonicalized-Body: SGVsbG8gQm9iLA0KDQp0aGUgaW52b2ljZSBmb3IgTWFyY2g=\n"
    )
    original = ("Content-Type: message/rfc822\nContent-Disposition: inline\n\n"
                + original_headers("inv-2026-03@example.com", "Invoice March 2026", "alice@example.com",
                                   "Mon, 02 Mar 2026 10:12:30 +0000")
                + "Content-Type: text/plain; charset=us-ascii\n\n" + ORIGINAL_BODY)
    return _crlf(arf_mail(boundary="arf-crlf", reporter="dmarc-noreply@receiver.example", feedback=feedback,
                          original_part=original))


def arf_headers_only() -> bytes:
    """RFC 6591 ARF, LF endings, the original as text/rfc822-headers, no Identity-Alignment (pre-9991)."""
    feedback = (
        "Feedback-Type: auth-failure\nUser-Agent: OpenDMARC-Reports/1.4\nVersion: 1\n"
        "Original-Mail-From: <newsletter@bulk.example.net>\nArrival-Date: Tue, 03 Mar 2026 14:00:05 -0500\n"
        "Source-IP: 198.51.100.23\nReported-Domain: example.net\n"
        "Authentication-Results: mx.isp.example; dmarc=fail header.from=example.net; spf=pass smtp.mailfrom=bulk.example.net;\n"
        "  dkim=pass header.d=bulk.example.net header.s=k1\n"
        "Auth-Failure: dmarc\nDelivery-Result: spam\n"
    )
    original = ("Content-Type: text/rfc822-headers\n\n"
                + original_headers("nl-0303@bulk.example.net", "=?utf-8?q?Spring_sale_=E2=80=93_40=25_off?=",
                                   "news@example.net", "Tue, 03 Mar 2026 13:59:58 -0500"))
    text = arf_mail(boundary="arf-lf", reporter="opendmarc@isp.example", feedback=feedback, original_part=original)
    return text.encode()


def arf_base64_mislabelled() -> bytes:
    """The ARF part base64-encoded (against RFC 5965) and the original as a text/plain part."""
    feedback = (
        "Feedback-Type: auth-failure\r\nUser-Agent: Yahoo!-Mail-Feedback/2.0\r\nVersion: 1\r\n"
        "Arrival-Date: Wed, 04 Mar 2026 06:30:00 +0000\r\nSource-IP: 2001:db8::66\r\nReported-Domain: example.org\r\n"
        "Authentication-Results: mta.yahoo.example; dkim=fail header.d=example.org; spf=softfail smtp.mailfrom=example.org;"
        " dmarc=fail header.from=example.org\r\nAuth-Failure: dkim, spf\r\nIdentity-Alignment: dkim\r\n"
    )
    original = ("Content-Type: text/plain; charset=us-ascii\n\n"
                + original_headers("promo-77@example.org", "Your account", "info@example.org",
                                   "Wed, 04 Mar 2026 06:29:58 +0000") + "\nClick here to verify your account.\n")
    text = arf_mail(boundary="arf-b64", reporter="dmarc_ruf@yahoo.example", feedback=_b64(feedback.encode()).rstrip(),
                    original_part=original,
                    feedback_headers="Content-Type: message/feedback-report\nContent-Transfer-Encoding: base64")
    return _crlf(text)


def plain_notice() -> bytes:
    """A plain-text-only failure notice (no ARF part), as some gateways send them."""
    body = (
        "This is a spf/dkim authentication-failure report for an email message received from IP\n"
        "203.0.113.99 on Thu, 05 Mar 2026 09:00:00 +0000.\n\n"
        "A message claiming to be from you has failed the published DMARC\n"
        "policy for your domain.\n\n"
        "  Sender Domain: example.com\n  Sender IP Address: 203.0.113.99\n"
        "  Received Date: Thu, 05 Mar 2026 09:00:00 +0000\n  SPF Alignment: no\n  DKIM Alignment: no\n"
        "  DMARC Results: Reject\n\n"
        "------ This is a copy of the headers that were received before the error\n"
        "was detected.\n\n"
        + original_headers("ceo-urgent@example.com", "Urgent wire transfer", "ceo@example.com",
                           "Thu, 05 Mar 2026 08:59:59 +0000")
        + "\nPlease wire 40,000 EUR today.\n"
    )
    return _crlf(
        "From: Mail Delivery System <mailer-daemon@gateway.example>\nTo: ruf@example.com\n"
        "Subject: DMARC failure report\nDate: Thu, 05 Mar 2026 09:01:00 +0000\n"
        "Message-ID: <notice-0305@gateway.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
        + body
    )


def failure_samples() -> list[Sample]:
    return [
        Sample("email-arf-crlf-rfc822.eml", arf_crlf(),
               "ARF (RFC 9991 Identity-Alignment), CRLF, original as message/rfc822 with a body"),
        Sample("email-arf-rfc822-headers.eml", arf_headers_only(),
               "ARF (RFC 6591), LF, original as text/rfc822-headers, RFC 2047 subject, no Identity-Alignment"),
        Sample("email-arf-base64-mislabelled.eml", arf_base64_mislabelled(),
               "ARF part base64-encoded, original mislabelled text/plain, IPv6 source"),
        Sample("email-plain-text-notice.eml", plain_notice(), "a plain-text failure notice without an ARF part"),
    ]


def write_all() -> None:
    for folder, samples in ((TLS_DIR, tls_samples()), (FAILURE_DIR, failure_samples())):
        folder.mkdir(parents=True, exist_ok=True)
        for sample in samples:
            (folder / sample.name).write_bytes(sample.data)
            print(f"{folder.name}/{sample.name}: {sample.exercises}", file=sys.stderr)


if __name__ == "__main__":
    write_all()
