"""Alert delivery to real receivers on loopback: SMTP (aiosmtpd), a webhook receiver, Apprise's json://.

Each alert is delivered once per channel; a receiver that is down keeps them pending, and once it is back
every pending alert arrives exactly once. The webhook body is signed (HMAC-SHA256) and checked here the
way a receiver would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from dmarcflow.alerts import build_channels, run_alerts
from dmarcflow.alerts.channels import WebhookChannel
from dmarcflow.config import AlertsSettings, Settings, SmtpSettings
from dmarcflow.errors import ConfigError, DeliveryError
from dmarcflow.models import Alert, RaisedAlert
from dmarcflow.notify.webhook import SIGNATURE_HEADER, WebhookTarget, post_signed, verify
from dmarcflow.store import Store
from tests.notify.test_alert_rules import APPROVED, scenario_db, scenario_store  # noqa: F401 - fixtures
from tests.support.alert_data import EXPECTED_KEYS, NOW
from tests.support.smtp_server import SmtpServer, WebhookReceiver

SECRET = b"s3cret-for-hmac"


def delivering(smtp: SmtpServer | None, hooks: list[str], secret_file: Path, **alerts: object) -> Settings:
    a = replace(AlertsSettings(), webhooks=tuple(hooks), webhook_secret_file=str(secret_file),
                email_to=("team@example.com",) if smtp else (), webhook_attempts=1, **alerts)
    s = SmtpSettings(host="127.0.0.1", port=smtp.port if smtp else 25, tls="none", from_="dmarc@example.com")
    return Settings(approved=APPROVED, alerts=a, smtp=s)


def bodies(receiver: WebhookReceiver) -> list[dict]:
    out = []
    for request in receiver.received():
        assert verify(SECRET, request.body, request.headers[SIGNATURE_HEADER.lower()]), "bad signature"
        out.append(json.loads(request.body))
    return out


def test_each_alert_is_mailed_and_posted_once(scenario_store: Store, smtp: SmtpServer, receiver: WebhookReceiver,
                                             secret_file: Path) -> None:
    settings = delivering(smtp, [receiver.url], secret_file)
    run = run_alerts(scenario_store, settings, build_channels(settings), NOW)
    assert (run.delivered, run.pending, run.failures) == (6, 0, ())
    posted = bodies(receiver)
    assert sorted(b["key"] for b in posted) == sorted(EXPECTED_KEYS)
    first = next(b for b in posted if b["rule"] == "new_unauthorised_source")
    assert set(first) == {"id", "rule", "domain", "key", "severity", "message", "fix", "details", "first_seen",
                          "last_seen", "cleared_at", "event", "sent_at"}
    assert (first["domain"], first["first_seen"], first["event"], first["details"]["dmarc_fail"]) == (
        "example.com", "2026-03-15T12:00:00Z", "alert.raised", 30)
    assert receiver.received()[0].headers["content-type"] == "application/json"
    mails = smtp.messages()
    assert sorted(m.message["X-Dmarcflow-Alert-Key"] for m in mails) == sorted(EXPECTED_KEYS)
    own = next(m.message for m in mails if m.message["X-Dmarcflow-Alert-Key"].startswith("own_sender_failing"))
    assert own["Subject"].startswith("[dmarcflow] critical: 203.0.113.20 (approved by network 203.0.113.0/24) failed")
    # The analysis library's fix (a sender its service catalogue does not know: the records to publish).
    assert ("What to do: It signs DKIM as esp.example.net: make it sign with d=example.com and publish its public key"
            in own.get_content())
    # A second run finds the same conditions: nothing new is raised or sent.
    again = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(hours=2))
    assert (again.raised, again.delivered, len(receiver.received()), len(smtp.messages())) == ((), 0, 3, 3)


def test_a_receiver_down_then_up_gets_every_pending_alert_once(scenario_store: Store, smtp: SmtpServer,
                                                               secret_file: Path) -> None:
    hook = WebhookReceiver()  # not started: connection refused
    settings = delivering(smtp, [hook.url], secret_file)
    down = run_alerts(scenario_store, settings, build_channels(settings), NOW)
    assert (len(down.raised), down.delivered, down.pending) == (3, 3, 3)  # the mails went, the posts wait
    assert len(down.failures) == 1 and down.failures[0].startswith(
        f"webhook http://127.0.0.1:{hook.port}/...: webhook http://127.0.0.1:{hook.port}/...: [Errno 111] Connection refused")
    still_down = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(minutes=5))
    assert (still_down.raised, still_down.delivered, still_down.pending) == ((), 0, 3)
    with hook:
        up = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(minutes=10))
        assert (up.raised, up.delivered, up.pending, up.failures) == ((), 3, 0, ())
        again = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(minutes=15))
        assert again.delivered == 0
        assert sorted(b["key"] for b in bodies(hook)) == sorted(EXPECTED_KEYS)
    assert len(smtp.messages()) == 3


def test_the_daemon_waits_before_retrying_a_failed_delivery(scenario_store: Store, secret_file: Path) -> None:
    hook = WebhookReceiver()
    settings = delivering(None, [hook.url], secret_file)
    run_alerts(scenario_store, settings, build_channels(settings), NOW, due_only=True)
    with hook:
        soon = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(seconds=30), due_only=True)
        assert (soon.delivered, soon.pending) == (0, 3)  # the first retry is due a minute after the failure
        later = run_alerts(scenario_store, settings, build_channels(settings), NOW + timedelta(minutes=2), due_only=True)
        assert (later.delivered, later.pending) == (3, 0)


def _raised() -> RaisedAlert:
    return RaisedAlert(7, Alert("pass_rate_drop", "example.com", "pass_rate_drop:example.com", "warning", "m"),
                       "2026-03-15T12:00:00Z", "2026-03-15T12:00:00Z")


def test_webhook_retries_a_5xx_then_succeeds(receiver: WebhookReceiver) -> None:
    waits: list[float] = []
    receiver.status = 503
    target = WebhookTarget(receiver.url, SECRET, timeout=5, attempts=3)

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        receiver.status = 200  # the receiver recovers during the backoff

    post_signed(target, b'{"a": 1}', sleep=sleep)
    assert (waits, len(receiver.received())) == ([0.5], 2)


def test_webhook_refuses_a_redirect_to_another_host(receiver: WebhookReceiver) -> None:
    receiver.status, receiver.location = 307, "http://localhost:1/elsewhere"
    channel = WebhookChannel(WebhookTarget(receiver.url, SECRET, timeout=5, attempts=1))
    with pytest.raises(DeliveryError) as caught:
        channel.send(_raised())
    assert str(caught.value) == (f"webhook http://127.0.0.1:{receiver.port}/...: refused a redirect to another host "
                                 "(http://localhost:1/...): the signed body goes only to the configured origin")
    assert len(receiver.received()) == 1


def test_webhook_follows_a_same_origin_307(receiver: WebhookReceiver) -> None:
    receiver.status, receiver.location = 307, "/hook2"
    target = WebhookTarget(receiver.url, SECRET, timeout=5, attempts=1)
    with pytest.raises(DeliveryError):  # the receiver answers 307 to every request: the limit ends it
        post_signed(target, b"{}")
    assert [r.path for r in receiver.received()] == ["/hook", "/hook2", "/hook2", "/hook2"]


def test_webhooks_over_https_verify_the_certificate(test_ca, tmp_path: Path) -> None:
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    server.socket = test_ca.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        target = WebhookTarget(f"https://localhost:{server.server_address[1]}/h", SECRET, timeout=5, attempts=1)
        with pytest.raises(DeliveryError, match="TLS failed: CERTIFICATE_VERIFY_FAILED"):
            post_signed(target, b"{}")
        trusted = replace(target, ca_file=str(test_ca.ca_cert))
        with pytest.raises(DeliveryError, match=r"HTTP 501$"):  # verified, then the bare handler answers 501
            post_signed(trusted, b"{}")
    finally:
        server.shutdown()
        server.server_close()


def test_apprise_json_url_delivers_to_a_local_receiver(scenario_store: Store, receiver: WebhookReceiver) -> None:
    settings = Settings(approved=APPROVED, alerts=replace(AlertsSettings(), apprise=(
        f"json://127.0.0.1:{receiver.port}/apprise",)))
    run = run_alerts(scenario_store, settings, build_channels(settings), NOW)
    assert (run.delivered, run.pending) == (3, 0)
    posted = [json.loads(r.body) for r in receiver.received()]
    assert sorted(p["title"].split(": ", 1)[0] for p in posted) == ["[dmarcflow] critical", "[dmarcflow] info",
                                                                   "[dmarcflow] warning"]
    assert all("key: " in p["message"] for p in posted)


def test_apprise_urls_without_the_package_are_a_clear_configuration_error(tmp_path: Path) -> None:
    """The package is installed for the suite, so its absence is simulated by blocking its import."""
    code = ("import sys; sys.modules['apprise'] = None\n"
            "from dmarcflow.config import Settings, AlertsSettings\n"
            "from dmarcflow.alerts import build_channels\n"
            "try:\n    build_channels(Settings(alerts=AlertsSettings(apprise=('json://127.0.0.1/x',))))\n"
            "except Exception as exc:\n    print(type(exc).__name__, exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == ("ConfigError [alerts] apprise URLs are set, but the optional apprise package is "
                                   "not installed: pip install 'dmarcflow[apprise]'")


@pytest.mark.parametrize(("alerts", "message"), [
    ({"webhooks": ("https://hooks.example.net/x",)},
     "[alerts] webhooks need webhook_secret_file: every request is signed with its secret"),
    ({"webhooks": ("http://hooks.example.net/x",), "webhook_secret_file": "/s"},
     "[alerts] webhooks: http://hooks.example.net/...: http is only allowed for a loopback host (use https, or set "
     "allow_http = true)"),
    ({"webhooks": ("https://user:pw@hooks.example.net/x",), "webhook_secret_file": "/s"},
     "[alerts] webhooks: https://hooks.example.net/...: no credentials in the URL (requests are signed)"),
    ({"webhooks": ("ftp://hooks.example.net/x",), "webhook_secret_file": "/s"},
     "[alerts] webhooks: ftp://hooks.example.net/... is not an http(s) URL"),
    ({"email_to": ("nobody",)}, "[alerts] email_to: 'nobody' is not an email address"),
    ({"period_days": 0}, "[alerts] period_days must be 1..366, not 0"),
    ({"new_source_view": "asn"}, "[alerts] new_source_view must be ip or sender, not 'asn'"),
    ({"pass_rate_min_drop": 0.0}, "[alerts] pass_rate_min_drop must be more than 0 and at most 100 (percentage points)"),
])
def test_alerts_configuration_errors(alerts: dict, message: str) -> None:
    from dmarcflow.notify.settings_checks import check_alerts

    with pytest.raises(ConfigError) as caught:
        check_alerts(replace(AlertsSettings(), **alerts), "alerts")
    assert str(caught.value) == message


def test_a_missing_secret_file_is_a_configuration_error(tmp_path: Path) -> None:
    settings = Settings(alerts=replace(AlertsSettings(), webhooks=("http://127.0.0.1:9/h",),
                                       webhook_secret_file=str(tmp_path / "none")))
    with pytest.raises(ConfigError) as caught:
        build_channels(settings)
    assert str(caught.value) == f"cannot read the webhook secret file {tmp_path / 'none'}: No such file or directory"


def test_a_hostile_reporter_name_cannot_inject_mail_headers(tmp_path: Path, smtp: SmtpServer, secret_file: Path) -> None:
    from tests.support.analysis_data import feedback, ingest_payloads, rec

    org = "Evil&#13;&#10;Bcc: victim@example.org"
    own = rec("192.0.2.10", 5, "example.com", dkim=(("example.com", "pass"),), evaluated=("pass", "fail"))
    days = [f"2026-03-0{d}" for d in range(2, 9)]
    ingest_payloads(tmp_path / "s.sqlite", [feedback([own], domain="example.com", day=d, org=org) for d in days]
                    + [feedback([own], domain="example.com", day="2026-03-14", org="google.com")])
    settings = delivering(smtp, [], secret_file)
    with Store.open(tmp_path / "s.sqlite") as store:
        run = run_alerts(store, settings, build_channels(settings), NOW)
    assert [a.alert.key for a in run.raised] == ["reports_stopped:example.com:Evil\r\nBcc: victim@example.org"]
    [mail] = smtp.messages()
    assert mail.rcpt_tos == ["team@example.com"] and mail.message["Bcc"] is None
    assert mail.message["Subject"].startswith("[dmarcflow] info: Evil  Bcc: victim@example.org reported on example.com")
