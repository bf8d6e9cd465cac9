"""The digest's SMTP TLS and DMARC failure report sections, over the store of the kind alert tests (every report
through the real ingest): exact text lines whose figures equal `tls summary` and `failures --format json` for
the same period, the same in the HTML (report text escaped), and no section when the period has no such report."""

from __future__ import annotations

import email
import email.policy
import html
import json
from pathlib import Path

import pytest

from tests.notify.digest_mail import parts
from tests.notify.test_alert_kinds import payloads
from tests.support.analysis_data import feedback, ingest_payloads, rec
from tests.support.kind_samples import google_report, tls_json

PERIOD = ("--since", "2026-03-09", "--until", "2026-03-15")
TLS_SECTION = [
    "SMTP TLS reports (RFC 8460)",
    "  example.com: 37 of 1,637 TLS session(s) failed (2.3%); 1 report(s) from 1 reporter(s)",
    "    certificate-expired: 37 session(s) at mx1.example.com",
    "  example.net: 80 of 140 TLS session(s) failed (57.1%); 1 report(s) from 1 reporter(s)",
    "    starttls-not-supported: 50 session(s) at mx.example.net",
    "    certificate-host-mismatch: 30 session(s) at mx2.example.net",
    "  example.org: 12 of 5,022 TLS session(s) failed (0.2%); 1 report(s) from 1 reporter(s)",
    "    certificate-host-mismatch: 9 session(s) at mx2.mail.example.org",
    "    starttls-not-supported: 3 session(s) at mx3.mail.example.org",
]
FAILURE_SECTION = [
    "DMARC failure reports",
    "  example.com: 5 failure report(s) naming 3 source IP(s), 2 of them new",
]


@pytest.fixture(scope="module")
def kinds_digest_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kinds-digest") / "store.sqlite"
    assert [o.status for o in ingest_payloads(path, payloads())] == ["ingested"] * 11
    return path


def digest(cli, db: Path, tmp_path: Path, *args: str) -> tuple[str, str]:
    out = tmp_path / "digest.eml"
    result = cli("--db", db, "digest", *args, "--out", out)
    assert result.exit_code == 0, result.output
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    return parts(message)  # type: ignore[arg-type]


def section(text: str, title: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start, len(lines)) if not lines[i]), len(lines))
    return lines[start:end]


def test_the_digest_has_the_periods_tls_failures_and_failure_report_counts(kinds_digest_db: Path, tmp_path: Path,
                                                                          cli) -> None:
    text, page = digest(cli, kinds_digest_db, tmp_path, *PERIOD)
    assert section(text, TLS_SECTION[0]) == TLS_SECTION
    assert section(text, FAILURE_SECTION[0]) == FAILURE_SECTION
    lines = text.splitlines()
    assert lines.index("Overview") < lines.index(TLS_SECTION[0]) < lines.index(FAILURE_SECTION[0]) < lines.index(
        "== example.com ==")  # before the domain sections, which the summary comparison reads
    tls = json.loads(cli("--db", kinds_digest_db, "tls", "summary", *PERIOD, "--format", "json").stdout)["domains"]
    assert [(d["domain"], d["failed"], d["sessions"]) for d in tls] == [
        ("example.com", 37, 1637), ("example.net", 80, 140), ("example.org", 12, 5022)]
    failures = json.loads(cli("--db", kinds_digest_db, "failures", *PERIOD, "--format", "json").stdout)
    assert (len(failures["failures"]), len(failures["sources"])) == (5, 3)
    assert ("<h2>SMTP TLS reports (RFC 8460)</h2>" in page and "<h2>DMARC failure reports</h2>" in page)
    cell = "<td style=\"padding: 2px 8px; border-bottom: 1px solid #ddd\">"
    assert (f"<tr>{cell}example.net</td>{cell}140</td>{cell}80</td>{cell}57.1%</td>{cell}1</td>{cell}"
            "starttls-not-supported: 50 session(s) at mx.example.net; certificate-host-mismatch: 30 session(s) at "
            "mx2.example.net</td></tr>") in page
    assert f"<tr>{cell}example.com</td>{cell}5</td>{cell}3</td>{cell}2</td></tr>" in page


def test_named_domains_only(kinds_digest_db: Path, tmp_path: Path, cli) -> None:
    text, _ = digest(cli, kinds_digest_db, tmp_path, "example.net", *PERIOD)
    assert section(text, TLS_SECTION[0]) == [TLS_SECTION[0], *TLS_SECTION[3:6]]
    assert FAILURE_SECTION[0] not in text.splitlines()  # no failure report for example.net


def test_no_section_without_such_reports(kinds_digest_db: Path, tmp_path: Path, cli) -> None:
    text, page = digest(cli, kinds_digest_db, tmp_path, "--since", "2026-03-16", "--until", "2026-03-22")
    assert (TLS_SECTION[0] in text, FAILURE_SECTION[0] in text, "SMTP TLS" in page) == (False, False, False)


def test_report_text_is_escaped_in_the_html(tmp_path: Path, cli) -> None:
    report = google_report(10, failed=4)
    report["policies"][0]["failure-details"][0]["result-type"] = "<img src=x onerror=alert(1)>"
    own = rec("192.0.2.10", 5, "example.com", dkim=(("example.com", "pass"),), evaluated=("pass", "fail"))
    db = tmp_path / "s.sqlite"
    ingest_payloads(db, [tls_json(report), feedback([own], domain="example.com", day="2026-03-10")])
    text, page = digest(cli, db, tmp_path, *PERIOD)
    assert "    <img src=x onerror=alert(1)>: 4 session(s) at mx1.example.com" in text.splitlines()  # text is text
    assert "<img" not in page
    assert html.escape("<img src=x onerror=alert(1)>: 4 session(s) at mx1.example.com") in page
