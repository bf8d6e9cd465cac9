"""Digest schedules: parsing, the latest slot (time zones, DST), and the daemon's digest hook driven by an
injected clock against a real SMTP server: one digest per slot, one on start after missed slots."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dmarcflow.config import ApprovedSenders, DigestSettings, Settings, SmtpSettings, StoreSettings, load_settings
from dmarcflow.errors import ConfigError
from dmarcflow.notify.hooks import DigestSchedule
from dmarcflow.schedule import ScheduleError, parse_schedule
from dmarcflow.store import Store
from dmarcflow.store.alerts import AlertStore
from tests.notify.digest_mail import figures, parts
from tests.support.alert_data import scenario_payloads
from tests.support.analysis_data import ingest_payloads
from tests.support.smtp_server import SmtpServer

UTC = timezone.utc


@pytest.mark.parametrize(("text", "zone", "now", "slot"), [
    ("weekly mon 08:00", "UTC", datetime(2026, 3, 16, 8, 0, tzinfo=UTC), datetime(2026, 3, 16, 8, 0, tzinfo=UTC)),
    ("weekly mon 08:00", "UTC", datetime(2026, 3, 16, 7, 59, tzinfo=UTC), datetime(2026, 3, 9, 8, 0, tzinfo=UTC)),
    ("Weekly  MON 8:00", "Europe/Berlin", datetime(2026, 3, 18, tzinfo=UTC), datetime(2026, 3, 16, 7, 0, tzinfo=UTC)),
    # Summer time in Berlin from 2026-03-29: 08:00 local is 06:00 UTC.
    ("weekly mon 08:00", "Europe/Berlin", datetime(2026, 3, 31, tzinfo=UTC), datetime(2026, 3, 30, 6, 0, tzinfo=UTC)),
    ("daily 07:00", "America/New_York", datetime(2026, 3, 16, 10, 59, tzinfo=UTC), datetime(2026, 3, 15, 11, 0, tzinfo=UTC)),
    ("daily 07:00", "America/New_York", datetime(2026, 3, 16, 11, 0, tzinfo=UTC), datetime(2026, 3, 16, 11, 0, tzinfo=UTC)),
])
def test_latest_slot(text: str, zone: str, now: datetime, slot: datetime) -> None:
    assert parse_schedule(text, zone).latest_slot(now) == slot


@pytest.mark.parametrize(("text", "zone", "message"), [
    ("monthly 08:00", "UTC", "'monthly 08:00' is not a schedule (use e.g. \"weekly mon 08:00\" or \"daily 07:00\")"),
    ("weekly 08:00", "UTC", "'weekly 08:00' is not a schedule (use e.g. \"weekly mon 08:00\" or \"daily 07:00\")"),
    ("daily 24:00", "UTC", "'daily 24:00' is not a schedule (use e.g. \"weekly mon 08:00\" or \"daily 07:00\")"),
    ("daily 07:00", "Mars/Olympus", "'Mars/Olympus' is not a time zone (use an IANA name, e.g. Europe/Berlin or UTC)"),
])
def test_bad_schedules(text: str, zone: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(text, zone)
    assert str(caught.value) == message


def test_a_bad_schedule_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"DMARCFLOW_DIGEST_SCHEDULE": "weekly someday 08:00"})
    assert str(caught.value) == ("[digest] 'weekly someday 08:00' is not a schedule (use e.g. \"weekly mon 08:00\" "
                                 "or \"daily 07:00\")")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def schedule_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schedule") / "store.sqlite"
    ingest_payloads(path, scenario_payloads())
    return path


def scheduled(db: Path, smtp: SmtpServer, schedule: str = "weekly mon 08:00") -> Settings:
    return Settings(store=StoreSettings(path=str(db)),
                    smtp=SmtpSettings(host="127.0.0.1", port=smtp.port, tls="none", from_="dmarc@example.com"),
                    digest=DigestSettings(schedule=schedule, timezone="UTC", to=("team@example.com",)),
                    approved={"example.com": ApprovedSenders(networks=("192.0.2.0/24", "203.0.113.0/24"))})


def test_one_digest_per_slot_and_one_on_start_after_missed_slots(schedule_db: Path, tmp_path: Path,
                                                                 smtp: SmtpServer) -> None:
    db = tmp_path / "store.sqlite"
    db.write_bytes(schedule_db.read_bytes())
    clock = Clock(datetime(2026, 3, 15, 12, 0, tzinfo=UTC))  # a Sunday
    hook = DigestSchedule(scheduled(db, smtp), clock)
    hook.tick()  # first start: the latest slot (Mon 03-09) is noted as served, nothing is sent
    hook.tick()
    assert smtp.messages() == []
    clock.now = datetime(2026, 3, 16, 8, 0, 30, tzinfo=UTC)
    hook.tick()
    hook.tick()
    [weekly] = smtp.messages()
    assert weekly.message["Subject"].startswith("DMARC digest 2026-03-09 to 2026-03-15: 1 domain(s)")
    assert figures(parts(weekly.message)[0])["example.com"]["messages"] == 4371
    # The daemon is down for three slots (03-23, 03-30, 04-06) and restarts on 04-08: one digest, for the latest.
    restarted = DigestSchedule(scheduled(db, smtp), Clock(datetime(2026, 4, 8, 9, 0, tzinfo=UTC)))
    restarted.tick()
    restarted.tick()
    subjects = [m.message["Subject"] for m in smtp.messages()]
    assert subjects[1:] == ["DMARC digest 2026-03-30 to 2026-04-05: no reports"]
    with Store.open(db) as store:
        assert AlertStore(store.conn).last_slot("digest") == int(datetime(2026, 4, 6, 8, 0, tzinfo=UTC).timestamp())


def test_a_failed_send_is_retried_with_backoff_and_sent_once(schedule_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    db.write_bytes(schedule_db.read_bytes())
    server = SmtpServer()  # not started yet: the first attempt fails
    settings = scheduled(db, server, "daily 07:00")
    with Store.open(db) as store, store.transaction():
        AlertStore(store.conn).set_last_slot("digest", int(datetime(2026, 3, 14, 7, tzinfo=UTC).timestamp()), "x")
    clock = Clock(datetime(2026, 3, 15, 7, 1, tzinfo=UTC))
    hook = DigestSchedule(settings, clock)
    hook.tick()  # refused: retried no sooner than a minute later
    with server:
        clock.now += timedelta(seconds=30)
        hook.tick()
        assert server.messages() == []
        clock.now += timedelta(seconds=31)
        hook.tick()
        hook.tick()
        [daily] = server.messages()
    assert daily.message["Subject"].startswith("DMARC digest 2026-03-14: 1 domain(s)")


def test_the_digest_days_setting_sets_the_period(schedule_db: Path, tmp_path: Path, smtp: SmtpServer) -> None:
    db = tmp_path / "store.sqlite"
    db.write_bytes(schedule_db.read_bytes())
    settings = scheduled(db, smtp)
    settings = replace(settings, digest=replace(settings.digest, days=14))
    with Store.open(db) as store, store.transaction():
        AlertStore(store.conn).set_last_slot("digest", int(datetime(2026, 3, 9, 8, tzinfo=UTC).timestamp()), "x")
    DigestSchedule(settings, Clock(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))).tick()
    [mail] = smtp.messages()
    assert mail.message["Subject"].startswith("DMARC digest 2026-03-02 to 2026-03-15: ")
