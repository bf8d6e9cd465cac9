"""One alert run: evaluate the rules, record what is new and what cleared, deliver what is pending.

State lives in the store (``AlertStore``): an alert is raised once per episode and gets one pending delivery
per channel; a delivery is marked done only after the channel accepted it, so a crash or an outage never
loses one (at worst a delivery is repeated once, when the process died between sending and recording: the
webhook body carries the alert ``id`` for receivers to deduplicate). Failed deliveries wait with a
growing delay (``retry_delay``) when ``due_only`` is set, as in the daemon; a command run tries them all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from dmarcflow.alerts.channels import Channel
from dmarcflow.alerts.context import RuleContext
from dmarcflow.alerts.rules import RULES, Rule, evaluate
from dmarcflow.config import Settings
from dmarcflow.errors import DeliveryError
from dmarcflow.models import Alert, RaisedAlert
from dmarcflow.notify import metrics
from dmarcflow.store import Store
from dmarcflow.store.alerts import AlertStore
from dmarcflow.utc import ISO_FORMAT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertRun:
    raised: tuple[RaisedAlert, ...]  # new this run (would be, with dry_run)
    cleared: tuple[RaisedAlert, ...]
    open: int  # alerts open after this run
    delivered: int  # deliveries a channel accepted in this run
    failures: tuple[str, ...]  # one line per channel that failed
    pending: int  # deliveries still pending after this run
    dry_run: bool = False


def run_configured(store: Store, settings: Settings, now: datetime | None = None, *,
                   dry_run: bool = False) -> AlertRun:
    """`dmarcflow alerts`: the configured channels (none for a dry run), every pending delivery tried."""
    from dmarcflow.alerts.channels import build_channels

    return run_alerts(store, settings, [] if dry_run else build_channels(settings), now, dry_run=dry_run)


def retry_delay(attempts: int) -> int:
    """Seconds before a failed delivery is due again: 1 min, doubling, at most 1 h."""
    return min(3600, 60 << min(max(0, attempts - 1), 10))


def run_alerts(store: Store, settings: Settings, channels: Sequence[Channel], now: datetime | None = None, *,
               dry_run: bool = False, due_only: bool = False, rules: tuple[Rule, ...] = RULES) -> AlertRun:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = now.strftime(ISO_FORMAT)
    found = evaluate(RuleContext(store, settings.alerts, settings.approved, now), rules)
    repo = store.alerts
    if dry_run:
        return _preview(repo, found.found, found.rules, stamp)
    with store.transaction():
        change = repo.apply(found.found, found.rules, [c.id for c in channels], stamp)
    for alert in change.raised:
        metrics.ALERTS_RAISED.labels(rule=alert.alert.rule).inc()
        log.info("alert raised: %s", alert.alert.message)
    for alert in change.cleared:
        log.info("alert cleared: %s", alert.alert.key)
    delivered, failures = deliver_pending(store, channels, now, due_only=due_only)
    return AlertRun(change.raised, change.cleared, change.still_open, delivered, failures, repo.count_pending())


def _preview(repo: AlertStore, found: Sequence[Alert], rules: Sequence[str], stamp: str) -> AlertRun:
    current = repo.open_alerts()
    keys = {a.key for a in found}
    raised = tuple(RaisedAlert(0, a, stamp, stamp) for a in {a.key: a for a in found}.values() if a.key not in current)
    cleared = tuple(old for key, old in current.items() if old.alert.rule in rules and key not in keys)
    return AlertRun(raised, cleared, len(current) + len(raised) - len(cleared), 0, (), repo.count_pending(), True)


def deliver_pending(store: Store, channels: Sequence[Channel], now: datetime | None = None, *,
                    due_only: bool = False) -> tuple[int, tuple[str, ...]]:
    """Try every pending delivery (only the due ones with due_only); a channel that fails is skipped for
    the rest of this run. Returns (deliveries made, one failure line per failed channel)."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    ts = int(now.timestamp())
    repo = store.alerts
    by_id = {c.id: c for c in channels}
    broken: dict[str, str] = {}
    delivered = 0
    for item in repo.pending(list(by_id), ts if due_only else None):
        channel = by_id[item.channel]
        if channel.id in broken:
            continue
        try:
            channel.send(item.alert)
        except DeliveryError as exc:
            broken[channel.id] = f"{channel.label}: {exc}"
            metrics.ALERT_DELIVERY_FAILURES.labels(channel=channel.kind).inc()
            due = ts + retry_delay(item.attempts + 1)
            with store.transaction():
                repo.failed(item.alert.id, channel.id, str(exc), due)
                repo.postpone(channel.id, due)  # the channel is down: its other deliveries wait as long
            log.error("alert %s not delivered by %s, kept pending: %s", item.alert.alert.key, channel.label, exc)
            continue
        with store.transaction():
            repo.delivered(item.alert.id, channel.id, now.strftime(ISO_FORMAT))
        metrics.ALERTS_DELIVERED.labels(channel=channel.kind).inc()
        delivered += 1
    return delivered, tuple(broken.values())
