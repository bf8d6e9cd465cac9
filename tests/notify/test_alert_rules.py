"""The alert rules over real stores with a known truth: exactly one alert per condition, once.

Library level (the time is passed in); the command, the delivery and the daemon are tested elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from dmarcflow.alerts import run_alerts
from dmarcflow.config import AlertsSettings, ApprovedSenders, Settings
from dmarcflow.store import Store
from tests.support.alert_data import DOMAIN, EXPECTED_KEYS, NOW, scenario_payloads
from tests.support.analysis_data import feedback, ingest_payloads, rec

APPROVED = {DOMAIN: ApprovedSenders(networks=("192.0.2.0/24", "203.0.113.0/24"))}


@pytest.fixture(scope="module")
def scenario_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "store.sqlite"
    ingest_payloads(path, scenario_payloads())
    return path


@pytest.fixture
def scenario_store(scenario_db: Path, tmp_path: Path):
    copy = tmp_path / "store.sqlite"  # each test starts from the same data and no alert state
    copy.write_bytes(scenario_db.read_bytes())
    with Store.open(copy) as store:
        yield store


def settings(**alerts: object) -> Settings:
    return Settings(approved=APPROVED, alerts=replace(AlertsSettings(), **alerts))


def test_the_scenario_raises_exactly_its_three_conditions_once(scenario_store: Store) -> None:
    first = run_alerts(scenario_store, settings(), [], NOW)
    assert {a.alert.key for a in first.raised} == EXPECTED_KEYS
    assert (len(first.raised), first.cleared, first.open) == (3, (), 3)
    again = run_alerts(scenario_store, settings(), [], NOW + timedelta(hours=1))
    assert (again.raised, again.cleared, again.open) == ((), (), 3)


def test_alert_texts_and_figures(scenario_store: Store) -> None:
    run = run_alerts(scenario_store, settings(), [], NOW)
    by_rule = {a.alert.rule: a.alert for a in run.raised}
    new = by_rule["new_unauthorised_source"]
    assert (new.severity, dict(new.details)["dmarc_fail"], dict(new.details)["messages"]) == ("warning", 30, 30)
    assert new.message == ("new unauthorised source for example.com: 198.51.100.99 sent 30 message(s) failing DMARC "
                           "in 2026-03-09 to 2026-03-15, never seen before (nothing passes: SPF softfail; no DKIM signature)")
    assert new.fix == ("If 198.51.100.99 sends for you, add it to [approved.\"example.com\"] and align its SPF or DKIM with "
                       "example.com; otherwise it is spoofing example.com, which p=none lets through: move towards p=quarantine.")
    own = by_rule["own_sender_failing"]
    assert (own.severity, dict(own.details)["dmarc_fail"]) == ("critical", 120)  # 20 a day, 03-09 to 03-14
    assert own.message.startswith("203.0.113.20 (approved by network 203.0.113.0/24) failed DMARC for example.com "
                                  "with 120 of 120 message(s) in 2026-03-09 to 2026-03-15: SPF passed for "
                                  "bounce.esp.example.net, not aligned with example.com (aspf=r)")
    stopped = by_rule["reports_stopped"]
    assert (stopped.severity, dict(stopped.details)["silent_days"], dict(stopped.details)["reported_days"]) == ("info", 4, 7)
    assert stopped.message == ("Mail.Ru reported on example.com daily (7 of 7 days) but has been silent for 4 day(s): "
                               "its last report ended 2026-03-10T23:59:59Z")


def test_an_alert_clears_and_fires_again_only_after_clearing(scenario_store: Store) -> None:
    run_alerts(scenario_store, settings(), [], NOW)
    # Mail.Ru reports again, daily from 03-11 to 03-15: its condition clears.
    own = rec("192.0.2.10", 5, DOMAIN, dkim=((DOMAIN, "pass"),), evaluated=("pass", "fail"))
    ingest_payloads(scenario_store.path, [feedback([own], domain=DOMAIN, day=f"2026-03-{d}", org="Mail.Ru")
                                          for d in range(11, 16)])
    cleared = run_alerts(scenario_store, settings(), [], NOW + timedelta(hours=1))
    assert ([a.alert.key for a in cleared.cleared], cleared.raised) == (["reports_stopped:example.com:Mail.Ru"], ())
    # Silent again long enough: the same key is raised again, as a new episode (stopped_days high enough
    # that the whole domain's silence does not take over).
    later = run_alerts(scenario_store, settings(stopped_days=30), [], NOW + timedelta(days=5))
    keys = [a.alert.key for a in later.raised]
    assert "reports_stopped:example.com:Mail.Ru" in keys
    episode = next(a for a in later.raised if a.alert.key == "reports_stopped:example.com:Mail.Ru")
    assert episode.id not in {a.id for a in cleared.cleared}


def test_switched_off_rules_raise_nothing_and_keep_their_open_alerts(scenario_store: Store) -> None:
    run_alerts(scenario_store, settings(), [], NOW)
    off = run_alerts(scenario_store, settings(own_sender_failing=False, reports_stopped=False,
                                              new_unauthorised_source=False), [], NOW)
    assert (off.raised, off.cleared, off.open) == ((), (), 3)


def test_thresholds_decide(scenario_store: Store) -> None:
    run = run_alerts(scenario_store, settings(new_source_min_messages=3, own_sender_min_failing=121,
                                              reporter_silent_days=5), [], NOW)
    assert {a.alert.key for a in run.raised} == {"new_unauthorised_source:example.com:198.51.100.99",
                                                 "new_unauthorised_source:example.com:198.51.100.100"}


def test_a_domain_without_any_report_for_days_is_one_alert_not_one_per_reporter(scenario_store: Store) -> None:
    run = run_alerts(scenario_store, settings(new_unauthorised_source=False, own_sender_failing=False), [],
                     NOW + timedelta(days=10))
    assert [a.alert.key for a in run.raised] == ["reports_stopped:example.com"]
    alert = run.raised[0]
    assert (alert.alert.key, dict(alert.alert.details)["silent_days"]) == ("reports_stopped:example.com", 10)


def test_pass_rate_drop_against_the_previous_period(tmp_path: Path) -> None:
    good = rec("192.0.2.10", 900, DOMAIN, dkim=((DOMAIN, "pass"),), spf=(DOMAIN, "pass"), evaluated=("pass", "pass"))
    bad = rec("198.51.100.50", 300, DOMAIN, spf=(DOMAIN, "fail"))
    payloads = [feedback([good], domain=DOMAIN, day="2026-03-03"),
                feedback([good, bad], domain=DOMAIN, day="2026-03-10")]
    ingest_payloads(tmp_path / "s.sqlite", payloads)
    with Store.open(tmp_path / "s.sqlite") as store:
        run = run_alerts(store, settings(new_unauthorised_source=False, reports_stopped=False), [], NOW)
        [alert] = [a.alert for a in run.raised]
    assert alert.key == "pass_rate_drop:example.com"
    assert alert.message == ("DMARC pass rate for example.com fell from 100.0% (2026-03-02 to 2026-03-08) to 75.0% "
                             "(2026-03-09 to 2026-03-15), 25.0 points")
    assert alert.fix == ("Most failing messages now come from 198.51.100.50 (300): see `dmarcflow senders example.com "
                         "--since 2026-03-09` for why each fails.")


def test_a_dry_run_changes_nothing(scenario_store: Store) -> None:
    preview = run_alerts(scenario_store, settings(), [], NOW, dry_run=True)
    assert {a.alert.key for a in preview.raised} == EXPECTED_KEYS
    real = run_alerts(scenario_store, settings(), [], NOW)
    assert {a.alert.key for a in real.raised} == EXPECTED_KEYS
