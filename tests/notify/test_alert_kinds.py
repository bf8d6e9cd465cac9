"""The `new_failure_reports` and `tls_failures` alerts over real stores (reports through the real ingest) with a
known truth, evaluated at 2026-03-15 12:00 UTC (period 2026-03-09 .. 2026-03-15):

- failure reports for example.com: 203.0.113.66 named on 03-02 (before the period) and on 03-10 and 03-13;
  198.51.100.23 named on 03-10 and 03-11, never before; 192.0.2.10 (the domain's own server, authorised in
  the period's aggregate reports) named on 03-12; 203.0.113.5 named only on 03-02 (outside the period);
- TLS reports: example.com 37 of 1,637 sessions failed (an expired certificate on mx1), example.net 80 of
  140 (STARTTLS missing on mx.example.net, a host-name mismatch on mx2.example.net), example.org 12 of
  5,022 (0.24%: under the share threshold).

Exactly these alerts, each delivered once, cleared when the period moves past the reports.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from dmarcflow.alerts import build_channels, run_alerts
from dmarcflow.config import AlertsSettings, ApprovedSenders, Settings
from dmarcflow.errors import ConfigError
from dmarcflow.store import Store
from tests.support.analysis_data import feedback, ingest_payloads, rec
from tests.support.kind_samples import arf_crlf, google_report, microsoft_report, tls_json
from tests.support.smtp_server import WebhookReceiver

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)
APPROVED = {"example.com": ApprovedSenders(networks=("192.0.2.0/24",))}
OTHERS_OFF = {"new_unauthorised_source": False, "own_sender_failing": False, "pass_rate_drop": False,
              "reports_stopped": False, "dns_changed": False}
FAILURE_KEYS = ["new_failure_reports:example.com:192.0.2.10", "new_failure_reports:example.com:198.51.100.23"]
TLS_KEYS = ["tls_failures:example.com", "tls_failures:example.net"]


def failure_mail(ip: str, day: int, hour: int = 10) -> bytes:
    """The CRLF ARF sample, arriving on 2026-03-DAY from IP (its own message id: its own identity)."""
    when = format_datetime(datetime(2026, 3, day, hour, 12, 31, tzinfo=timezone.utc))
    return (arf_crlf().replace(b"Mon, 02 Mar 2026 10:12:31 +0000", when.encode())
            .replace(b"Source-IP: 203.0.113.66", f"Source-IP: {ip}".encode())
            .replace(b"inv-2026-03@example.com", f"inv-{ip}-{day}@example.com".encode()))


def tls_net(day: int) -> bytes:
    return tls_json({
        "organization-name": "Kestrel Net", "report-id": f"kestrel-{day}",
        "date-range": {"start-datetime": f"2026-03-{day}T00:00:00Z", "end-datetime": f"2026-03-{day}T23:59:59Z"},
        "contact-info": None,
        "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.net",
                                 "mx-host": ["mx.example.net", "mx2.example.net"]},
                      "summary": {"total-successful-session-count": 60, "total-failure-session-count": 80},
                      "failure-details": [
                          {"result-type": "starttls-not-supported", "receiving-mx-hostname": "mx.example.net",
                           "sending-mta-ip": "198.51.100.8", "failed-session-count": 50},
                          {"result-type": "certificate-host-mismatch", "receiving-mx-hostname": "mx2.example.net",
                           "sending-mta-ip": "198.51.100.8", "failed-session-count": 30}]}],
    })


def payloads() -> list[bytes]:
    own = rec("192.0.2.10", 50, "example.com", dkim=(("example.com", "pass"),), spf=("example.com", "pass"),
              evaluated=("pass", "pass"))
    return [
        feedback([own], domain="example.com", day="2026-03-12", org="google.com"),
        failure_mail("203.0.113.66", 2), failure_mail("203.0.113.66", 10), failure_mail("203.0.113.66", 13),
        failure_mail("198.51.100.23", 10), failure_mail("198.51.100.23", 11), failure_mail("192.0.2.10", 12),
        failure_mail("203.0.113.5", 2),
        tls_json(google_report(10, failed=37)), tls_json(microsoft_report(10)), tls_net(11),
    ]


@pytest.fixture(scope="module")
def kinds_alert_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kind-alerts") / "store.sqlite"
    assert [o.status for o in ingest_payloads(path, payloads())] == ["ingested"] * 11
    return path


@pytest.fixture
def store(kinds_alert_db: Path, tmp_path: Path):
    copy = tmp_path / "store.sqlite"  # each test starts from the same data and no alert state
    copy.write_bytes(kinds_alert_db.read_bytes())
    with Store.open(copy) as opened:
        yield opened


def settings(**alerts: object) -> Settings:
    return Settings(approved=APPROVED, alerts=replace(AlertsSettings(), **{**OTHERS_OFF, **alerts}))


def test_exactly_the_new_failure_sources_and_the_failing_tls_domains_raise(store: Store) -> None:
    run = run_alerts(store, settings(), [], NOW)
    assert sorted(a.alert.key for a in run.raised) == FAILURE_KEYS + TLS_KEYS
    by_key = {a.alert.key: a.alert for a in run.raised}
    new = by_key["new_failure_reports:example.com:198.51.100.23"]
    assert (new.severity, new.message) == ("warning", (
        "new source of DMARC failure reports for example.com: 198.51.100.23 is named in 2 failure report(s) "
        "arriving in 2026-03-09 to 2026-03-15 (from receiver.example), never in one before"))
    assert new.fix == ("If 198.51.100.23 sends for you, add it to [approved.\"example.com\"] and align its SPF or DKIM "
                       "with example.com; otherwise it is spoofing example.com: `dmarcflow failures example.com --since "
                       "2026-03-09` shows the headers of the reported messages (subject, From).")
    assert dict(new.details) == {
        "source_ip": "198.51.100.23", "reports": 2, "first_arrival": "2026-03-10T10:12:31Z",
        "last_arrival": "2026-03-11T10:12:31Z", "reporters": ["receiver.example"], "new_source": True,
        "aggregate_class": None, "aggregate_messages": None, "period": "2026-03-09 to 2026-03-15"}
    own = by_key["new_failure_reports:example.com:192.0.2.10"]
    assert own.severity == "info"
    assert own.message.endswith("never in one before; also authorised in aggregate reports of example.com: "
                                "50 message(s)")
    assert own.fix.startswith("192.0.2.10 is authorised in the aggregate reports of example.com: these are likely "
                              "its own messages, altered on the way")
    com = by_key["tls_failures:example.com"]
    assert (com.severity, com.message) == ("warning", (
        "SMTP TLS failed for 37 of 1637 session(s) to example.com (2.3%) in 2026-03-09 to 2026-03-15: "
        "certificate-expired 37 at mx1.example.com"))
    assert com.fix == ("Renew the certificate of mx1.example.com, and check that every MX host serves the renewed one. "
                       "`dmarcflow tls summary example.com --since 2026-03-09` lists every failure with its MX host "
                       "and reporters.")
    net = by_key["tls_failures:example.net"]
    assert (net.severity, net.message) == ("critical", (
        "SMTP TLS failed for 80 of 140 session(s) to example.net (57.1%) in 2026-03-09 to 2026-03-15: "
        "starttls-not-supported 50 at mx.example.net; certificate-host-mismatch 30 at mx2.example.net"))
    assert dict(net.details) == {
        "sessions": 140, "failed": 80, "failure_share": 57.14,
        "result_types": {"starttls-not-supported": 50, "certificate-host-mismatch": 30},
        "mx_hosts": {"mx.example.net": 50, "mx2.example.net": 30}, "sending_ips": {"198.51.100.8": 80},
        "reporters": ["Kestrel Net"], "period": "2026-03-09 to 2026-03-15"}


@pytest.mark.parametrize(("thresholds", "keys"), [
    ({"failure_new_source_min_reports": 2}, ["new_failure_reports:example.com:198.51.100.23"] + TLS_KEYS),
    ({"failure_known_source_min_reports": 2}, FAILURE_KEYS[:1] + ["new_failure_reports:example.com:198.51.100.23",
                                                                 "new_failure_reports:example.com:203.0.113.66"] + TLS_KEYS),
    ({"tls_min_failed_sessions": 38}, FAILURE_KEYS + ["tls_failures:example.net"]),
    ({"tls_min_failure_share": 0.2, "tls_min_failed_sessions": 12}, FAILURE_KEYS + TLS_KEYS[:1] +
     ["tls_failures:example.net", "tls_failures:example.org"]),
    ({"tls_failures": False}, FAILURE_KEYS),
    ({"new_failure_reports": False}, TLS_KEYS),
])
def test_thresholds_and_switches(store: Store, thresholds: dict[str, object], keys: list[str]) -> None:
    run = run_alerts(store, settings(**thresholds), [], NOW)
    assert sorted(a.alert.key for a in run.raised) == sorted(keys)


def test_a_known_source_named_often_says_so(store: Store) -> None:
    run = run_alerts(store, settings(failure_known_source_min_reports=2), [], NOW)
    known = next(a.alert for a in run.raised if a.alert.key.endswith(":203.0.113.66"))
    assert (known.severity, known.message, dict(known.details)["new_source"]) == ("warning", (
        "203.0.113.66 is named in 2 DMARC failure report(s) for example.com arriving in 2026-03-09 to 2026-03-15 "
        "(from receiver.example)"), False)


def test_each_alert_is_delivered_once_and_clears_when_the_period_moves_on(store: Store, receiver: WebhookReceiver,
                                                                        secret_file: Path) -> None:
    s = settings(webhooks=(receiver.url,), webhook_secret_file=str(secret_file), webhook_attempts=1)
    first = run_alerts(store, s, build_channels(s), NOW)
    assert (len(first.raised), first.delivered, first.pending, first.failures) == (4, 4, 0, ())
    assert sorted(json.loads(r.body)["key"] for r in receiver.received()) == FAILURE_KEYS + TLS_KEYS
    again = run_alerts(store, s, build_channels(s), NOW + timedelta(hours=3))
    assert (again.raised, again.cleared, again.open, again.delivered, len(receiver.received())) == ((), (), 4, 0, 4)
    later = run_alerts(store, s, build_channels(s), NOW + timedelta(days=7))  # period 03-16 .. 03-22: no report
    assert (sorted(a.alert.key for a in later.cleared), later.raised, later.open) == (FAILURE_KEYS + TLS_KEYS, (), 0)
    assert len(receiver.received()) == 4  # clearing is not delivered


def test_the_command_lists_them(kinds_alert_db: Path, tmp_path: Path, cli) -> None:
    config = tmp_path / "dmarcflow.toml"
    config.write_text("[alerts]\n" + "".join(f"{k} = false\n" for k in OTHERS_OFF) + "tls_min_failed_sessions = 50\n"
                      "failure_new_source_min_reports = 2\n")
    copy = tmp_path / "store.sqlite"
    copy.write_bytes(kinds_alert_db.read_bytes())
    result = cli("--config", config, "--db", copy, "alerts", "--at", "2026-03-15T12:00", "--format", "json")
    assert result.exit_code == 0, result.output
    assert [(a["rule"], a["key"], a["severity"]) for a in json.loads(result.stdout)["alerts"]] == [
        ("new_failure_reports", "new_failure_reports:example.com:198.51.100.23", "warning"),
        ("tls_failures", "tls_failures:example.net", "critical")]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("failure_new_source_min_reports", 0, "[alerts] failure_new_source_min_reports must be at least 1, not 0"),
    ("failure_known_source_min_reports", -1,
     "[alerts] failure_known_source_min_reports must be 0 (never) or more, not -1"),
    ("tls_min_failed_sessions", 0, "[alerts] tls_min_failed_sessions must be at least 1, not 0"),
    ("tls_min_failure_share", 101.0, "[alerts] tls_min_failure_share must be 0..100 (percent of the sessions), not 101.0"),
])
def test_bad_thresholds_are_config_errors(tmp_path: Path, cli, key: str, value: object, message: str) -> None:
    config = tmp_path / "dmarcflow.toml"
    config.write_text(f"[alerts]\n{key} = {value}\n")
    result = cli("--config", config, "--db", tmp_path / "s.sqlite", "alerts", "--dry-run")
    assert (result.exit_code, result.stderr) == (2, f"Error: configuration: {message}\n")
    with pytest.raises(ConfigError):
        from dmarcflow.notify.settings_checks import check_alerts

        check_alerts(replace(AlertsSettings(), **{key: value}), "alerts")
