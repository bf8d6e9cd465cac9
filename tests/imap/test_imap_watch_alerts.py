"""`dmarcflow watch` with alerts and a digest schedule: a real daemon, Dovecot, an SMTP server and a
webhook receiver on loopback. A report arriving by mail raises its alert after the pass that stored it; a
digest slot missed while the daemon was down is sent once on start; /metrics counts both."""

from __future__ import annotations

import json
import signal
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dmarcflow.schedule import parse_schedule
from dmarcflow.store import Store
from dmarcflow.store.alerts import AlertStore
from tests.support.analysis_data import feedback, rec
from tests.support.dovecot import DovecotServer
from tests.support.imap_mail import (
    Folders,
    WatchProcess,
    http_get,
    mail_with_attachment,
    mailbox_table,
    write_config,
)
from tests.support.smtp_server import SmtpServer, WebhookReceiver


def test_watch_raises_and_delivers_alerts_and_sends_a_missed_digest_once(
    shared_dovecot: DovecotServer, folders: Folders, db: Path, tmp_path: Path, http_port: int
) -> None:
    today = datetime.now(timezone.utc).date()
    xml = feedback([rec("198.51.100.77", 30, "example.com", spf=("example.com", "fail"))], domain="example.com",
                   day=today.isoformat(), org="rx.example")
    secret = tmp_path / "secret"
    secret.write_text("daemon-secret")
    # A slot time twelve hours from now: no new slot comes up while the test runs, whatever the hour.
    at = (datetime.now(timezone.utc) + timedelta(hours=12)).strftime("%H:%M")
    schedule = parse_schedule(f"daily {at}", "UTC")
    with Store.open(db) as store, store.transaction():  # as if the daemon last sent a digest two days ago
        missed = schedule.latest_slot(datetime.now(timezone.utc)) - timedelta(days=2)
        AlertStore(store.conn).set_last_slot("digest", int(missed.timestamp()), "x")
    with SmtpServer() as smtp, WebhookReceiver() as hook:
        config = write_config(tmp_path / "c.toml", db, [mailbox_table(shared_dovecot, **folders.table())])
        config.write_text(config.read_text() + (
            f'\n[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\ntls = "none"\nfrom = "dmarc@example.com"\n'
            f'\n[alerts]\nwebhooks = ["{hook.url}"]\nwebhook_secret_file = "{secret}"\n'
            f'\n[digest]\nschedule = "daily {at}"\nto = ["team@example.com"]\n'))
        watch = WatchProcess(config, tmp_path / "watch.log", "--http", f"127.0.0.1:{http_port}")
        try:
            watch.until(lambda: len(smtp.messages()) == 1, "the missed digest")
            shared_dovecot.append(folders.inbox, mail_with_attachment("Report", xml, "r.xml", "text/xml"))
            watch.until(lambda: len(hook.received()) == 1, "the alert's webhook POST")
            metrics = http_get(f"http://127.0.0.1:{http_port}/metrics")[1]
        finally:
            assert watch.stop(signal.SIGTERM) == 0
        [post] = hook.received()
        [digest] = smtp.messages()
    alert = json.loads(post.body)
    assert (alert["key"], alert["rule"]) == ("new_unauthorised_source:example.com:198.51.100.77",
                                             "new_unauthorised_source")
    yesterday = (schedule.latest_slot(datetime.now(timezone.utc)) - timedelta(days=1)).date()
    assert digest.message["Subject"].startswith(f"DMARC digest {yesterday.isoformat()}")
    assert 'dmarcflow_alerts_raised_total{rule="new_unauthorised_source"} 1.0' in metrics
    assert 'dmarcflow_alerts_delivered_total{channel="webhook"} 1.0' in metrics
    assert 'dmarcflow_digests_sent_total{trigger="schedule"} 1.0' in metrics
    assert "daemon-secret" not in watch.text()
