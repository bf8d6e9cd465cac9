"""Prometheus counters for alerts and digests, in prometheus_client's default registry.

Whatever serves /metrics from that registry (``prometheus_client.generate_latest()``) shows them; the
daemon's /metrics does (health.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

ALERTS_RAISED = Counter("dmarcflow_alerts_raised", "Alerts raised (new conditions), by rule.", ["rule"])
ALERTS_DELIVERED = Counter("dmarcflow_alerts_delivered", "Alert deliveries a channel accepted, by channel kind.",
                           ["channel"])
ALERT_DELIVERY_FAILURES = Counter("dmarcflow_alert_delivery_failures",
                                  "Alert delivery attempts that failed (each stays pending), by channel kind.",
                                  ["channel"])
DIGESTS_SENT = Counter("dmarcflow_digests_sent", "Digest mails sent, by trigger (schedule or command).", ["trigger"])

CHANNEL_KINDS = ("email", "webhook", "apprise")


def prime(rules: Iterable[str]) -> None:
    """Create every label value at 0, so a scrape shows the series before the first event."""
    for rule in rules:
        ALERTS_RAISED.labels(rule=rule)
    for kind in CHANNEL_KINDS:
        ALERTS_DELIVERED.labels(channel=kind)
        ALERT_DELIVERY_FAILURES.labels(channel=kind)
    for trigger in ("schedule", "command"):
        DIGESTS_SENT.labels(trigger=trigger)
