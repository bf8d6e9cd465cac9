"""The DNS posture pages and /api/checks over stores holding saved `dmarcflow check` results: the figures equal
`dmarcflow check --cached --format json`, the domain page shows the check's errors as `summary` does, a
domain never checked says which command to run, and DNS record text is escaped."""

from __future__ import annotations

import hashlib
import json
from urllib.parse import quote, urlencode

import httpx
import pytest

from tests.support.posture import HOSTILE_BIMI, HOSTILE_CHECKED, HOSTILE_DMARC, HOSTILE_SELECTOR, HOSTILE_SPF, HOSTILE_STS
from tests.support.web import IMG, SCRIPT, SVG
from tests.web.test_web_pages import fields, page


def cached(cli, db, *domains):
    result = cli("--db", db, "check", "--cached", *domains, "--format", "json")
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def test_the_posture_page_lists_every_saved_check_and_the_domains_never_checked(serve, checked_db, cli):
    expected = json.loads(cached(cli, checked_db))["domains"]
    assert [d["domain"] for d in expected] == ["example.com", "example.net"]
    doc = page(serve(checked_db), "/dns")
    rows = doc.xpath("//table[@class='posture']/tbody/tr")
    assert [r.get("data-domain") for r in rows] == ["example.com", "example.net"]
    for row, d in zip(rows, expected):
        f = fields(row)
        counts = [sum(1 for x in d["findings"] if x["severity"] == s) for s in ("error", "warning", "info")]
        assert [int(f["errors"]), int(f["warnings"]), int(f["notes"])] == counts
        assert f["checked_at"] == d["checked_at"]
        assert row.xpath(".//a/@href") == [f"/dns/{d['domain']}"]
    assert [int(fields(r)["errors"]) for r in rows] == [0, 3]
    assert doc.xpath("string(//*[@data-field='unchecked'])") == "example.org: run dmarcflow check example.org."
    assert doc.xpath("//nav/a[@aria-current='page']/text()") == ["DNS posture"]


def test_a_domain_posture_page_shows_the_saved_records_and_findings(serve, checked_db, cli):
    (expected,) = json.loads(cached(cli, checked_db, "example.net"))["domains"]
    doc = page(serve(checked_db), "/dns/example.net")
    f = fields(doc)
    assert (f["checked_at"], f["errors"], f["warnings"], f["notes"]) == (expected["checked_at"], "3", "0", "0")
    rows = doc.xpath("//table[@class='findings']/tbody/tr")
    assert [r.get("data-code") for r in rows] == [x["code"] for x in expected["findings"]] == [
        "dkim_key_weak", "dkim_key_missing", "dkim_key_invalid"]
    for row, finding in zip(rows, expected["findings"]):
        assert (fields(row)["message"], fields(row)["fix"]) == (finding["message"], "Fix: " + finding["fix"])
        assert row.xpath("string(.//span[contains(@class, 'sev')])") == "error"
    records = doc.xpath("//table[@class='records-dns']/tbody/tr")
    assert [r.get("data-type") for r in records] == ["DMARC", "SPF", "DKIM", "DKIM", "DKIM", "DKIM", "MTA-STS",
                                                     "TLS-RPT", "BIMI"]
    texts = [r.xpath("string(./td[3])") for r in records]
    rec = expected["records"]
    assert texts == [rec["dmarc"]["record"], rec["spf"]["record"], *[k["record"] or "none" for k in rec["dkim"]],
                     rec["mta_sts"]["record"], rec["tlsrpt"]["record"], "none"]
    assert [r.xpath("string(./td[2])") for r in records][2:6] == [k["name"] for k in rec["dkim"]]
    assert [r.xpath("string(./td[4])") for r in records][2:6] == ["weak", "ok", "missing", "invalid"]
    assert "From the stored reports: 5,541 message(s); 4 DKIM selector(s)" in doc.text_content()


@pytest.mark.parametrize("db_name, path, text", [
    ("checked_db", "/dns/example.org", "No DNS check has run for example.org yet. Run dmarcflow check example.org: "
                                       "it saves its result in the store"),
    ("sample_db", "/dns", "No DNS check has run yet. Run dmarcflow check example.com example.net example.org: it "
                          "saves its result in the store, and this page shows it."),
])
def test_no_check_yet_says_which_command_to_run(serve, request, db_name, path, text):
    doc = page(serve(request.getfixturevalue(db_name)), path)
    assert doc.xpath("string(//*[@data-field='no_check'])").startswith(text)


def test_the_domain_page_shows_the_checks_errors_as_summary_does(serve, checked_db, cli):
    result = cli("--db", checked_db, "summary", "--format", "json")
    by_domain = {d["domain"]: d for d in json.loads(result.stdout)["domains"]}
    server = serve(checked_db)
    doc = page(server, "/domains/example.net")
    errors = by_domain["example.net"]["dns_check"]["errors"]
    items = doc.xpath("//ul[@class='dns-errors']/li")
    assert [i.get("data-code") for i in items] == [e["code"] for e in errors]
    assert [i.text_content() for i in items] == [f"error {e['code']}: {e['message']}Fix: {e['fix']}" for e in errors]
    assert fields(doc)["dns_check"] == (f"The check of {by_domain['example.net']['dns_check']['checked_at']} (UTC) "
                                        "found 3 error(s): Every finding and record")
    assert doc.xpath("//*[@data-field='dns_check']/a/@href") == ["/dns/example.net"]
    assert fields(doc)["status"] == by_domain["example.net"]["status"]
    assert by_domain["example.net"]["status"].endswith("; DNS check: 3 errors")
    never = page(server, "/domains/example.org")
    assert by_domain["example.org"]["dns_check"] is None
    assert fields(never)["dns_check"] == ("No DNS check has run for example.org yet: run dmarcflow check example.org, "
                                          "then see its result here (the web UI never asks the DNS).")


@pytest.mark.parametrize("domains", [(), ("example.net",), ("example.org", "EXAMPLE.com."), ("nothing.test",)])
def test_api_checks_is_the_cli_check_cached(serve, checked_db, cli, domains):
    params = urlencode([("domain", d) for d in domains])
    response = httpx.get(serve(checked_db).url("/api/checks" + ("?" + params if params else "")), timeout=30)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    assert response.text == cached(cli, checked_db, *domains)


def test_api_checks_refuses_a_name_that_is_not_a_domain(serve, checked_db):
    response = httpx.get(serve(checked_db).url("/api/checks?domain=" + quote("http://example.com")))
    assert (response.status_code, response.json()) == (400, {
        "error": "'http://example.com' is not a domain name (e.g. example.com; no URLs or addresses)"})


def test_serving_the_posture_pages_never_writes(serve, checked_db, tmp_path):
    import shutil

    db = tmp_path / "copy.sqlite"
    shutil.copy(checked_db, db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    server = serve(db)
    for path in ("/dns", "/dns/example.net", "/dns/example.org", "/domains/example.net", "/api/checks"):
        assert httpx.get(server.url(path)).status_code == 200
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("path, escaped", [
    ("/dns", "refers to &#34;&gt;&lt;img, which (include) has no SPF record"),  # the first error only
    (f"/dns/{HOSTILE_CHECKED}", "&lt;svg/onload=alert(3)&gt;._domainkey.xss.test"),
    (f"/domains/{HOSTILE_CHECKED}", "&lt;svg/onload=alert(3)&gt;._domainkey.xss.test"),
])
def test_dns_record_text_is_escaped(serve, hostile_checked_db, path, escaped):
    body = httpx.get(serve(hostile_checked_db).url(path)).text
    for raw in (SCRIPT, IMG, SVG, HOSTILE_SELECTOR, "<script", "<img", "<svg/onload", "<svg onload"):
        assert raw not in body, raw
    assert escaped in body


def test_dns_record_text_reaches_the_page_as_text(serve, hostile_checked_db):
    doc = page(serve(hostile_checked_db), f"/dns/{HOSTILE_CHECKED}")
    records = {r.get("data-type"): r.xpath("string(./td[3])") for r in doc.xpath("//table[@class='records-dns']/tbody/tr")}
    assert (records["DMARC"], records["SPF"], records["MTA-STS"], records["BIMI"]) == (
        HOSTILE_DMARC, HOSTILE_SPF, HOSTILE_STS, HOSTILE_BIMI)
    assert doc.xpath("//table[@class='records-dns']//tr[@data-type='DKIM']/td[2]/text()") == [
        f"{HOSTILE_SELECTOR}._domainkey.{HOSTILE_CHECKED}"]
