"""`dmarcflow digest` through a real SMTP server (STARTTLS with a test CA, login): the figures in the mail
equal `dmarcflow summary --format json` for the same period; empty periods; --out; escaping."""

from __future__ import annotations

import email
import email.policy
import html
import json
from pathlib import Path

import pytest

from tests.notify.digest_mail import comparable, expected_from_summary, figures, parts
from tests.support.alert_data import APPROVED_TOML, scenario_payloads
from tests.support.analysis_data import feedback, ingest_payloads, rec
from tests.support.smtp_server import CertAuthority, SmtpServer

PERIOD = ("--since", "2026-03-09", "--until", "2026-03-15")


@pytest.fixture(scope="module")
def digest_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digest") / "store.sqlite"
    other = [feedback([rec("192.0.2.80", 40, "example.org", dkim=(("example.org", "pass"),), evaluated=("pass", "fail")),
                       rec("198.51.100.9", 7, "example.org", spf=("example.org", "fail"), disposition="quarantine")],
                      domain="example.org", day="2026-03-10", org="google.com")]
    ingest_payloads(path, scenario_payloads() + other)
    return path


def write_config(path: Path, db: Path, smtp: SmtpServer | None, ca: CertAuthority | None, extra: str = "") -> Path:
    lines = ["[store]", f"path = \"{db}\"", ""]
    if smtp is not None:
        lines += ["[smtp]", "host = \"localhost\"", f"port = {smtp.port}", f"tls = \"{smtp.mode}\"",
                  "from = \"dmarc@example.com\""]
        if ca is not None:
            lines.append(f"ca_file = \"{ca.ca_cert}\"")
        if smtp.password is not None:
            secret = path.parent / "smtp.password"
            secret.write_text(smtp.password)
            lines += ["user = \"mailer\"", f"password_file = \"{secret}\""]
    path.write_text("\n".join(lines) + "\n\n" + APPROVED_TOML + extra)
    return path


def test_the_digest_figures_equal_the_summary(digest_db: Path, test_ca: CertAuthority, tmp_path: Path, cli) -> None:
    with SmtpServer("starttls", test_ca, password="pw-digest") as server:
        config = write_config(tmp_path / "c.toml", digest_db, server, test_ca)
        result = cli("--config", config, "digest", *PERIOD, "--to", "team@example.com", "--to", "boss@example.com")
        assert result.exit_code == 0, result.output
        assert result.stdout == ("DMARC digest 2026-03-09 to 2026-03-15: 2 domain(s), 4,418 messages, 96.0% pass: "
                                 "sent to team@example.com, boss@example.com\n")
        [mail] = server.messages()
    assert (mail.login, mail.rcpt_tos) == ("mailer", ["team@example.com", "boss@example.com"])
    text, page = parts(mail.message)
    summary = json.loads(cli("--config", config, "summary", *PERIOD, "--format", "json").stdout)
    before = json.loads(cli("--config", config, "summary", "--since", "2026-03-02", "--until", "2026-03-08",
                            "--format", "json").stdout)
    found = figures(text)
    assert sorted(found) == [d["domain"] for d in summary["domains"]] == ["example.com", "example.org"]
    for domain in summary["domains"]:
        assert comparable(found[domain["domain"]]) == expected_from_summary(domain)
    previous = {d["domain"]: d["messages"] for d in before["domains"]}
    assert found["example.com"]["previous_messages"] == previous["example.com"]
    assert found["example.org"]["previous_messages"] is None  # no report in the previous period
    assert found["example.com"]["new_senders"] == ["198.51.100.99: 30 message(s), 0.0% pass, unauthorised",
                                                   "198.51.100.100: 3 message(s), 0.0% pass, unauthorised"]
    assert found["example.com"]["own_failing"][0].startswith(
        "203.0.113.20 (approved by network 203.0.113.0/24): 120 of 120 failing: SPF passed for bounce.esp.example.net")
    assert (found["example.org"]["impostors_quarantined"], found["example.org"]["impostors_rejected"]) == (7, 0)
    for line in text.splitlines():
        if line.startswith(("Messages: ", "DMARC pass: ", "Readiness: ", "Impostors: ")):
            assert html.escape(line) in page, line
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")


def test_an_empty_period_still_sends_a_short_digest(digest_db: Path, smtp: SmtpServer, tmp_path: Path, cli) -> None:
    config = write_config(tmp_path / "c.toml", digest_db, smtp, None)
    result = cli("--config", config, "digest", "--since", "2025-01-01", "--until", "2025-01-07", "--to", "t@example.com")
    assert result.exit_code == 0, result.output
    [mail] = smtp.messages()
    assert mail.message["Subject"] == "DMARC digest 2025-01-01 to 2025-01-07: no reports"
    text, page = parts(mail.message)
    assert text == ("DMARC digest for 2025-01-01 to 2025-01-07 (UTC days, 7 day(s)), compared with 2024-12-25 to "
                    "2024-12-31.\n\nNo DMARC report arrived for this period (2025-01-01 to 2025-01-07).\nIf reports are "
                    "expected, check the rua address in each domain's DMARC record and that the mailbox is being "
                    "fetched.\n")
    assert "<p>No DMARC report arrived for this period (2025-01-01 to 2025-01-07).</p>" in page


def test_send_empty_false_sends_nothing_for_an_empty_period(digest_db: Path, smtp: SmtpServer, tmp_path: Path,
                                                           cli) -> None:
    config = write_config(tmp_path / "c.toml", digest_db, smtp, None, "\n[digest]\nsend_empty = false\n")
    result = cli("--config", config, "digest", "--since", "2025-01-01", "--until", "2025-01-07", "--to", "t@example.com",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"subject": "DMARC digest 2025-01-01 to 2025-01-07: no reports",
                                         "first_day": "2025-01-01", "last_day": "2025-01-07", "domains": [],
                                         "empty": True, "sent": False, "to": ["t@example.com"], "out": None}
    assert smtp.messages() == []


def test_out_writes_the_message_without_smtp(digest_db: Path, tmp_path: Path, cli) -> None:
    config = write_config(tmp_path / "c.toml", digest_db, None, None)
    out = tmp_path / "digest.eml"
    result = cli("--config", config, "digest", "example.org", *PERIOD, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"DMARC digest 2026-03-09 to 2026-03-15: 1 domain(s), 47 messages, 85.1% pass: written to {out}\n"
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    text, _ = parts(message)  # type: ignore[arg-type]
    assert list(figures(text)) == ["example.org"]


def test_strings_from_reports_are_escaped_in_the_html(tmp_path: Path, cli) -> None:
    """Auth-result domains come from the report as written; the explanation names them."""
    payload = feedback([rec("198.51.100.61", 12, "example.net", spf=("ev&lt;img src=x onerror=alert(1)&gt;il.example", "pass"),
                            dkim=(("&lt;script&gt;x.example", "pass"),))], domain="example.net", day="2026-03-10")
    ingest_payloads(tmp_path / "s.sqlite", [payload])
    config = write_config(tmp_path / "c.toml", tmp_path / "s.sqlite", None, None)
    out = tmp_path / "d.eml"
    assert cli("--config", config, "digest", *PERIOD, "--out", out).exit_code == 0
    message = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    text, page = parts(message)  # type: ignore[arg-type]
    assert "SPF passed for ev<img src=x onerror=alert(1)>il.example" in text  # text is text: shown as sent
    assert "<img" not in page and "<script" not in page
    assert "SPF passed for ev&lt;img src=x onerror=alert(1)&gt;il.example" in page
    assert "DKIM signed by &lt;script&gt;x.example" in page


@pytest.mark.parametrize(("extra", "args", "message"), [
    ("", ("--to", "t@example.com"), "Error: configuration: [smtp] host is not set: it is needed to send digests and alert mails\n"),
    ("", (), "Error: configuration: no recipient for the digest: give --to ADDRESS or set [digest] to\n"),
])
def test_digest_usage_errors_exit_2(tmp_path: Path, cli, extra: str, args: tuple[str, ...], message: str) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "s.sqlite", None, None, extra)
    result = cli("--config", config, "digest", *args)
    assert (result.exit_code, result.stderr) == (2, message)


def test_a_bad_period_is_a_usage_error(tmp_path: Path, cli) -> None:
    config = write_config(tmp_path / "c.toml", tmp_path / "s.sqlite", None, None)
    result = cli("--config", config, "digest", "--since", "2026-03-09", "--until", "2026-03-01", "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert "--until 2026-03-01 is before --since 2026-03-09" in result.stderr
