"""`dmarcflow failures`: every failure report once, no bodies, grouped by IP, linked to aggregate classes."""

from __future__ import annotations

import json

from tests.kinds.test_failure_parse import BODY_TEXTS
from tests.support.report_xml import record, report

SPOOF = record(ip="203.0.113.66", count="230", dkim_eval="fail", spf_eval="fail", dkim="fail", spf="fail",
               dkim_domain="forger.example", spf_domain="forger.example")


def _with_aggregate(ingestor):
    """An aggregate report for example.com on 2026-03-02 that saw the forger's IP."""
    outcome = ingestor.ingest_bytes("agg.xml", report(SPOOF, begin="1772409600", end="1772495999"))
    assert outcome.status == "ingested"


def test_json_lists_every_failure_once_without_bodies(kinds_store, ingestor, cli, db_path):
    _with_aggregate(ingestor)
    result = cli("--db", db_path, "failures", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(f["arrival_date"], f["source_ip"], f["reported_domain"], f["auth_failure"], f["identity_alignment"],
             f["delivery_result"], f["reporter"]) for f in data["failures"]] == [
        ("2026-03-05T09:00:00Z", "203.0.113.99", "example.com", ["dmarc"], None, "reject", "gateway.example"),
        ("2026-03-04T06:30:00Z", "2001:db8::66", "example.org", ["dkim", "spf"], ["dkim"], None, "yahoo.example"),
        ("2026-03-03T19:00:05Z", "198.51.100.23", "example.net", ["dmarc"], None, "spam", "isp.example"),
        ("2026-03-02T10:12:31Z", "203.0.113.66", "example.com", ["dmarc"], [], "reject", "receiver.example"),
    ]
    assert len({f["id"] for f in data["failures"]}) == 4
    assert [t for t in BODY_TEXTS if t in result.stdout] == []
    assert {f["sample_kept"] for f in data["failures"]} == {False}
    linked = data["failures"][3]
    assert linked["aggregate"] == {"domain": "example.com", "class": "unauthorised", "messages": 230,
                                   "classes": {"unauthorised": 230}}
    assert [s["source_ip"] for s in data["sources"]] == ["203.0.113.99", "2001:db8::66", "198.51.100.23", "203.0.113.66"]
    assert data["sources"][3] == {"source_ip": "203.0.113.66", "failures": 1, "domains": ["example.com"],
                                  "reporters": ["receiver.example"], "first": "2026-03-02T10:12:31Z",
                                  "last": "2026-03-02T10:12:31Z", "aggregate": linked["aggregate"]}


def test_table_groups_by_ip_and_says_what_aggregate_reports_say(kinds_store, ingestor, cli, db_path):
    _with_aggregate(ingestor)
    result = cli("--db", db_path, "failures", "example.com")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Source IPs (2)",
        "  203.0.113.99: 1 failure report(s) for example.com, last 2026-03-05T09:00:00Z; not in aggregate reports for this period",
        "  203.0.113.66: 1 failure report(s) for example.com, last 2026-03-02T10:12:31Z; also unauthorised in aggregate reports: 230 messages",
    ]
    assert "Failure reports (2, newest first)" in lines


def test_the_same_ip_in_another_period_is_not_linked(kinds_store, ingestor, cli, db_path):
    _with_aggregate(ingestor)
    result = cli("--db", db_path, "failures", "example.com", "--since", "2026-03-03", "--format", "json")
    data = json.loads(result.stdout)
    assert [(f["source_ip"], f["aggregate"]) for f in data["failures"]] == [("203.0.113.99", None)]


def test_several_reports_of_one_ip_group_together(store, cli, db_path):
    from tests.kinds.conftest import store_failure_sample

    for name in ("email-arf-crlf-rfc822.eml", "email-arf-rfc822-headers.eml"):
        store_failure_sample(store, name)
    from dmarcflow.kinds.failure import parse_failure_mail
    from dmarcflow.store.failures import FailureReports
    from tests.support.kind_samples import arf_crlf

    second = arf_crlf().replace(b"inv-2026-03@example.com", b"inv-2026-04@example.com")
    with store.transaction():
        assert FailureReports(store).save(parse_failure_mail(second), source="b.eml", sample=None).status == "ingested"
    data = json.loads(cli("--db", db_path, "failures", "--format", "json").stdout)
    assert [(s["source_ip"], s["failures"]) for s in data["sources"]] == [("203.0.113.66", 2), ("198.51.100.23", 1)]
    limited = json.loads(cli("--db", db_path, "failures", "--limit", "1", "--format", "json").stdout)
    assert [f["source_ip"] for f in limited["failures"]] == ["198.51.100.23"]
    paged = json.loads(cli("--db", db_path, "failures", "--limit", "1", "--offset", "1", "--format", "json").stdout)
    rest = json.loads(cli("--db", db_path, "failures", "--offset", "1", "--format", "json").stdout)
    assert [(f["source_ip"], f["arrival_date"]) for f in paged["failures"]] == [("203.0.113.66", "2026-03-02T10:12:31Z")]
    assert [f["arrival_date"] for f in rest["failures"]] == ["2026-03-02T10:12:31Z", "2026-03-02T10:12:31Z"]


def test_csv_and_no_data(kinds_store, cli, db_path):
    rows = cli("--db", db_path, "failures", "example.org", "--format", "csv").stdout.splitlines()
    assert rows == [
        "id,arrival_date,source_ip,reported_domain,auth_failure,identity_alignment,delivery_result,reporter,dkim_domain,"
        "spf_domain,original_mail_from,header_from,subject,message_id,aggregate_class,aggregate_messages",
        "1,2026-03-04T06:30:00Z,2001:db8::66,example.org,\"dkim,spf\",dkim,,yahoo.example,example.org,example.org,,"
        "Alice Example <info@example.org>,Your account,<promo-77@example.org>,,",
    ]
    none = cli("--db", db_path, "failures", "nothing.example", "--format", "json")
    assert (none.exit_code, json.loads(none.stdout), none.stderr) == (
        0, {"failures": [], "sources": []}, "No failure reports for nothing.example in this period.\n")
