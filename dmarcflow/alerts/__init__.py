"""Alerts: rules over the store, state in the store, delivery by mail, webhooks and Apprise.

Public API::

    run_alerts(store, settings, channels, now=None, *, dry_run=False, due_only=False) -> AlertRun
    build_channels(settings) -> list[Channel]
    run_configured(store, settings, now=None, *, dry_run=False) -> AlertRun   (the command: channels from settings)
    RULES: the rule registry (alerts/rules.py)
"""

from dmarcflow.alerts.channels import Channel, build_channels
from dmarcflow.alerts.engine import AlertRun, deliver_pending, run_alerts, run_configured
from dmarcflow.alerts.rules import RULES, Rule

__all__ = ["RULES", "AlertRun", "Channel", "Rule", "build_channels", "deliver_pending", "run_alerts", "run_configured"]
