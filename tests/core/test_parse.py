"""Parsing and normalisation of report XML, one variant at a time."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest

from dmarcflow.errors import ParseError
from dmarcflow.parse import parse_report
from tests.support.report_xml import record, report


def parse(data: bytes):
    parsed = parse_report(io.BytesIO(data))
    return parsed.report, list(parsed.records)


def test_rfc7489_report_header_and_record():
    rep, recs = parse(report())
    assert rep.schema == "rfc7489"
    assert rep.version == "1.0"
    assert rep.identity == ("receiver.example", "r-1", "example.com", 1772323200, 1772409599)
    assert rep.metadata.begin == datetime(2026, 3, 1, tzinfo=timezone.utc)
    assert rep.metadata.begin.tzinfo is timezone.utc
    assert (rep.policy.p, rep.policy.sp, rep.policy.pct, rep.policy.adkim) == ("reject", "quarantine", 100, "r")
    assert rep.defaults_applied == ("fo",)
    assert len(recs) == 1
    r = recs[0]
    assert (r.source_ip, r.count, r.disposition, r.dmarc_pass, r.source_class) == ("192.0.2.10", 3, "none", True, "authorised")
    assert (r.alignment.dkim, r.alignment.spf) == (True, True)


def test_draft_schema_without_version_gets_rfc_defaults():
    rep, recs = parse(report(version="", policy="<p>none</p>"))
    assert rep.schema == "draft"
    assert rep.version is None
    assert (rep.policy.adkim, rep.policy.aspf, rep.policy.sp, rep.policy.pct, rep.policy.fo) == ("r", "r", "none", 100, "0")
    assert rep.defaults_applied == ("adkim", "aspf", "sp", "fo", "pct")
    assert len(recs) == 1


@pytest.mark.parametrize("root", ['<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">', "<feedback>"])
def test_rfc9990_with_and_without_namespace(root):
    policy = "<p>quarantine</p><np>reject</np><testing>n</testing><discovery_method>treewalk</discovery_method>"
    meta = "<generator>Receiver MTA 4.2</generator><ext:thing xmlns:ext='urn:x'>skipped</ext:thing>"
    body = record().replace("<result>pass</result></dkim>", "<result>pass</result><human_result>good sig</human_result></dkim>")
    rep, recs = parse(report(body + "<extension><x>1</x></extension>", root=root, policy=policy, extra_meta=meta))
    assert rep.schema == "rfc9990"
    assert rep.namespace == ("urn:ietf:params:xml:ns:dmarc-2.0" if "xmlns" in root else None)
    assert (rep.policy.p, rep.policy.sp, rep.policy.np, rep.policy.pct) == ("quarantine", "quarantine", "reject", None)
    assert (rep.policy.testing, rep.policy.discovery_method) == ("n", "treewalk")
    assert rep.metadata.generator == "Receiver MTA 4.2"
    assert recs[0].dkim[0].human_result == "good sig"
    assert len(recs) == 1


def test_values_are_trimmed_and_lowercased():
    body = record(dkim="  Pass ", spf="\nFAIL\n", disposition=" None", header_from=" Example.COM. ", spf_domain="Example.com")
    _, recs = parse(report(body))
    r = recs[0]
    assert (r.dkim[0].result, r.spf[0].result, r.disposition, r.header_from) == ("pass", "fail", "none", "example.com")
    assert r.spf[0].domain == "example.com"


def test_many_records_stream_in_order():
    body = "".join(record(ip=f"198.51.100.{i}", count=str(i + 1)) for i in range(50))
    _, recs = parse(report(body))
    assert [r.source_ip for r in recs] == [f"198.51.100.{i}" for i in range(50)]
    assert sum(r.count for r in recs) == sum(range(1, 51))


@pytest.mark.parametrize(
    ("kw", "expected_class", "dkim_aligned", "spf_aligned"),
    [
        ({}, "authorised", True, True),
        # ESP: SPF passes for its bounce domain, DKIM signed by the ESP only
        ({"dkim_eval": "fail", "spf_eval": "fail", "dkim_domain": "esp.example", "spf_domain": "bounces.esp.example"}, "misconfigured", False, False),
        # forwarder: DKIM survives, SPF fails
        ({"spf_eval": "fail", "spf": "fail", "spf_domain": "forwarder.example"}, "forwarded", True, False),
        # receiver says mailing list, nothing passes
        ({"dkim_eval": "fail", "spf_eval": "fail", "dkim": "fail", "spf": "fail",
          "reason": "<reason><type>mailing_list</type><comment>list</comment></reason>"}, "forwarded", False, False),
        ({"dkim_eval": "fail", "spf_eval": "fail", "dkim": "fail", "spf": "softfail", "dkim_domain": "evil.example",
          "spf_domain": "evil.example"}, "unauthorised", False, False),
        # relaxed alignment: subdomain of the From domain aligns
        ({"dkim_domain": "mail.example.com", "spf_domain": "bounce.example.com"}, "authorised", True, True),
    ],
)
def test_alignment_and_class(kw, expected_class, dkim_aligned, spf_aligned):
    _, recs = parse(report(record(**kw)))
    r = recs[0]
    assert r.source_class == expected_class
    assert (r.alignment.dkim, r.alignment.spf) == (dkim_aligned, spf_aligned)


def test_strict_alignment_needs_exact_domain():
    body = record(dkim_domain="mail.example.com", spf_domain="bounce.example.com")
    _, recs = parse(report(body, policy="<adkim>s</adkim><aspf>s</aspf><p>reject</p>"))
    a = recs[0].alignment
    assert (a.dkim, a.spf, a.dkim_domain, a.spf_domain) == (False, False, "mail.example.com", "bounce.example.com")


def test_public_suffix_list_decides_the_organisational_domain():
    body = record(header_from="shop.example.co.uk", dkim_domain="mail.example.co.uk", spf_domain="other.co.uk")
    _, recs = parse(report(body, domain="example.co.uk"))
    assert (recs[0].alignment.dkim, recs[0].alignment.spf) == (True, False)


@pytest.mark.parametrize(
    ("data", "reason", "message_part"),
    [
        (report(begin="1772409599", end="1772323200"), "invalid_value", "begins after it ends"),
        (report(record(count="-4")), "invalid_value", "record count is not a non-negative integer: '-4'"),
        (report(record(count="many")), "invalid_value", "record count is not a non-negative integer: 'many'"),
        (report(record(count="")), "missing_field", "record count is missing"),
        (report(""), "missing_field", "the report has no <record>"),
        (report(begin="yesterday"), "invalid_value", "date_range/begin is not an epoch timestamp"),
        (report(org=""), "missing_field", "org_name is missing"),
        (report(domain=""), "missing_field", "policy_published/domain is missing"),
        (report(policy="<p>maybe</p>"), "invalid_value", "policy_published/p has an unknown value: 'maybe'"),
        (report(record(ip="")), "missing_field", "source_ip is missing"),
        (b"<html><body>hello</body></html>", "not_a_report", "no <feedback> element: not a DMARC aggregate report"),
        (report()[:-40], "malformed_xml", "not well-formed"),
        (report().replace(b"count>", b"co\xff\xfeunt>"), "malformed_xml", "not well-formed"),
        (b"   \n", "empty", "empty"),
    ],
)
def test_invalid_reports_are_rejected_with_a_reason(data, reason, message_part):
    with pytest.raises(ParseError) as info:
        parse(data)
    assert info.value.reason == reason
    assert message_part in info.value.message


def test_billion_laughs_is_refused_before_parsing():
    bomb = b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>\n<feedback>&lol2;</feedback>'
    with pytest.raises(ParseError) as info:
        parse(bomb)
    assert info.value.reason == "forbidden_xml"


def test_external_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    xxe = f'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM "file://{secret}">]><feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>'
    with pytest.raises(ParseError) as info:
        parse(xxe.encode())
    assert info.value.reason == "forbidden_xml"
