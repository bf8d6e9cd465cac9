"""`dmarcflow report --html`: one file, no scripts, figures equal to the CLI's JSON."""

from __future__ import annotations

import json

import lxml.html
import pytest

from tests.support.web import HOSTILE_DOMAIN, SCRIPT


def number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def write_report(cli, db, tmp_path, *args):
    out = tmp_path / "report.html"
    result = cli("--db", db, "report", "--html", out, *args)
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("wrote ") and result.stderr.endswith(f" bytes to {out}\n")
    return out.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [(), ("--since", "2026-03-04", "--until", "2026-03-10"), ("example.net", "example.com")])
def test_report_figures_equal_the_cli_json(cli, mixed_db, tmp_path, args):
    html = write_report(cli, mixed_db, tmp_path, *args)
    result = cli("--db", mixed_db, "summary", *args, "--view", "sender", "--top", "0", "--format", "json")
    expected = json.loads(result.stdout)["domains"]
    doc = lxml.html.fromstring(html)
    sections = doc.xpath("//section[@class='domain']")
    assert [s.get("data-domain") for s in sections] == [d["domain"] for d in expected]
    overview = doc.xpath("//table[@class='overview']/tbody/tr")
    assert [r.get("data-domain") for r in overview] == [d["domain"] for d in expected]
    for section, d in zip(sections, expected):
        get = lambda f: section.xpath(f"string(.//*[@data-field='{f}'])")  # noqa: E731
        for key in ("messages", "dmarc_pass", "dmarc_fail", "spf_aligned", "dkim_aligned", "source_count"):
            assert number(get(key)) == d[key], key
        assert get("recommendation") == d["readiness"]["recommendation"]
        senders = section.xpath(".//table[@class='senders']/tbody/tr[@data-source]")
        assert [r.get("data-source") for r in senders] == [s["sender"] for s in d["sources"]][:25]
        impostors = [s["sender"] for s in d["sources"] if s["verdict"] == "impostor candidate"]
        shown = section.xpath(".//table[@class='impostors']/tbody/tr[@data-source]/@data-source")
        assert shown == impostors[:100]
        explanations = section.xpath(".//table[@class='senders']/tbody/tr[@class='explain']/td")
        assert [e.text_content().split(" (approved by")[0].split("Fix: ")[0].strip() for e in explanations] == [
            s["explanation"] for s in d["sources"]][:25]
        assert len(section.xpath(".//svg[@class='chart']//rect[@class='bar']")) >= 1


def test_report_is_one_file_without_scripts_or_outside_references(cli, mixed_db, tmp_path):
    html = write_report(cli, mixed_db, tmp_path)
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//script") == [] and doc.xpath("//link[@rel='stylesheet']") == []
    assert doc.xpath("//*[@src]") == []
    assert doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content") == [
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"]
    assert len(doc.xpath("//style")) == 1
    hrefs = doc.xpath("//a/@href")
    assert hrefs and all(h.startswith("#domain-") for h in hrefs)


def test_hostile_values_are_escaped_in_the_report(cli, hostile_db, tmp_path):
    html = write_report(cli, hostile_db, tmp_path)
    assert SCRIPT not in html and "<script" not in html.lower()
    doc = lxml.html.fromstring(html)
    assert doc.xpath("//section/@data-domain") == [HOSTILE_DOMAIN]


def test_report_without_data_says_so(cli, mixed_db, tmp_path):
    html = write_report(cli, mixed_db, tmp_path, "--since", "2030-01-01")
    assert "No data in this period." in html


def test_report_bad_window_is_a_usage_error(cli, mixed_db, tmp_path):
    result = cli("--db", mixed_db, "report", "--html", tmp_path / "r.html", "--since", "2026-03-09", "--until", "2026-03-01")
    assert result.exit_code == 2
    assert "--until 2026-03-01 is before --since 2026-03-09" in result.stderr
