"""The issue's "done when", end to end through the commands: on generated data where a new impostor
appears, an approved sender breaks and a reporter goes silent, `dmarcflow alerts` raises exactly those
three and delivers each once by mail and by webhook; the weekly digest arrives with the summary's figures."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from dmarcflow.config import load_settings
from dmarcflow.notify.hooks import DigestSchedule
from dmarcflow.notify.webhook import verify
from dmarcflow.store import Store
from dmarcflow.store.alerts import AlertStore
from tests.notify.digest_mail import comparable, expected_from_summary, figures, parts
from tests.support.alert_data import APPROVED_TOML, EXPECTED_KEYS, scenario_payloads
from tests.support.analysis_data import ingest_payloads
from tests.support.smtp_server import CertAuthority, SmtpServer, WebhookReceiver


def test_done_when(tmp_path: Path, test_ca: CertAuthority, receiver: WebhookReceiver, secret_file: Path, cli) -> None:
    db = tmp_path / "store.sqlite"
    ingest_payloads(db, scenario_payloads())
    password = tmp_path / "smtp.password"
    password.write_text("pw-e2e")
    with SmtpServer("starttls", test_ca, password="pw-e2e") as smtp:
        config = tmp_path / "dmarcflow.toml"
        config.write_text(
            f'[store]\npath = "{db}"\n\n'
            f'[smtp]\nhost = "localhost"\nport = {smtp.port}\ntls = "starttls"\nca_file = "{test_ca.ca_cert}"\n'
            f'user = "mailer"\npassword_file = "{password}"\nfrom = "dmarc@example.com"\n\n'
            f'[alerts]\nemail_to = ["team@example.com"]\nwebhooks = ["{receiver.url}"]\n'
            f'webhook_secret_file = "{secret_file}"\n\n'
            '[digest]\nschedule = "weekly mon 08:00"\ntimezone = "Europe/Berlin"\nto = ["team@example.com"]\n\n'
            + APPROVED_TOML)
        result = cli("--config", config, "alerts", "--at", "2026-03-15T12:00", "--format", "json")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert sorted(a["key"] for a in out["alerts"]) == sorted(EXPECTED_KEYS)
        assert (out["delivered"], out["pending"], out["open"], out["cleared"]) == (6, 0, 3, [])
        assert all(set(a["deliveries"].values()) == {"delivered"} and len(a["deliveries"]) == 2 for a in out["alerts"])
        assert result.stderr.endswith("3 alert(s) raised, 0 cleared, 3 open; 6 delivered, 0 delivery(ies) pending\n")
        again = cli("--config", config, "alerts", "--at", "2026-03-15T13:00", "--format", "json")
        assert json.loads(again.stdout)["alerts"] == []

        mails = smtp.messages()
        assert sorted(m.message["X-Dmarcflow-Alert-Key"] for m in mails) == sorted(EXPECTED_KEYS)
        posts = receiver.received()
        assert all(verify(secret_file.read_text().strip().encode(), p.body, p.headers["x-dmarcflow-signature"])
                   for p in posts)
        assert sorted(json.loads(p.body)["key"] for p in posts) == sorted(EXPECTED_KEYS)

        # The weekly digest, as the daemon sends it: Monday 08:00 in Berlin is 07:00 UTC.
        settings = load_settings(config)
        with Store.open(db) as store, store.transaction():
            AlertStore(store.conn).set_last_slot("digest", int(datetime(2026, 3, 9, 7, tzinfo=timezone.utc).timestamp()), "x")
        DigestSchedule(settings, lambda: datetime(2026, 3, 16, 7, 5, tzinfo=timezone.utc)).tick()
        digest = smtp.messages()[3:]
    assert len(digest) == 1
    text, _ = parts(digest[0].message)
    summary = json.loads(cli("--config", config, "summary", "--since", "2026-03-09", "--until", "2026-03-15",
                             "--format", "json").stdout)
    [domain] = summary["domains"]
    assert comparable(figures(text)["example.com"]) == expected_from_summary(domain)
    assert len(receiver.received()) == 3 and len(smtp.messages()) == 4  # nothing sent twice
