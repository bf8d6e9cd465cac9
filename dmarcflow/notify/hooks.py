"""The daemon's hooks for alerts and digests (registered in daemon.py's HOOK_FACTORIES and TICK_FACTORIES).

After every pass the alert rules run when the store has new reports; on every tick (about every 30 s)
pending deliveries that are due are retried, the rules run at least every EVALUATE_EVERY seconds (a
stopped reporter changes nothing in the store), and the digest is sent when its schedule's latest slot
was not served yet. The slot served is kept in the store, so a daemon that was down over several slots
sends one digest on start, not one per missed slot. Clocks are injectable for tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dmarcflow.alerts import build_channels, deliver_pending, run_alerts
from dmarcflow.alerts.rules import rule_names
from dmarcflow.changes import period_ending
from dmarcflow.config import Settings
from dmarcflow.digest import make_digest
from dmarcflow.errors import ConfigError, DmarcflowError
from dmarcflow.notify import metrics
from dmarcflow.notify.smtp import check_ready
from dmarcflow.schedule import parse_schedule
from dmarcflow.store import Store
from dmarcflow.store.alerts import AlertStore
from dmarcflow.utc import ISO_FORMAT

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EVALUATE_EVERY = 3600.0
DIGEST_SCHEDULE = "digest"  # the schedule_runs row of the digest
DIGEST_RETRY_MIN, DIGEST_RETRY_MAX = 60.0, 3600.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def check_settings(settings: Settings) -> None:
    """What the daemon checks at start and on reload: the channels can be built, a schedule has recipients."""
    if settings.alerts.email_to or settings.alerts.webhooks or settings.alerts.apprise:
        build_channels(settings)
    if settings.digest.schedule:
        check_ready(settings.smtp)
        if not settings.digest.to:
            raise ConfigError("[digest] schedule is set but [digest] to is empty: who should get the digest?")


def alerts_configured(settings: Settings) -> bool:
    a = settings.alerts
    return bool(a.email_to or a.webhooks or a.apprise)


class AlertsHook:
    """Runs the rules after a pass that stored something, and retries due deliveries on ticks."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.channels = build_channels(settings)
        self.clock = clock
        self._seen: int | None = None  # the newest report id at the last evaluation
        self._evaluated: datetime | None = None
        metrics.prime(rule_names())

    def after_pass(self) -> None:
        with Store.open(self.settings.store.resolved_path()) as store:
            latest = store.reports.latest_id()
            if latest != self._seen:
                self._evaluate(store, latest)

    def tick(self) -> None:
        now = self.clock()
        with Store.open(self.settings.store.resolved_path()) as store:
            if self._evaluated is None or (now - self._evaluated).total_seconds() >= EVALUATE_EVERY:
                self._evaluate(store, store.reports.latest_id())
            else:
                deliver_pending(store, self.channels, now, due_only=True)

    def _evaluate(self, store: Store, latest: int) -> None:
        now = self.clock()
        run = run_alerts(store, self.settings, self.channels, now, due_only=True)
        self._seen, self._evaluated = latest, now
        if run.raised or run.cleared or run.failures:
            log.info("alerts: %d raised, %d cleared, %d delivered, %d pending", len(run.raised), len(run.cleared),
                     run.delivered, run.pending)


class DigestSchedule:
    """Sends the digest of the complete UTC days before each slot, once per slot."""

    def __init__(self, settings: Settings, clock: Clock = utc_now) -> None:
        self.settings = settings
        self.schedule = parse_schedule(settings.digest.schedule, settings.digest.timezone)
        self.clock = clock
        self._retry_at: datetime | None = None
        self._delay = DIGEST_RETRY_MIN

    def tick(self) -> None:
        now = self.clock()
        slot = self.schedule.latest_slot(now)
        with Store.open(self.settings.store.resolved_path()) as store:
            repo = store.alerts
            last = repo.last_slot(DIGEST_SCHEDULE)
            if last is None:
                # First start with a schedule: nothing was missed yet. The next slot is the first digest.
                with store.transaction():
                    repo.set_last_slot(DIGEST_SCHEDULE, int(slot.timestamp()), now.strftime(ISO_FORMAT))
                log.info("digest scheduled %s", self.schedule.describe())
                return
            if last >= int(slot.timestamp()) or (self._retry_at is not None and now < self._retry_at):
                return
            self._send(store, repo, slot, now)

    def _send(self, store: Store, repo: AlertStore, slot: datetime, now: datetime) -> None:
        days = self.settings.digest.days or self.schedule.period_days
        period = period_ending(slot.date() - timedelta(days=1), days)
        try:
            result = make_digest(store, self.settings, period, now=now, trigger="schedule")
        except DmarcflowError as exc:
            self._retry_at = now + timedelta(seconds=self._delay)
            log.error("digest for %s not sent, retrying in %.0f s: %s", period.label(), self._delay, exc)
            self._delay = min(DIGEST_RETRY_MAX, self._delay * 2)
            return
        self._retry_at, self._delay = None, DIGEST_RETRY_MIN
        with store.transaction():
            repo.set_last_slot(DIGEST_SCHEDULE, int(slot.timestamp()), now.strftime(ISO_FORMAT))
        log.info("digest for %s %s", period.label(), "sent" if result.sent else "skipped (empty period)")


def alerts_hook(settings: Settings) -> Callable[[], None] | None:
    return AlertsHook(settings).after_pass if alerts_configured(settings) else None


def tick_hooks(settings: Settings) -> list[Callable[[], None]]:
    hooks: list[Callable[[], None]] = []
    if alerts_configured(settings):
        hooks.append(AlertsHook(settings).tick)
    if settings.digest.schedule:
        hooks.append(DigestSchedule(settings).tick)
    return hooks
