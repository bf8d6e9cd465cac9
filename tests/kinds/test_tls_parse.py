"""RFC 8460 parsing: every sample variant read exactly; every hostile input one documented rejection."""

from __future__ import annotations

import io
import json

import pytest

from dmarcflow.errors import ParseError
from dmarcflow.kinds.json_input import read_bounded
from dmarcflow.kinds.tls import LIMITS, WARNINGS, content_hash, looks_like_tls, parse_tls
from dmarcflow.models import TlsFailureDetail
from dmarcflow.utc import ISO_FORMAT
from tests.kinds.conftest import TLS_FILES, tls_payload
from tests.support.kind_samples import TLS_DIR, google_report, tls_json

G_MX = ("mx1.example.com", "mx2.example.com")
# file -> (org, report id, begin, end, contact, report domain header, submitter header,
#          [(type, domain, successful, failed, mx hosts, failure details)], warnings)
EXPECTED = {
    "google.com!example.com!1772323200!1772409599!001.json": (
        "Google Inc.", "2026-03-01T00:00:00Z_example.com", "2026-03-01T00:00:00Z", "2026-03-01T23:59:59Z",
        "smtp-tls-reporting@google.com", None, None, [("sts", "example.com", 1510, 37, G_MX, 1)], ()),
    "google.com!example.com!1772409600!1772495999!001.json.gz": (
        "Google Inc.", "2026-03-02T00:00:00Z_example.com", "2026-03-02T00:00:00Z", "2026-03-02T23:59:59Z",
        "smtp-tls-reporting@google.com", None, None, [("sts", "example.com", 1520, 20, G_MX, 1)], ()),
    "microsoft.com!example.org!1772323200!1772409599!ms.json": (
        "Microsoft Corporation", "133540901000000000+example.org", "2026-03-01T00:00:00Z", "2026-03-01T23:59:59Z",
        "tlsrpt-noreply@microsoft.com", None, None,
        [("sts", "example.org", 4210, 12, ("*.mail.example.org",), 2), ("tlsa", "example.org", 800, 0, ("mx1.mail.example.org",), 0)],
        ("missing_sending_mta_ip",)),
    "kestrel-net.de!example.net!1772409600!1772495999.json": (
        "Kestrel Net", "kestrel-2026-03-02-example.net", "2026-03-02T00:00:00Z", "2026-03-02T23:59:59Z", None, None, None,
        [("sts", "example.net", 310, 4, ("mx.example.net",), 1), ("no-policy-found", "example.net", 55, 0, (), 0)],
        ("null_contact_info", "missing_policy_domain")),
    "kestrel-net.de!example.net!1772496000!1772582399.zip": (
        "Kestrel Net", "kestrel-2026-03-03-example.net", "2026-03-03T00:00:00Z", "2026-03-03T23:59:59Z", None, None, None,
        [("sts", "example.net", 310, 4, ("mx.example.net",), 1), ("no-policy-found", "example.net", 55, 0, (), 0)],
        ("null_contact_info", "missing_policy_domain")),
    "nordvik-telecom.no!example.com!1772582400!1772668799.json": (
        "Nordvik Telecom", "nordvik-20260304-example.com", "2026-03-04T00:00:00Z", "2026-03-04T23:59:59Z",
        "tlsrpt@nordvik-telecom.example", None, None, [("sts", "example.com", 75, 5, ("mx1.example.com",), 1)],
        ("draft_field_name",)),
    "email-tlsrpt-gzip.eml": (
        "Google Inc.", "2026-03-03T00:00:00Z_example.com", "2026-03-03T00:00:00Z", "2026-03-03T23:59:59Z",
        "smtp-tls-reporting@google.com", "example.com", "Google Inc.", [("sts", "example.com", 1530, 12, G_MX, 1)], ()),
    "email-tlsrpt-json.eml": (
        "Microsoft Corporation", "133540902000000000+example.org", "2026-03-02T00:00:00Z", "2026-03-02T23:59:59Z",
        "tlsrpt-noreply@microsoft.com", "example.org", "Microsoft Corporation",
        [("sts", "example.org", 4210, 12, ("*.mail.example.org",), 2), ("tlsa", "example.org", 800, 0, ("mx1.mail.example.org",), 0)],
        ("missing_sending_mta_ip",)),
    "email-octet-stream-gzip.eml": (
        "Mail.Ru", "mailru-20260305-example.org", "2026-03-05T00:00:00Z", "2026-03-05T23:59:59Z", None, "example.org",
        "Mail.Ru", [("no-policy-found", "example.org", 91, 2, (), 1)], ("null_contact_info", "missing_policy_domain")),
    "email-zip.eml": (
        "Nordvik Telecom", "nordvik-20260306-example.com", "2026-03-06T00:00:00Z", "2026-03-06T23:59:59Z",
        "tlsrpt@nordvik-telecom.example", "example.com", "Nordvik Telecom",
        [("sts", "example.com", 75, 5, ("mx1.example.com",), 1)], ("draft_field_name",)),
}


def test_every_sample_has_an_expectation():
    assert sorted(EXPECTED) == TLS_FILES


@pytest.mark.parametrize("name", TLS_FILES)
def test_sample_is_read_exactly(name):
    data, domain, submitter = tls_payload(TLS_DIR / name)
    r = parse_tls(data, report_domain=domain, submitter=submitter)
    org, report_id, begin, end, contact, report_domain, submitter_name, policies, warnings = EXPECTED[name]
    assert (r.org_name, r.report_id, r.begin.strftime(ISO_FORMAT), r.end.strftime(ISO_FORMAT)) == (org, report_id, begin, end)
    assert (r.contact_info, r.report_domain, r.submitter, r.warnings) == (contact, report_domain, submitter_name, warnings)
    assert [(p.policy_type, p.policy_domain, p.successful, p.failed, p.mx_hosts, len(p.failures)) for p in r.policies] == policies
    assert set(r.warnings) <= set(WARNINGS)


def test_failure_details_use_the_rfc_names_and_tolerate_what_microsoft_omits():
    ms = parse_tls((TLS_DIR / "microsoft.com!example.org!1772323200!1772409599!ms.json").read_bytes())
    assert ms.policies[0].failures == (
        TlsFailureDetail("certificate-host-mismatch", 9, None, "mx2.mail.example.org", None, "198.51.100.25",
                         "CertificateNameMismatch", None),
        TlsFailureDetail("starttls-not-supported", 3, None, "mx3.mail.example.org", None, "198.51.100.26", None, None),
    )
    kestrel = parse_tls((TLS_DIR / "kestrel-net.de!example.net!1772409600!1772495999.json").read_bytes())
    assert kestrel.policies[0].failures == (
        TlsFailureDetail("validation-failure", 4, "2001:db8:5::25", "mx.example.net", "mx.example.net", "203.0.113.5",
                         None, "https://tls.kestrel-net.example/why/4"),
    )
    assert kestrel.policies[0].policy_strings == ("version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 86400")


def test_draft_names_are_read_only_when_the_rfc_name_is_absent():
    report = google_report()
    policy = report["policies"][0]["policy"]
    policy["mx-host-pattern"] = ["ignored.example.com"]
    both = parse_tls(tls_json(report))
    assert (both.policies[0].mx_hosts, both.warnings) == (G_MX, ())
    del policy["mx-host"]
    draft = parse_tls(tls_json(report))
    assert (draft.policies[0].mx_hosts, draft.warnings) == (("ignored.example.com",), ("draft_field_name",))


def test_content_hash_ignores_container_and_mail_headers_but_not_counts():
    plain = parse_tls(tls_json(google_report()))
    mailed = parse_tls(json.dumps(google_report()).encode(), report_domain="example.com", submitter="Google")
    changed = parse_tls(tls_json(google_report(failed=38)))
    assert content_hash(plain) == content_hash(mailed)
    assert content_hash(plain) != content_hash(changed)


def test_times_are_utc_whatever_the_offset_or_fraction():
    report = google_report()
    report["date-range"] = {"start-datetime": "2026-03-01T05:30:00.123456789+05:30", "end-datetime": "2026-03-01t23:59:59z"}
    r = parse_tls(tls_json(report))
    assert (r.begin.strftime(ISO_FORMAT), r.end.strftime(ISO_FORMAT), r.warnings) == (
        "2026-03-01T00:00:00Z", "2026-03-01T23:59:59Z", ())
    report["date-range"] = {"start-datetime": "2026-03-01T00:00:00", "end-datetime": "2026-03-01 23:59:59"}
    naive = parse_tls(tls_json(report))
    assert (naive.end.strftime(ISO_FORMAT), naive.warnings) == ("2026-03-01T23:59:59Z", ("naive_datetime",))


def test_a_bom_and_unknown_keys_are_fine_and_invalid_utf8_is_replaced_not_counted():
    report = google_report()
    report["organization-name"] = "Google ORG-NAME"
    data = b"\xef\xbb\xbf" + tls_json(report).replace(b"ORG-NAME", b"\xff\xfe")
    r = parse_tls(data)
    assert (r.org_name, r.warnings, r.policies[0].successful, r.policies[0].failed) == (
        "Google \ufffd\ufffd", ("invalid_bytes_replaced",), 1510, 37)


def test_empty_organization_name_takes_the_submitter_header():
    report = google_report()
    report["organization-name"] = " "
    r = parse_tls(tls_json(report), submitter="Google Inc.")
    assert (r.org_name, r.warnings) == ("Google Inc.", ("empty_organization_name",))
    with pytest.raises(ParseError) as err:
        parse_tls(tls_json(report))
    assert (err.value.reason, err.value.message) == ("missing_field", "organization-name is missing or empty")


def test_json_that_is_no_tls_report_is_noted_not_rejected():
    from dmarcflow.errors import NotAReport

    with pytest.raises(NotAReport) as err:
        parse_tls(b'{"name": "dmarcflow", "version": "1.0"}')
    assert (err.value.reason, err.value.message) == (
        "not_a_report", "a JSON document without any field of an SMTP TLS report (RFC 8460)")


def test_detection_is_by_content():
    assert looks_like_tls(b"\xef\xbb\xbf \n{\"organization-name\"")
    assert not looks_like_tls(b"<?xml version='1.0'?><feedback/>")
    assert not looks_like_tls(b"[1, 2]")


def _with(path: str, value: object) -> bytes:
    """The Google sample with one value replaced (path: keys and list indexes separated by dots)."""
    report = google_report()
    target = report
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return json.dumps(report).encode()


_DELETE = object()
POLICY = "policies.0"
DETAIL = "policies.0.failure-details.0"
HOSTILE = {
    "nesting bomb": (b'{"organization-name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too_large",
                     "the SMTP TLS report has more than 100000 JSON objects and arrays"),
    "deep nesting under the cap": (b"[" * 50_000 + b"]" * 50_000, "too_large", "the SMTP TLS report nests JSON too deeply"),
    "huge number": (_with(f"{POLICY}.summary.total-failure-session-count", 0).replace(b'"total-failure-session-count": 0', b'"total-failure-session-count": ' + b"9" * 5000),
                    "invalid_value", f"total-failure-session-count in {POLICY.replace('.0', '[0]')}.summary is too large: {'9' * 40}..."),
    "count at 2^63": (_with(f"{POLICY}.summary.total-successful-session-count", 2**63), "invalid_value",
                      "total-successful-session-count in policies[0].summary is out of range (0 to 2^63-1): 9223372036854775808"),
    "negative count": (_with(f"{DETAIL}.failed-session-count", -1), "invalid_value",
                       "failed-session-count in policies[0].failure-details[0] is out of range (0 to 2^63-1): -1"),
    "count as text": (_with(f"{POLICY}.summary.total-successful-session-count", "1510"), "invalid_value",
                      "total-successful-session-count in policies[0].summary is not an integer: '1510'"),
    "count as float": (_with(f"{POLICY}.summary.total-successful-session-count", 1.5), "invalid_value",
                       "total-successful-session-count in policies[0].summary is not an integer: 1.5"),
    "count as bool": (_with(f"{POLICY}.summary.total-successful-session-count", True), "invalid_value",
                      "total-successful-session-count in policies[0].summary is not an integer: True"),
    "infinite float": (_with(f"{POLICY}.summary.total-successful-session-count", 0).replace(b'"total-successful-session-count": 0', b'"total-successful-session-count": 1e999'),
                       "invalid_value", "total-successful-session-count in policies[0].summary is not an integer: inf"),
    "NaN": (b'{"organization-name": NaN}', "malformed_json", "the SMTP TLS report is not valid JSON: NaN is not a JSON number"),
    "repeated key": (b'{"report-id": "a", "report-id": "b"}', "malformed_json", "the SMTP TLS report repeats the key 'report-id' in one object"),
    "truncated": (tls_json(google_report())[:-40], "malformed_json", None),
    "not an object": (b"[]", "invalid_value", "the report is not a JSON object"),
    "org name a number": (_with("organization-name", 7), "invalid_value", "organization-name in the report is not a string: 7"),
    "policies an object": (_with("policies", {}), "invalid_value", "policies is not a list"),
    "policy a string": (_with(POLICY, "sts"), "invalid_value", "policies[0] is not a JSON object"),
    "no report id": (_with("report-id", _DELETE), "missing_field", "report-id is missing in the report"),
    "no summary": (_with(f"{POLICY}.summary", _DELETE), "missing_field", "policies[0].summary is not a JSON object"),
    "unknown policy type": (_with(f"{POLICY}.policy.policy-type", "dane"), "invalid_value",
                            "policies[0].policy-type is not sts, tlsa or no-policy-found: 'dane'"),
    "sts without domain": (_with(f"{POLICY}.policy.policy-domain", _DELETE), "missing_field",
                           "policy-domain is missing in policies[0].policy"),
    "bad sending ip": (_with(f"{DETAIL}.sending-mta-ip", "999.1.1.1"), "invalid_value",
                       "policies[0].failure-details[0].sending-mta-ip is not an IP address: '999.1.1.1'"),
    "markup as mx": (_with(f"{DETAIL}.receiving-mx-hostname", "<script>x</script>"), "invalid_value",
                     "policies[0].failure-details[0].receiving-mx-hostname is not a host name: '<script>x</script>'"),
    "bad date": (_with("date-range.start-datetime", "yesterday"), "invalid_value",
                 "start-datetime is not an RFC 3339 date-time: 'yesterday'"),
    "impossible date": (_with("date-range.start-datetime", "2026-02-30T00:00:00Z"), "invalid_value",
                        "start-datetime is not a valid date-time: '2026-02-30T00:00:00Z'"),
    "ends before it begins": (_with("date-range.end-datetime", "2026-02-01T00:00:00Z"), "invalid_value",
                              "date-range ends before it begins"),
    "year 9999": (_with("date-range.end-datetime", "9999-01-01T00:00:00Z"), "invalid_value",
                  "end-datetime is out of range: '9999-01-01T00:00:00Z'"),
    "empty": (b"", "malformed_json", None),
    "binary": (bytes(range(256)), "malformed_json", None),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_input_is_one_documented_rejection(case):
    data, reason, message = HOSTILE[case]
    with pytest.raises(ParseError) as err:
        parse_tls(data)
    assert err.value.reason == reason
    if message is not None:
        assert err.value.message == message


def test_session_sums_that_overflow_64_bits_are_refused():
    report = google_report()
    report["policies"] = [report["policies"][0]] * 2
    report["policies"][0] = json.loads(json.dumps(report["policies"][0]))
    for policy in report["policies"]:
        policy["summary"]["total-successful-session-count"] = 2**62 + 1
    with pytest.raises(ParseError) as err:
        parse_tls(json.dumps(report).encode())
    assert (err.value.reason, err.value.message) == ("invalid_value", "the report's session counts add up to more than 2^63-1")


class _Endless(io.RawIOBase):
    """A 200 MB JSON document that is never materialised: it counts what is read from it."""

    def __init__(self, size: int) -> None:
        self.size, self.served = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self.size - self.served)
        buffer[:n] = (b'{"x": "' + b"a" * n)[:n] if self.served == 0 else b"a" * n
        self.served += n
        return n


def test_a_200_mb_report_is_too_large_without_being_read_whole():
    stream = _Endless(200 << 20)
    with pytest.raises(ParseError) as err:
        read_bounded(io.BufferedReader(stream), LIMITS.max_bytes, "the SMTP TLS report")
    assert (err.value.reason, err.value.message) == (
        "too_large", f"the SMTP TLS report is larger than {LIMITS.max_bytes} bytes; it is refused unread")
    assert stream.served <= LIMITS.max_bytes + (1 << 20)  # what was read is the limit plus one buffer
    with pytest.raises(ParseError) as direct:
        parse_tls(b" " * (LIMITS.max_bytes + 1))
    assert direct.value.reason == "too_large"
