"""Differential against parsedmarc's ``parse_report_file`` on the TLS and failure samples.

Where parsedmarc reads a sample correctly, both must say the same; where it does not (draft field names,
a missing policy-domain, a base64 ARF part, the RFC's ``mx-host``), the test pins what it does instead,
so that a change on either side shows. Measured with parsedmarc 11.1.
"""

from __future__ import annotations

import logging

import pytest

from dmarcflow.kinds.failure import parse_failure_mail
from dmarcflow.kinds.tls import parse_tls
from dmarcflow.utc import ISO_FORMAT
from tests.kinds.conftest import FAILURE_FILES, TLS_FILES, tls_payload
from tests.support.kind_samples import FAILURE_DIR, TLS_DIR

parsedmarc = pytest.importorskip("parsedmarc")

# parsedmarc refuses these: it requires policy-domain even on no-policy-found policies.
TLS_REFUSED = {
    "kestrel-net.de!example.net!1772409600!1772495999.json": "Missing required policy field: 'policy-domain'",
    "kestrel-net.de!example.net!1772496000!1772582399.zip": "Missing required policy field: 'policy-domain'",
    "email-octet-stream-gzip.eml": "Missing required policy field: 'policy-domain'",
}
# It reads the draft name mx-host-pattern (and additional-info-uri), not RFC 8460's mx-host.
DRAFT_NAMED = {"nordvik-telecom.no!example.com!1772582400!1772668799.json", "email-zip.eml"}
# It does not decode a base64 message/feedback-report part.
FAILURE_REFUSED = {"email-arf-base64-mislabelled.eml": "is not a valid report"}


@pytest.fixture(autouse=True)
def _quiet_parsedmarc():
    logging.getLogger("parsedmarc").setLevel(logging.ERROR)


def _theirs(path):
    return parsedmarc.parse_report_file(str(path), offline=True)


def _tls_view(policies):
    """What both parsers must agree on, per policy."""
    return [
        (p["policy_type"], p["policy_domain"], p["successful_session_count"], p["failed_session_count"],
         [(d["result_type"], d.get("sending_mta_ip"), d.get("receiving_mx_hostname"), d.get("receiving_ip"),
           d["failed_session_count"]) for d in p.get("failure_details", [])])
        for p in policies
    ]


def _our_tls_view(report):
    return [
        (p.policy_type, p.policy_domain, p.successful, p.failed,
         [(d.result_type, d.sending_mta_ip, d.receiving_mx_hostname, d.receiving_ip, d.failed_sessions) for d in p.failures])
        for p in report.policies
    ]


@pytest.mark.parametrize("name", [n for n in TLS_FILES if n not in TLS_REFUSED])
def test_tls_agrees_with_parsedmarc(name):
    theirs = _theirs(TLS_DIR / name)
    data, domain, submitter = tls_payload(TLS_DIR / name)
    ours = parse_tls(data, report_domain=domain, submitter=submitter)
    assert theirs["report_type"] == "smtp_tls"
    report = theirs["report"]
    assert (report["organization_name"], report["report_id"], report["contact_info"]) == (
        ours.org_name, ours.report_id, ours.contact_info)
    assert _tls_view(report["policies"]) == _our_tls_view(ours)
    # parsedmarc passes the reporter's date-time text through; ours is UTC whole seconds
    assert report["begin_date"][:19] + "Z" == ours.begin.strftime(ISO_FORMAT)
    mx_theirs = [p.get("mx_host_patterns") for p in report["policies"]]
    if name in DRAFT_NAMED:
        assert mx_theirs == [list(p.mx_hosts) for p in ours.policies] and ours.warnings == ("draft_field_name",)
        assert report["policies"][0]["failure_details"][0]["additional_info_uri"] == \
            ours.policies[0].failures[0].additional_information
    else:
        assert mx_theirs == [None] * len(ours.policies)  # it misses RFC 8460's mx-host
        assert any(p.mx_hosts for p in ours.policies)


@pytest.mark.parametrize("name", sorted(TLS_REFUSED))
def test_tls_parsedmarc_refuses_what_we_read(name):
    with pytest.raises(parsedmarc.ParserError) as err:
        _theirs(TLS_DIR / name)
    assert TLS_REFUSED[name] in str(err.value)
    data, domain, submitter = tls_payload(TLS_DIR / name)
    assert "missing_policy_domain" in parse_tls(data, report_domain=domain, submitter=submitter).warnings


@pytest.mark.parametrize("name", [n for n in FAILURE_FILES if n not in FAILURE_REFUSED])
def test_failure_agrees_with_parsedmarc(name):
    theirs = _theirs(FAILURE_DIR / name)
    ours = parse_failure_mail((FAILURE_DIR / name).read_bytes())
    assert theirs["report_type"] == "failure"
    r = theirs["report"]
    assert r["arrival_date_utc"] == ours.arrival.strftime("%Y-%m-%d %H:%M:%S")
    assert (r["source"]["ip_address"], r["reported_domain"], r["auth_failure"]) == (
        ours.source_ip, ours.reported_domain, list(ours.auth_failure))
    assert r["parsed_sample"]["subject"] == ours.subject
    assert r["original_mail_from"] == ours.original_mail_from
    assert r["authentication_mechanisms"] == list(ours.identity_alignment or ())
    if name == "email-plain-text-notice.eml":
        # it does not read the notice's "DMARC Results: Reject" line
        assert (r["delivery_result"], ours.delivery_result) == ("other", "reject")
    else:
        assert r["delivery_result"] == ours.delivery_result
    # parsedmarc keeps the sample (with its body); we keep headers only and say whether a body was left out
    assert r["sample_headers_only"] is (not ours.body_omitted) or name == "email-plain-text-notice.eml"


@pytest.mark.parametrize("name", sorted(FAILURE_REFUSED))
def test_failure_parsedmarc_refuses_what_we_read(name):
    with pytest.raises(parsedmarc.ParserError) as err:
        _theirs(FAILURE_DIR / name)
    assert FAILURE_REFUSED[name] in str(err.value)
    assert parse_failure_mail((FAILURE_DIR / name).read_bytes()).source_ip == "2001:db8::66"


def test_parsedmarc_keeps_no_dkim_domain_without_the_field():
    """It reads DKIM-Domain only; we fall back to header.d in Authentication-Results."""
    theirs = _theirs(FAILURE_DIR / "email-arf-rfc822-headers.eml")["report"]
    ours = parse_failure_mail((FAILURE_DIR / "email-arf-rfc822-headers.eml").read_bytes())
    assert (theirs["dkim_domain"], ours.dkim_domain) == (None, "bulk.example.net")
