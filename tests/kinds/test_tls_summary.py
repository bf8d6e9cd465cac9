"""`dmarcflow tls summary`: totals equal the reports' session counts, the JSON contract, plain words."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

import pytest

from dmarcflow.analysis.tls import describe, summarise_tls
from tests.kinds.conftest import TLS_FILES, tls_payload
from tests.support.kind_samples import TLS_DIR


def _sums_from_the_json_itself() -> dict[str, list[int]]:
    """Per policy domain: successful and failed sessions, read straight from the sample JSON."""
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name in TLS_FILES:
        data, header_domain, _ = tls_payload(TLS_DIR / name)
        policies = json.loads(data)["policies"]
        named = [p["policy"].get("policy-domain") for p in policies]
        for policy, domain in zip(policies, named):
            domain = domain or header_domain or next(d for d in named if d)
            sums[domain][0] += policy["summary"]["total-successful-session-count"]
            sums[domain][1] += policy["summary"]["total-failure-session-count"]
    return dict(sums)


def test_totals_equal_the_sums_of_the_reports_session_counts(kinds_store):
    result = {s.domain: [s.successful, s.failed] for s in summarise_tls(kinds_store)}
    assert result == _sums_from_the_json_itself() == {"example.com": [4710, 79], "example.net": [730, 8],
                                                     "example.org": [10111, 26]}


def test_json_contract(kinds_store, cli, db_path):
    result = cli("--db", db_path, "tls", "summary", "example.net", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"domains": [{
        "domain": "example.net", "successful": 730, "failed": 8, "sessions": 738, "success_rate": 0.98916,
        "reports": 2, "reporters": 1, "reporter_names": ["Kestrel Net"],
        "period": {"begin": "2026-03-02T00:00:00Z", "end": "2026-03-03T23:59:59Z"},
        "policies": [{"type": "sts", "successful": 620, "failed": 8, "success_rate": 0.987261},
                     {"type": "no-policy-found", "successful": 110, "failed": 0, "success_rate": 1.0}],
        "failures": [{"result_type": "validation-failure", "sessions": 8, "receiving_mx_hostname": "mx.example.net",
                      "sending_mta_ip": "2001:db8:5::25", "receiving_ips": ["203.0.113.5"], "failure_reason_codes": [],
                      "policy_types": ["sts"], "reporters": ["Kestrel Net"],
                      "text": "mx.example.net failed certificate validation (validation-failure): 8 sessions from Kestrel Net failed"}],
    }]}


def test_failures_are_ranked_by_sessions_in_plain_words(kinds_store):
    by_domain = {s.domain: s for s in summarise_tls(kinds_store)}
    assert [f.text for f in by_domain["example.com"].failures] == [
        "mx1.example.com presented a certificate that expired (certificate-expired): 69 sessions from Google Inc. failed",
        "mx1.example.com presented a certificate that expired (certificate-expired): 10 sessions from Nordvik Telecom failed",
    ]
    org = by_domain["example.org"]
    assert [(f.result_type, f.sessions, f.receiving_mx_hostname, f.sending_mta_ip) for f in org.failures] == [
        ("certificate-host-mismatch", 18, "mx2.mail.example.org", None),
        ("starttls-not-supported", 6, "mx3.mail.example.org", None),
        ("starttls-not-supported", 2, "mx.example.org", "203.0.113.80"),
    ]
    assert org.failures[0].failure_reason_codes == ("CertificateNameMismatch",)
    assert [(p.type, p.successful, p.failed) for p in org.policies] == [
        ("sts", 8420, 24), ("tlsa", 1600, 0), ("no-policy-found", 91, 2)]
    assert (org.reports, org.reporter_names) == (3, ("Mail.Ru", "Microsoft Corporation"))


@pytest.mark.parametrize(("result", "mx", "expected"), [
    ("certificate-expired", "mx1.example.com",
     "mx1.example.com presented a certificate that expired (certificate-expired): 37 sessions from Google failed"),
    ("sts-policy-fetch-error", None,
     "The MTA-STS policy of example.com could not be fetched (sts-policy-fetch-error): 37 sessions from Google failed"),
    ("quantum-tunnel", None,
     "an MX host returned a result type RFC 8460 does not list (quantum-tunnel): 37 sessions from Google failed"),
])
def test_plain_words(result, mx, expected):
    assert describe(result, mx, "example.com", 37, ["Google"]) == expected
    assert describe("starttls-not-supported", "mx", "d", 1, ["A", "B", "C"]) == (
        "mx did not offer STARTTLS (starttls-not-supported): 1 session from A, B and C failed")


def test_window_and_conflicts(kinds_store):
    only = summarise_tls(kinds_store, ["example.com"], since=date(2026, 3, 2), until=date(2026, 3, 3))
    assert [(s.domain, s.successful, s.failed, s.reports) for s in only] == [("example.com", 3050, 32, 2)]
    # a second, different version of a known report is kept but not counted
    from dmarcflow.kinds.tls import parse_tls
    from dmarcflow.store.tls import TlsReports
    from tests.support.kind_samples import google_report, tls_json

    data = tls_json(google_report(1, failed=1000))
    with kinds_store.transaction():
        assert TlsReports(kinds_store).save(parse_tls(data), source="c.json", raw=data).status == "conflict"
    assert summarise_tls(kinds_store, ["example.com"])[0].failed == 79


def test_table_csv_and_no_data(kinds_store, cli, db_path):
    table = cli("--db", db_path, "tls", "summary", "example.com", "nothing.example")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0] == "example.com: 4,710 of 4,789 sessions succeeded (98.4%), 5 report(s) from 2 reporter(s)"
    assert lines[1] == "period 2026-03-01 to 2026-03-06 (UTC days); reporters: Google Inc., Nordvik Telecom"
    assert "  mx1.example.com presented a certificate that expired (certificate-expired): 69 sessions from Google Inc. failed (sending IP 209.85.220.41)" in lines
    assert table.stderr == "No TLS reports for nothing.example in this period.\n"
    csv_out = cli("--db", db_path, "tls", "summary", "--format", "csv").stdout.splitlines()
    assert csv_out[0].startswith("domain,successful,failed,sessions,success_rate,reports,reporters,begin,end,sts_successful")
    assert csv_out[2] == ("example.net,730,8,738,0.98916,2,1,2026-03-02T00:00:00Z,2026-03-03T23:59:59Z,620,8,0,0,110,0,"
                          "mx.example.net failed certificate validation (validation-failure): 8 sessions from Kestrel Net failed")
    empty = cli("--db", db_path, "tls", "summary", "--since", "2030-01-01", "--format", "json")
    assert (empty.exit_code, json.loads(empty.stdout), empty.stderr) == (0, {"domains": []}, "No TLS reports in this period.\n")


def test_bad_window_is_a_usage_error(cli, db_path):
    result = cli("--db", db_path, "tls", "summary", "--since", "tomorrow")
    assert result.exit_code == 2
    assert "--since: 'tomorrow' is not a date (use YYYY-MM-DD, UTC)" in result.stderr
    assert "Traceback" not in result.output


def test_control_characters_from_reports_are_escaped_in_the_table(store, cli, db_path):
    from dmarcflow.kinds.tls import parse_tls
    from dmarcflow.store.tls import TlsReports
    from tests.support.kind_samples import google_report, tls_json

    report = google_report()
    report["organization-name"] = "Evil\x1b[2J Corp"
    data = tls_json(report)
    with store.transaction():
        TlsReports(store).save(parse_tls(data), source="e.json", raw=data)
    out = cli("--db", db_path, "tls", "summary").stdout
    assert "\x1b" not in out and "Evil\\x1b[2J Corp" in out
