"""The alert rule registry: each rule is a name, a severity policy and a function over a ``RuleContext``.

A rule is switched on and off by the ``[alerts]`` key of its own name and reads its thresholds from
``[alerts]`` too. Adding a rule is one function, one boolean key and one ``Rule`` entry in ``RULES``; the
engine, the state and the delivery do not change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dmarcflow.alerts import builtin
from dmarcflow.alerts.context import RuleContext
from dmarcflow.alerts.dns_changed import dns_changed
from dmarcflow.alerts.kinds import new_failure_reports, tls_failures
from dmarcflow.config import AlertsSettings
from dmarcflow.models import Alert

Evaluate = Callable[[RuleContext], list[Alert]]


@dataclass(frozen=True)
class Rule:
    name: str  # also the [alerts] key that switches it on or off
    evaluate: Evaluate
    summary: str  # one line for --help and the README

    def enabled(self, settings: AlertsSettings) -> bool:
        return bool(getattr(settings, self.name))


RULES: tuple[Rule, ...] = (
    Rule("new_unauthorised_source", builtin.new_unauthorised_source,
         "a source never seen before for the domain, failing DMARC, with at least new_source_min_messages"),
    Rule("own_sender_failing", builtin.own_sender_failing,
         "an approved (or unlisted misconfigured) sender with at least own_sender_min_failing failing messages"),
    Rule("pass_rate_drop", builtin.pass_rate_drop,
         "the DMARC pass rate down by pass_rate_min_drop points or more against the previous period"),
    Rule("reports_stopped", builtin.reports_stopped,
         "no report for the domain for stopped_days, or a daily reporter silent for reporter_silent_days"),
    Rule("dns_changed", dns_changed,
         "a DNS record (dns_changed_records) differs between the two latest saved `dmarcflow check` runs"),
    Rule("new_failure_reports", new_failure_reports,
         "DMARC failure reports naming a source IP never named before for the domain "
         "(at least failure_new_source_min_reports)"),
    Rule("tls_failures", tls_failures,
         "failed SMTP TLS sessions of a policy domain: at least tls_min_failed_sessions and tls_min_failure_share %"),
)


@dataclass(frozen=True)
class Evaluation:
    found: tuple[Alert, ...]
    rules: tuple[str, ...]  # the rules that ran (the others' open alerts are left as they are)


def evaluate(context: RuleContext, rules: tuple[Rule, ...] = RULES) -> Evaluation:
    enabled = [rule for rule in rules if rule.enabled(context.settings)]
    found: list[Alert] = []
    for rule in enabled:
        found.extend(rule.evaluate(context))
    return Evaluation(tuple(found), tuple(rule.name for rule in enabled))


def rule_names() -> tuple[str, ...]:
    return tuple(rule.name for rule in RULES)

