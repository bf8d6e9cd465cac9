"""The SMTP TLS report and DMARC failure report pages and their /api/ answers, over a store holding every TLS and
failure sample (through the real ingest): the figures equal `tls summary` / `failures --format json`, the
/api/ bodies are byte for byte the commands' stdout, paging and the domain filter, a failure report's detail
shows its kept headers and never a body, and hostile report text is escaped."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx
import pytest

from dmarcflow.web import kinds
from tests.kinds.test_failure_parse import BODY_TEXTS
from tests.support.hostile_kinds import HOSTILE_FROM, HOSTILE_HEADER, HOSTILE_REASON, HOSTILE_RESULT, HOSTILE_SUBJECT, HOSTILE_TLS_ORG
from tests.support.web import IMG, SCRIPT, SVG
from tests.web.test_web_pages import fields, get, page


def cli_json(cli, db, *args):
    result = cli("--db", db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_tls_page_lists_every_policy_domain_as_tls_summary_does(serve, kinds_db, cli):
    expected = json.loads(cli_json(cli, kinds_db, "tls", "summary"))["domains"]
    doc = page(serve(kinds_db), "/tls")
    rows = doc.xpath("//table[@class='tls']/tbody/tr")
    assert [r.get("data-domain") for r in rows] == [d["domain"] for d in expected] == [
        "example.com", "example.net", "example.org"]
    for row, d in zip(rows, expected):
        f = fields(row)
        assert [f["sessions"], f["successful"], f["failed"], f["reports"]] == [
            f"{d['sessions']:,}", f"{d['successful']:,}", f"{d['failed']:,}", str(d["reports"])]
        assert f["success_rate"] == f"{d['success_rate']:.1%}"
        assert f["reporters"] == ", ".join(d["reporter_names"])
        assert f["top_failure"] == d["failures"][0]["text"]
        assert row.xpath(".//a/@href") == [f"/tls/{d['domain']}"]
    assert [fields(r)["failed"] for r in rows] == ["79", "8", "26"]
    # One sparkline each, from 2026-03-01 to 2026-03-06 (the days with reports): a bar per day with sessions.
    assert [r.xpath("string(.//svg[@class='spark']/title)") for r in rows] == [
        f"{d['domain']}: TLS sessions per day and the success rate" for d in expected]
    assert [r.xpath(".//path[@class='spark-volume']/@d")[0].count("M") for r in rows] == [5, 2, 3]
    assert doc.xpath("//nav/a[@aria-current='page']/text()") == ["TLS reports"]


def test_a_tls_domain_page_shows_its_sessions_failures_and_chart(serve, kinds_db, cli):
    (d,) = json.loads(cli_json(cli, kinds_db, "tls", "summary", "example.org"))["domains"]
    doc = page(serve(kinds_db), "/tls/example.org")
    f = fields(doc)
    assert (f["successful"], f["sessions"], f["failed"], f["success_rate"], f["reporters"]) == (
        "10,111", "10,137", "26", "99.7%", "Mail.Ru, Microsoft Corporation")
    assert [(r.get("data-type"), fields(r)["successful"], fields(r)["failed"])
            for r in doc.xpath("//table[@class='tls-policies']/tbody/tr")] == [
        ("sts", "8,420", "24"), ("tlsa", "1,600", "0"), ("no-policy-found", "91", "2")]
    rows = [fields(r) for r in doc.xpath("//table[@class='tls-failures']/tbody/tr")]
    assert [(r["text"], r["sessions"], r["receiving_mx_hostname"], r["sending_mta_ip"], r["failure_reason_codes"])
            for r in rows] == [(x["text"], str(x["sessions"]), x["receiving_mx_hostname"], x["sending_mta_ip"] or "-",
                                ", ".join(x["failure_reason_codes"]) or "-") for x in d["failures"]]

    def breakdown(cls):
        return [(r.xpath("string(./td[1])"), r.xpath("string(./td[2])"), r.xpath("string(./td[3])"))
                for r in doc.xpath(f"//table[@class='{cls}']/tbody/tr")]

    assert breakdown("tls-by-result") == [("certificate-host-mismatch", "18", "mx2.mail.example.org"),
                                          ("starttls-not-supported", "8", "mx.example.org, mx3.mail.example.org")]
    assert breakdown("tls-by-mx") == [("mx2.mail.example.org", "18", "certificate-host-mismatch"),
                                      ("mx3.mail.example.org", "6", "starttls-not-supported"),
                                      ("mx.example.org", "2", "starttls-not-supported")]
    assert breakdown("tls-by-ip") == [("not reported", "24", "certificate-host-mismatch, starttls-not-supported"),
                                      ("203.0.113.80", "2", "starttls-not-supported")]
    # Reports began on 03-01 and 03-02 (Microsoft) and 03-05 (Mail.Ru): a successful and a failed bar each.
    bars = doc.xpath("//svg[contains(@class, 'tls-chart')]//rect[contains(@class, 'bar')]")
    assert [b.get("class") for b in bars] == ["bar bar-successful", "bar bar-failed"] * 3
    assert [b.xpath("string(./title)") for b in bars] == [
        "2026-03-01: 5,010 successful", "2026-03-01: 12 failed", "2026-03-02: 5,010 successful", "2026-03-02: 12 failed",
        "2026-03-05: 91 successful", "2026-03-05: 2 failed"]


def test_a_tls_period_is_in_the_url(serve, kinds_db, cli):
    (d,) = json.loads(cli_json(cli, kinds_db, "tls", "summary", "example.com", "--since", "2026-03-02",
                               "--until", "2026-03-03"))["domains"]
    doc = page(serve(kinds_db), "/tls/example.com?since=2026-03-02&until=2026-03-03")
    assert (fields(doc)["successful"], fields(doc)["failed"]) == (f"{d['successful']:,}", str(d["failed"])) == (
        "3,050", "32")
    assert len(doc.xpath("//svg[contains(@class, 'tls-chart')]//rect[contains(@class, 'bar')]")) == 4


@pytest.mark.parametrize("params, args", [
    ((), ()),
    ((("domain", "example.net"),), ("example.net",)),
    ((("domain", "EXAMPLE.org."), ("domain", "example.com"), ("since", "2026-03-02")),
     ("EXAMPLE.org.", "example.com", "--since", "2026-03-02")),
    ((("domain", "nothing.example"),), ("nothing.example",)),
    ((("since", "2030-01-01"),), ("--since", "2030-01-01")),
])
def test_api_tls_is_the_cli_tls_summary(serve, kinds_db, cli, params, args):
    response = httpx.get(serve(kinds_db).url("/api/tls") + ("?" + urlencode(params) if params else ""), timeout=30)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.text == cli_json(cli, kinds_db, "tls", "summary", *args)


def test_the_failures_page_lists_every_failure_report_as_failures_does(serve, kinds_db, cli):
    expected = json.loads(cli_json(cli, kinds_db, "failures"))
    doc = page(serve(kinds_db), "/failures")
    rows = doc.xpath("//table[@class='failures']/tbody/tr")
    assert [int(r.get("data-failure")) for r in rows] == [f["id"] for f in expected["failures"]]
    assert [(fields(r)["arrival_date"], fields(r)["source_ip"], fields(r)["reported_domain"], fields(r)["reporter"],
             fields(r)["subject"]) for r in rows] == [
        (f["arrival_date"], f["source_ip"], f["reported_domain"], f["reporter"], f["subject"])
        for f in expected["failures"]]
    assert [f["source_ip"] for f in expected["failures"]] == ["203.0.113.99", "2001:db8::66", "198.51.100.23",
                                                              "203.0.113.66"]
    assert rows[3].xpath("string(./td[9])") == "unauthorised 230 message(s)"
    sources = doc.xpath("//table[@class='failure-sources']/tbody/tr")
    assert [s.get("data-source") for s in sources] == [s["source_ip"] for s in expected["sources"]]
    assert doc.xpath("//nav/a[@aria-current='page']/text()") == ["Failure reports"]
    assert [t for t in BODY_TEXTS if t in get(serve(kinds_db), "/failures").text] == []


def test_failure_reports_are_paged_and_filtered_by_domain(serve, kinds_db, cli, monkeypatch):
    monkeypatch.setattr(kinds, "FAILURES_PAGE", 3)
    server = serve(kinds_db)
    first, second = page(server, "/failures"), page(server, "/failures?page=2")
    ids = [f["id"] for f in json.loads(cli_json(cli, kinds_db, "failures"))["failures"]]
    assert [int(r.get("data-failure")) for r in first.xpath("//tr[@data-failure]")] == ids[:3]
    assert [int(r.get("data-failure")) for r in second.xpath("//tr[@data-failure]")] == ids[3:]
    assert first.xpath("string(//nav[@class='pager'])").split() == ["page", "1", "of", "2", "(1–3", "of", "4)", "next", "→"]
    assert first.xpath("//nav[@class='pager']/a[@rel='next']/@href") == ["/failures?page=2"]
    only = page(server, "/failures?domain=Example.COM&since=2026-03-01")
    assert [r.xpath("string(.//*[@data-field='source_ip'])") for r in only.xpath("//tr[@data-failure]")] == [
        "203.0.113.99", "203.0.113.66"]
    assert only.xpath("//select[@name='domain']/option[@selected]/text()") == ["example.com"]
    assert only.xpath("//*[@data-field='api']/@href") == ["/api/failures?since=2026-03-01&domain=example.com"]
    assert only.xpath("//select[@name='domain']/option/text()") == ["all", "example.com", "example.net", "example.org"]
    none = page(server, "/failures?domain=nothing.example")
    assert none.xpath("string(//table[@class='failures']/tbody)").strip() == (
        "No failure reports for nothing.example in this period.")


def test_a_failure_reports_detail_shows_its_metadata_and_headers_never_a_body(serve, kinds_db, cli):
    listed = json.loads(cli_json(cli, kinds_db, "failures"))["failures"]
    crlf = next(f for f in listed if f["source_ip"] == "203.0.113.66")  # its original came with a body
    response = get(serve(kinds_db), f"/failures/{crlf['id']}")
    doc = page(serve(kinds_db), f"/failures/{crlf['id']}")
    f = fields(doc)
    assert (f["reporter"], f["source_ip"], f["reported_domain"], f["arrival_date"], f["auth_failure"],
            f["delivery_result"], f["subject"], f["message_id"]) == (
        "receiver.example", "203.0.113.66", "example.com", "2026-03-02T10:12:31Z", "dmarc", "reject",
        "Invoice March 2026", "<inv-2026-03@example.com>")
    assert doc.xpath("string(//pre[@data-field='original_headers'])") == crlf["original_headers"]
    assert f["aggregate"] == "Also unauthorised in aggregate reports of example.com that day: 230 message(s)."
    assert [t for t in BODY_TEXTS if t in response.text] == []
    assert f["body_note"] == ("The body of the reported message is not shown (the report carried one: it was not "
                              "kept): dmarcflow stores only the headers.")


@pytest.mark.parametrize("params, args", [
    ((), ()),
    ((("domain", "example.com"),), ("example.com",)),
    ((("since", "2026-03-03"), ("limit", "2")), ("--since", "2026-03-03", "--limit", "2")),
    ((("limit", "2"), ("offset", "1")), ("--limit", "2", "--offset", "1")),
    ((("offset", "3"),), ("--offset", "3")),
    ((("domain", "nothing.example"),), ("nothing.example",)),
])
def test_api_failures_is_the_cli_failures(serve, kinds_db, cli, params, args):
    response = httpx.get(serve(kinds_db).url("/api/failures") + ("?" + urlencode(params) if params else ""),
                         timeout=30)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.text == cli_json(cli, kinds_db, "failures", *args)


@pytest.mark.parametrize("path, status, text", [
    ("/tls/nothing.example", 404, "No TLS reports for nothing.example in this period."),
    ("/failures/999", 404, "No failure report 999 is stored."),
    ("/tls?since=soon", 400, "since: 'soon' is not a date (use YYYY-MM-DD, UTC)"),
    ("/failures?page=0", 400, "page: '0' is not a whole number from 1 to 1000000"),
])
def test_missing_and_bad_requests_say_what_to_do(serve, kinds_db, path, status, text):
    assert page(serve(kinds_db), path, status).xpath("string(//p[@class='error'])") == text


def test_api_bad_parameters_are_400_with_the_reason(serve, kinds_db):
    response = httpx.get(serve(kinds_db).url("/api/failures?limit=x"))
    assert (response.status_code, response.json()) == (400, {"error": "limit: 'x' is not a whole number from 0 to 1000000"})


def test_with_no_tls_reports_the_page_says_so(serve, sample_db):
    assert page(serve(sample_db), "/tls").xpath("string(//*[@data-field='no_data'])") == "No TLS reports in this period."


@pytest.mark.parametrize("path, escaped", [
    ("/tls", "Org &lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;"),
    ("/tls/example.com", "code&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"),
    ("/failures", "Invoice &lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;"),
    ("/failures/1", "X-Evil: &lt;svg onload=alert(2)&gt;"),
])
def test_hostile_report_text_is_escaped(serve, hostile_kinds_db, path, escaped):
    body = get(serve(hostile_kinds_db), path).text
    for raw in (SCRIPT, IMG, SVG, HOSTILE_RESULT, "<script", "<img", "<svg onload"):
        assert raw not in body, raw
    assert escaped in body


def test_hostile_report_text_reaches_the_pages_as_text(serve, hostile_kinds_db):
    server = serve(hostile_kinds_db)
    tls = page(server, "/tls/example.com")
    assert fields(tls)["reporters"] == HOSTILE_TLS_ORG
    row = fields(tls.xpath("//table[@class='tls-failures']/tbody/tr")[0])
    assert (row["result_type"], row["failure_reason_codes"]) == (HOSTILE_RESULT, HOSTILE_REASON)
    detail = fields(page(server, "/failures/1"))
    assert (detail["subject"], detail["header_from"]) == (HOSTILE_SUBJECT, HOSTILE_FROM)
    assert detail["original_headers"].endswith(HOSTILE_HEADER)


def test_a_domain_page_says_what_the_tls_and_failure_reports_say(serve, kinds_db, sample_db, cli):
    (d,) = json.loads(cli_json(cli, kinds_db, "tls", "summary", "example.com"))["domains"]
    doc = page(serve(kinds_db), "/domains/example.com?since=2026-02-01")
    assert fields(doc)["tls"] == (f"SMTP TLS: 4,710 of 4,789 sessions to its MX hosts succeeded (98.4%); the biggest "
                                  f"failure: {d['failures'][0]['text']}. Its TLS reports")
    assert fields(doc)["failure_reports"] == "2 DMARC failure report(s) in this period: the list"
    assert doc.xpath("//*[@data-field='tls']/a/@href") == ["/tls/example.com?since=2026-02-01"]
    assert doc.xpath("//*[@data-field='failure_reports']/a/@href") == ["/failures?since=2026-02-01&domain=example.com"]
    plain = fields(page(serve(sample_db), "/domains/example.com"))
    assert (plain["tls"], plain["failure_reports"]) == ("No SMTP TLS report for example.com in this period.",
                                                        "No DMARC failure report for example.com in this period.")


def test_one_failure_report_by_id_in_the_cli_and_the_api(serve, kinds_db, cli):
    listed = json.loads(cli_json(cli, kinds_db, "failures"))["failures"]
    crlf = next(f for f in listed if f["source_ip"] == "203.0.113.66")
    one = cli_json(cli, kinds_db, "failures", "--id", str(crlf["id"]))
    assert json.loads(one) == crlf  # the listing's object, its aggregate link taken on its arrival day
    response = httpx.get(serve(kinds_db).url(f"/api/failures/{crlf['id']}"), timeout=30)
    assert (response.status_code, response.headers["content-type"], response.text) == (200, "application/json", one)
    table = cli("--db", kinds_db, "failures", "--id", str(crlf["id"]))
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0] == f"id: {crlf['id']}"
    assert "source_ip: 203.0.113.66" in lines and "reported_domain: example.com" in lines
    csv_out = cli("--db", kinds_db, "failures", "--id", str(crlf["id"]), "--format", "csv")
    assert csv_out.stdout.splitlines()[1].startswith(f"{crlf['id']},2026-03-02T10:12:31Z,203.0.113.66,example.com,dmarc,")


def test_an_unknown_failure_report_id_says_so(serve, kinds_db, cli):
    result = cli("--db", kinds_db, "failures", "--id", "999")
    assert (result.exit_code, result.stderr) == (
        1, "Error: no failure report 999 is stored (`dmarcflow failures` lists their ids)\n")
    response = httpx.get(serve(kinds_db).url("/api/failures/999"), timeout=30)
    assert (response.status_code, response.json()) == (404, {"error": "no failure report 999 is stored"})
