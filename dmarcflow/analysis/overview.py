"""The overview: which domain is worst, and its status in a few words.

``overview(summaries)`` is the one entry point for the CLI, the web UI and the digests: it
returns one ``DomainStatus`` per domain, worst first, ordered by

1. the failing volume from sources that may be legitimate (``Readiness.at_risk``: approved or
   legitimate sources failing DMARC, plus unlisted misconfigured ones), then
2. the impostor volume (unapproved unauthorised sources and those marked not ours),
3. the domain name.

Statuses ("not ready: Twilio SendGrid fails DKIM alignment") come from the readiness
rules in ``wording`` and, when a DNS check has run, its error count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dmarcflow.analysis.wording import rule

if TYPE_CHECKING:
    from dmarcflow.analysis.readiness import Readiness
    from dmarcflow.analysis.summary import DomainSummary

SEVERITIES = ("critical", "warning", "ok")  # critical: mail that may be legitimate fails DMARC


@dataclass(frozen=True)
class DomainStatus:
    domain: str
    messages: int
    dmarc_pass: int
    at_risk: int
    impostors: int
    severity: str
    status: str

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0

    @property
    def rank(self) -> tuple[int, int, str]:
        return (-self.at_risk, -self.impostors, self.domain)

    def as_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "messages": self.messages, "dmarc_pass_rate": round(self.pass_rate, 6),
                "at_risk_messages": self.at_risk, "impostor_messages": self.impostors,
                "severity": self.severity, "status": self.status}


def overview(summaries: Iterable[DomainSummary]) -> list[DomainStatus]:
    """One status per domain, worst first (see the module docstring for the order)."""
    return sorted((domain_status(s) for s in summaries), key=lambda st: st.rank)


def worst_first(summaries: Iterable[DomainSummary]) -> list[DomainSummary]:
    """The summaries in the overview's order."""
    by_domain = {s.domain: s for s in summaries}
    return [by_domain[st.domain] for st in overview(by_domain.values())]


def domain_status(s: DomainSummary) -> DomainStatus:
    r = s.readiness
    text, severity = _words(r)
    errors = len(s.dns_check.errors) if s.dns_check else 0
    if errors:
        text += f"; DNS check: {errors} error{'' if errors == 1 else 's'}"
        severity = "critical" if severity == "critical" else "warning"
    return DomainStatus(s.domain, s.messages, s.dmarc_pass, r.at_risk, r.impostors.messages, severity, text)


def _words(r: Readiness) -> tuple[str, str]:
    which = rule(r)
    if which == "blocked":
        top = r.blockers[0]
        more = f" (+{len(r.blockers) - 1} more)" if len(r.blockers) > 1 else ""
        lead = "not ready" if r.target else "at risk under p=reject"
        return f"{lead}: {top.sender} {top.failure}{more}", "critical"
    if which == "no-mail":
        return "no legitimate mail seen", "warning"
    if which == "forwarding":
        return f"{r.legitimate_failing} legitimate message(s) fail DMARC (forwarding)", "warning"
    if which == "spf-only":
        top = r.spf_only[0]
        more = f" (+{len(r.spf_only) - 1} more)" if len(r.spf_only) > 1 else ""
        return f"not ready for p=reject: {top.sender} has no aligned DKIM{more}", "warning"
    if r.testing:
        return f"ready to enforce p={r.current} (remove t=y)", "ok"
    if r.target:
        return f"ready for {r.target}", "ok"
    return "protected: p=reject, all legitimate mail passes", "ok"
