"""Every page over real stores served by a real uvicorn: status codes, and figures equal to the CLI's JSON."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
import lxml.html
import pytest

from dmarcflow.models import SOURCE_CLASSES


def get(server, path, status=200):
    response = httpx.get(server.url(path), follow_redirects=False, timeout=30)
    assert response.status_code == status, (path, response.text[:500])
    return response


def page(server, path, status=200):
    return lxml.html.fromstring(get(server, path, status).text)


def number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def fields(element) -> dict[str, str]:
    """data-field -> text, the first occurrence of each (the page's headline before its tables)."""
    out: dict[str, str] = {}
    for e in element.xpath(".//*[@data-field]"):
        out.setdefault(e.get("data-field"), e.text_content().strip())
    return out


def cli_json(cli, db, *args):
    result = cli("--db", db, *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_overview_lists_every_domain_in_summary_order_with_its_figures(serve, sample_db, cli):
    expected = cli_json(cli, sample_db, "summary")["domains"]
    doc = page(serve(sample_db), "/")
    rows = doc.xpath("//table[@class='overview']/tbody/tr")
    assert [r.get("data-domain") for r in rows] == [d["domain"] for d in expected]
    for row, d in zip(rows, expected):
        f = fields(row)
        assert number(f["messages"]) == d["messages"]
        assert row.xpath(".//*[@data-field='dmarc_pass']/@data-value") == [str(d["dmarc_pass"])]
        assert number(f["unauthorised"]) == len(d["unauthorised"])
        assert f.get("status", "") == d.get("status", "")
        assert len(row.xpath(".//svg[@class='spark']//path[@class='spark-volume' and string-length(@d) > 0]")) == 1


@pytest.mark.parametrize("query", ["", "?since=2026-03-05", "?since=2026-03-03&until=2026-03-09"])
def test_domain_page_figures_equal_the_cli(serve, sample_db, cli, query):
    since = re.search(r"since=([\d-]+)", query)
    until = re.search(r"until=([\d-]+)", query)
    window = (["--since", since.group(1)] if since else []) + (["--until", until.group(1)] if until else [])
    expected = cli_json(cli, sample_db, "summary", "--top", "0", *window)["domains"]
    assert expected
    for d in expected:
        doc = page(serve(sample_db), f"/domains/{quote(d['domain'])}{query}")
        f = fields(doc)
        for key in ("messages", "dmarc_pass", "dmarc_fail", "spf_aligned", "dkim_aligned", "source_count",
                    "legitimate_messages", "legitimate_failing"):
            value = d["readiness"][key] if key.startswith("legitimate") else d[key]
            assert number(f[key]) == value, (d["domain"], key)
        for k in SOURCE_CLASSES:
            assert number(f[f"class_{k}"]) == d["classes"][k]
        for k, v in d["dispositions"].items():
            assert number(f[f"disposition_{k}"]) == v
        assert f["recommendation"] == d["readiness"]["recommendation"]
        table = doc.xpath("//table[@class='sources']/tbody/tr[@data-source]")
        assert [r.get("data-source") for r in table] == [s["ip"] for s in d["sources"]][:50]
        assert [number(fields(r)["messages"]) for r in table] == [s["messages"] for s in d["sources"]][:50]
        bars = doc.xpath("//svg[@class='chart']//rect[@class='bar' and @height > 0]")
        assert len(bars) >= 1


def test_sources_filter_sort_view_and_paging_follow_the_url(serve, mixed_db, cli):
    server = serve(mixed_db)
    expected = cli_json(cli, mixed_db, "senders", "example.com", "--class", "unauthorised")["sources"]
    doc = page(server, "/domains/example.com?class=unauthorised&sort=name")
    shown = [r.get("data-source") for r in doc.xpath("//table[@class='sources']/tbody/tr[@data-source]")]
    assert shown == sorted((s["ip"] for s in expected), key=str.lower)
    doc = page(server, "/domains/example.com?class=unauthorised&sort=name&dir=desc")
    assert [r.get("data-source") for r in doc.xpath("//tr[@data-source]")] == sorted(
        (s["ip"] for s in expected), key=str.lower, reverse=True)
    senders = cli_json(cli, mixed_db, "senders", "example.com", "--view", "sender")["sources"]
    doc = page(server, "/domains/example.com?view=sender")
    assert [r.get("data-source") for r in doc.xpath("//tr[@data-source]")] == [s["sender"] for s in senders][:50]
    everything = cli_json(cli, mixed_db, "senders", "example.com")["sources"]
    assert len(everything) > 50
    second = page(server, "/domains/example.com?page=2")
    assert [r.get("data-source") for r in second.xpath("//tr[@data-source]")] == [s["ip"] for s in everything][50:100]
    assert "page 2 of" in second.xpath("string(//nav[@class='pager'])")


def test_source_pages_show_the_cli_figures_history_and_reporters(serve, mixed_db, cli):
    server = serve(mixed_db)
    sources = cli_json(cli, mixed_db, "senders", "example.com")["sources"]
    for s in (sources[0], sources[-1]):
        doc = page(server, f"/domains/example.com/source?ip={quote(s['ip'])}")
        f = fields(doc)
        assert (number(f["messages"]), number(f["dmarc_pass"]), f["explanation"].startswith(s["explanation"])) == (
            s["messages"], s["dmarc_pass"], True)
        # every message of the source was reported by someone, once
        assert sum(number(c.text_content()) for c in doc.xpath("//*[@data-field='reporter_messages']")) == s["messages"]
        assert sum(float(r.get("height")) > 0 for r in doc.xpath("//svg[@class='chart']//rect[@class='bar']")) >= 1
    sender = cli_json(cli, mixed_db, "senders", "example.com", "--view", "sender")["sources"][0]
    doc = page(server, f"/domains/example.com/source?sender={quote(sender['sender'])}")
    assert number(fields(doc)["messages"]) == sender["messages"]
    assert len(doc.xpath("//a[contains(@href, '/source?ip=')]")) == len(sender["ips"])


def test_reports_list_detail_records_and_raw_xml(serve, sample_db, cli):
    server = serve(sample_db)
    reports = cli_json(cli, sample_db, "reports")
    doc = page(server, "/reports")
    assert [int(r.get("data-report")) for r in doc.xpath("//tr[@data-report]")] == sorted(
        (r["id"] for r in reports), key=lambda i: (next(x["begin"] for x in reports if x["id"] == i), i), reverse=True)
    for r in reports:
        detail = page(server, f"/reports/{r['id']}")
        assert len(detail.xpath("//table[@class='records']/tbody/tr")) == min(r["records"], 100)
        assert fields(detail)["report_id"] == r["report_id"]
        raw = get(server, f"/reports/{r['id']}/raw.xml")
        assert raw.headers["content-disposition"] == f'attachment; filename="dmarcflow-report-{r["id"]}.xml"'
        assert raw.content.lstrip().startswith(b"<")
    one = reports[0]["domain"]
    doc = page(server, f"/reports?domain={quote(one)}")
    assert len(doc.xpath("//tr[@data-report]")) == sum(1 for r in reports if r["domain"] == one)


def test_conflicts_and_rejected_inputs_are_listed(serve, hostile_db):
    server = serve(hostile_db)
    doc = page(server, "/reports?status=conflict")
    (row,) = doc.xpath("//tr[@data-report]")
    assert row.xpath("string(.//span[@class='conflict'])") == "conflict"
    assert row.xpath(".//a[starts-with(@href, '/reports/')]/@href")[-1] == "/reports/1"
    assert "conflicting versions" in page(server, "/reports/1").text_content()
    doc = page(server, "/rejected")
    (row,) = doc.xpath("//tr[@data-rejected]")
    assert (fields(row)["reason"], fields(row)["seen_count"]) == ("malformed_xml", "1")
    raw = get(server, f"/rejected/{row.get('data-rejected')}/raw")
    assert raw.headers["content-disposition"] == f'attachment; filename="dmarcflow-rejected-{row.get("data-rejected")}.bin"'
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == b'<feedback><script>alert("xss")</script>'


@pytest.mark.parametrize("path, status, text", [
    ("/domains/nothing.example", 404, "No data for nothing.example in this period."),
    ("/domains/example.com/source?ip=203.0.113.250", 404, "No source 203.0.113.250 sending as example.com"),
    ("/domains/example.com/source", 400, "give either ip=ADDRESS or sender=NAME"),
    ("/reports/999999", 404, "No report 999999 is stored."),
    ("/reports/999999/raw.xml", 404, "No raw XML is kept for report 999999."),
    ("/rejected/999999/raw", 404, "No raw bytes are kept for rejected input 999999."),
    ("/?since=yesterday", 400, "since: 'yesterday' is not a date (use YYYY-MM-DD, UTC)"),
    ("/?since=2026-03-05&until=2026-03-01", 400, "until 2026-03-01 is before since 2026-03-05"),
    ("/domains/example.com?view=table", 400, "view: 'table' is not one of ip, sender"),
    ("/domains/example.com?class=evil", 400, "class: 'evil' is not one of authorised, forwarded, misconfigured, unauthorised"),
    ("/reports?page=0", 400, "page: '0' is not a whole number from 1 to 1000000"),
    ("/reports?status=gone", 400, "status: 'gone' is not one of active, conflict"),
])
def test_bad_requests_get_a_page_that_says_what_to_fix(serve, sample_db, path, status, text):
    doc = page(serve(sample_db), path, status)
    assert doc.xpath("string(//p[@class='error'])") .startswith(text)


def test_the_navigation_links_every_page_and_none_is_coming(serve, sample_db):
    doc = page(serve(sample_db), "/")
    assert [(a.text_content(), a.get("href")) for a in doc.xpath("//nav/a")] == [
        ("Overview", "/"), ("Reports", "/reports"), ("Rejected inputs", "/rejected"), ("TLS reports", "/tls"),
        ("Failure reports", "/failures"), ("DNS posture", "/dns")]
    assert doc.xpath("//nav/span[@class='soon']") == []


def test_the_status_words_from_the_summary_are_shown_escaped(serve, sample_db, cli, monkeypatch):
    """The analysis gives each domain a short ``status`` (analysis.overview): the overview shows it as given,
    in its order (worst first), and escapes it."""
    from dmarcflow.analysis.summary import DomainSummary

    server = serve(sample_db)
    doc = page(server, "/")
    assert "status" in [th.text_content() for th in doc.xpath("//table[@class='overview']/thead//th")]
    expected = [d["status"] for d in cli_json(cli, sample_db, "summary")["domains"]]
    assert [s.text_content() for s in doc.xpath("//tr[@data-domain]//*[@data-field='status']")] == expected
    plain = DomainSummary.as_dict
    monkeypatch.setattr(DomainSummary, "as_dict", lambda self: {**plain(self), "status": f"<b>{self.domain[:3]}</b>"})
    doc = page(server, "/")
    assert "status" in [th.text_content() for th in doc.xpath("//table[@class='overview']/thead//th")]
    assert [s.text_content() for s in doc.xpath("//tr[@data-domain]//*[@data-field='status']")] == ["<b>exa</b>"] * 3
    assert doc.xpath("//tr[@data-domain]//b") == []
