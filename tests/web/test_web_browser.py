"""The UI in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

Checks what only a browser can: the charts are drawn (SVG with non-empty shapes), nothing logged an
error (a CSP violation would), no script ran from hostile report text, and the pages look right:
the screenshots are written to the test's folder, and to docs/screenshots/ when
DMARCFLOW_UPDATE_SCREENSHOTS=1 (the README shows them).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import REPO
from tests.support.hostile_kinds import HOSTILE_HEADER, HOSTILE_RESULT, HOSTILE_SUBJECT, HOSTILE_TLS_ORG
from tests.support.posture import HOSTILE_CHECKED, HOSTILE_DMARC, HOSTILE_SELECTOR
from tests.support.web import HOSTILE_DOMAIN, HOSTILE_ORG, HOSTILE_REPORT_ID, SCRIPT, SVG, chromium_missing, start_chromium, stop_chromium

MISSING = chromium_missing()
if MISSING:  # loud: the reason is printed in the summary of every run (-ra)
    pytestmark = pytest.mark.skip(reason=f"NO BROWSER TESTS: {MISSING}")


@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    stop_chromium(driver)


def errors_logged(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def shoot(driver, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    if os.environ.get("DMARCFLOW_UPDATE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target / path.name)


def open_page(driver, url: str) -> None:
    driver.get_log("browser")  # drop what an earlier page logged
    driver.get(url)
    assert driver.execute_script("return document.readyState") == "complete"


def drawn_shapes(driver, css: str) -> int:
    """Shapes of the SVGs matching css that the browser laid out with a non-zero size."""
    return driver.execute_script(
        "let n = 0; for (const svg of document.querySelectorAll(arguments[0])) {"
        "  for (const el of svg.querySelectorAll('rect.bar, path.pass-line, path.spark-volume, path.spark-pass')) {"
        "    const b = el.getBBox(); if (b.width > 0 || b.height > 0) n++; } } return n;", css)


def test_overview_domain_source_and_report_render_with_charts_and_no_errors(browser, serve, mixed_db, tmp_path):
    server = serve(mixed_db)
    open_page(browser, server.url("/"))
    assert len(browser.find_elements("css selector", "table.overview tbody tr")) == 3
    assert drawn_shapes(browser, "svg.spark") >= 6
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "overview")

    open_page(browser, server.url("/domains/example.com"))
    assert drawn_shapes(browser, "svg.chart") >= 10
    assert browser.find_element("css selector", ".recommend").text
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "domain")

    link = browser.find_element("css selector", "table.failing a").get_attribute("href")
    open_page(browser, link)
    assert drawn_shapes(browser, "svg.chart") >= 1
    assert browser.find_elements("css selector", "table.reporters tbody tr")
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "source")

    open_page(browser, server.url("/reports/3"))
    assert len(browser.find_elements("css selector", "table.records tbody tr")) == 60
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "report")

    open_page(browser, server.url("/domains/example.com?view=sender&class=misconfigured"))
    rows = browser.find_elements("css selector", "table.sources tr[data-source]")
    assert rows and all(r.find_element("css selector", ".cls").text == "misconfigured" for r in rows)
    assert browser.execute_script("return getComputedStyle(document.querySelector('header.top')).backgroundColor") \
        == "rgb(32, 33, 36)"  # the stylesheet loaded (from this server, under the CSP)


@pytest.mark.parametrize("path", ["/", "/reports", "/reports/1", "/rejected", "/domains/{d}",
                                  "/domains/{d}/source?ip=198.51.100.9"])
def test_hostile_text_is_inert_in_the_browser(browser, serve, hostile_db, path, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException

    open_page(browser, serve(hostile_db).url(path.format(d=quote(HOSTILE_DOMAIN))))
    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert browser.execute_script("return document.querySelectorAll('svg[onload], [onerror]').length") == 0
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    text = browser.find_element("css selector", "main").text
    assert SCRIPT in text or HOSTILE_DOMAIN in text or f"{SCRIPT}.xml" in text
    if path == "/reports/1":
        assert HOSTILE_ORG in text and HOSTILE_REPORT_ID in text and SVG in text
    assert errors_logged(browser) == []


def assert_inert(browser) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert browser.execute_script("return document.scripts.length") == 0
    assert browser.execute_script("return document.querySelectorAll('img, iframe, object, embed').length") == 0
    assert browser.execute_script("return document.querySelectorAll('[onload], [onerror]').length") == 0
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text
    assert errors_logged(browser) == []


def test_the_dns_posture_pages_render_without_errors(browser, serve, checked_db, tmp_path):
    server = serve(checked_db)
    open_page(browser, server.url("/dns"))
    assert len(browser.find_elements("css selector", "table.posture tbody tr")) == 2
    assert errors_logged(browser) == []
    open_page(browser, server.url("/dns/example.net"))
    assert len(browser.find_elements("css selector", "table.findings tbody tr")) == 3
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "dns")
    open_page(browser, server.url("/domains/example.net"))
    assert len(browser.find_elements("css selector", "ul.dns-errors li")) == 3
    assert errors_logged(browser) == []


@pytest.mark.parametrize("path", ["/dns", f"/dns/{HOSTILE_CHECKED}", f"/domains/{HOSTILE_CHECKED}"])
def test_hostile_dns_records_are_inert_in_the_browser(browser, serve, hostile_checked_db, path):
    open_page(browser, serve(hostile_checked_db).url(path))
    assert_inert(browser)
    text = browser.find_element("css selector", "main").text
    if path == "/dns":
        assert '"><img' in text
    else:
        assert f"{HOSTILE_SELECTOR}._domainkey.{HOSTILE_CHECKED}" in text
    if path.startswith("/dns/"):
        assert HOSTILE_DMARC in text


def test_the_html_report_opens_in_the_browser_without_scripts_or_errors(browser, cli, mixed_db, hostile_db, tmp_path):
    for name, db in (("report-file", mixed_db), ("report-file-hostile", hostile_db)):
        out = tmp_path / f"{name}.html"
        result = cli("--db", db, "report", "--html", out)
        assert result.exit_code == 0, result.output
        open_page(browser, out.as_uri())
        assert browser.execute_script("return document.scripts.length") == 0
        assert drawn_shapes(browser, "svg.chart") >= 1
        assert browser.execute_script("return document.styleSheets.length") == 1  # the inline stylesheet
        assert errors_logged(browser) == []
        if name == "report-file":
            shoot(browser, tmp_path, name)
        else:
            assert HOSTILE_DOMAIN in browser.find_element("css selector", "main").text


def test_the_tls_and_failure_report_pages_render_with_charts_and_no_errors(browser, serve, kinds_db, tmp_path):
    server = serve(kinds_db)
    open_page(browser, server.url("/tls"))
    assert len(browser.find_elements("css selector", "table.tls tbody tr")) == 3
    assert drawn_shapes(browser, "svg.spark") == 6  # each domain's volume bars and success-rate line
    assert errors_logged(browser) == []
    open_page(browser, server.url("/tls/example.com"))
    assert drawn_shapes(browser, "svg.tls-chart") >= 8  # 5 days with reports: bars, and the success-rate line
    assert len(browser.find_elements("css selector", "table.tls-failures tbody tr")) == 2
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "tls")
    open_page(browser, server.url("/failures"))
    assert len(browser.find_elements("css selector", "table.failures tbody tr")) == 4
    assert errors_logged(browser) == []
    shoot(browser, tmp_path, "failures")
    browser.find_element("css selector", "tr[data-failure] a").click()
    assert browser.find_element("css selector", "pre.headers").text.startswith("Return-Path: ")
    assert errors_logged(browser) == []


@pytest.mark.parametrize("path, shown", [("/tls", HOSTILE_TLS_ORG), ("/tls/example.com", HOSTILE_RESULT),
                                         ("/failures", HOSTILE_SUBJECT), ("/failures/1", HOSTILE_HEADER)])
def test_hostile_tls_and_failure_reports_are_inert_in_the_browser(browser, serve, hostile_kinds_db, path, shown):
    open_page(browser, serve(hostile_kinds_db).url(path))
    assert_inert(browser)
    assert shown in browser.find_element("css selector", "main").text
