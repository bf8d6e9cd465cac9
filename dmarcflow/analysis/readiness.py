"""Policy readiness: what an enforcing policy would do to mail that may be the domain's, now.

Legitimate sources are those of class authorised or forwarded, plus any
approved source whatever its class (IP view); a source listed under
``not_ours`` is not legitimate unless it is also approved. Unlisted
misconfigured sources *may be ours* until approved or marked not ours. The
headline never says "ready" while a source that may be legitimate fails.

When p moves to quarantine (or reject), a failing legitimate message whose
From is the policy domain gets the new p; one from a subdomain gets the
published sp when there is one, else the new p (sp defaults to p). pct is
taken as 100 (RFC 9989 drops it); np is shown, not applied (reports do not say
whether a subdomain exists).

    share = (quarantined + rejected) / legitimate messages

RFC 9989 advice applied: p=reject needs aligned DKIM on every legitimate
sender (SPF alone breaks on forwarding); domains whose mail goes through
mailing lists are warned; t=y (testing) means the policy is not enforced yet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from dmarcflow.analysis.ip_view import NO_QUIET, QuietTotals
from dmarcflow.analysis.sources import FAILING_CLASSES, Source
from dmarcflow.analysis.wording import headline, notes
from dmarcflow.models import PolicyPublished

NEXT_STEP = {None: "p=quarantine", "none": "p=quarantine", "quarantine": "p=reject", "reject": None}


@dataclass(frozen=True)
class Scenario:
    """The outcome for legitimate mail under one enforcing p."""

    policy: str
    quarantined: int
    rejected: int
    share: float

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "quarantined": self.quarantined, "rejected": self.rejected, "share": self.share}


@dataclass(frozen=True)
class SenderFigure:
    """A sender (service name, else sender name) with the messages that matter for the advice."""

    sender: str
    messages: int
    approved: bool
    failure: str  # "fails DKIM alignment"; for SPF-only senders "has no aligned DKIM"

    def as_dict(self) -> dict[str, Any]:
        return {"sender": self.sender, "messages": self.messages, "approved": self.approved, "failure": self.failure}


@dataclass(frozen=True)
class Impostors:
    """Unapproved unauthorised sources and those marked not ours, as receivers treated them."""

    messages: int
    quarantined: int
    rejected: int

    @property
    def delivered(self) -> int:
        return self.messages - self.quarantined - self.rejected

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "quarantined": self.quarantined, "rejected": self.rejected,
                "delivered": self.delivered}


@dataclass(frozen=True)
class Readiness:
    legitimate_messages: int
    legitimate_failing: int
    quarantine: Scenario
    reject: Scenario
    approved_failing: tuple[str, ...]  # sender names
    unknown_misconfigured: tuple[str, ...]
    recommendation: str
    may_be_ours_failing: int = 0
    blockers: tuple[SenderFigure, ...] = ()  # failing senders that may be the domain's, biggest first
    spf_only: tuple[SenderFigure, ...] = ()  # legitimate senders passing DMARC without aligned DKIM
    mailing_list: int = 0
    impostors: Impostors = Impostors(0, 0, 0)
    current: str | None = None  # published p
    testing: bool = False  # published with t=y
    target: str | None = None  # the next step, e.g. "p=reject", or None at p=reject
    notes: tuple[str, ...] = ()

    @property
    def at_risk(self) -> int:
        """Failing messages from sources that may be legitimate (the overview's first sort key)."""
        return self.legitimate_failing + self.may_be_ours_failing

    @property
    def aims_at_reject(self) -> bool:
        return (self.target is not None and self.target.startswith("p=reject")) or self.current == "reject"

    def as_dict(self) -> dict[str, Any]:
        return {
            "legitimate_messages": self.legitimate_messages,
            "legitimate_failing": self.legitimate_failing,
            "quarantine": self.quarantine.as_dict(),
            "reject": self.reject.as_dict(),
            "approved_failing": list(self.approved_failing),
            "unknown_misconfigured": list(self.unknown_misconfigured),
            "may_be_ours_failing": self.may_be_ours_failing,
            "blockers": [b.as_dict() for b in self.blockers],
            "spf_only": [b.as_dict() for b in self.spf_only],
            "mailing_list_messages": self.mailing_list,
            "impostors": self.impostors.as_dict(),
            "testing": self.testing,
            "target": self.target,
            "recommendation": self.recommendation,
            "notes": list(self.notes),
        }


def assess(sources: Sequence[Source], policy: PolicyPublished | None, domain: str = "DOMAIN",
           quiet: QuietTotals = NO_QUIET) -> Readiness:
    """Sources must be the IP view of the whole window, but for the quiet sources given as ``quiet``
    (``analysis.ip_view``); ``domain`` is named in the advice."""
    f = _figures(sources)
    f.total += quiet.messages
    f.on_domain += quiet.failing_domain
    f.on_other += quiet.failing_other
    f.mailing_list += quiet.mailing_list
    sp = policy.sp if policy else None
    scenarios = [_scenario(p, sp, f.on_domain, f.on_other, f.total) for p in ("quarantine", "reject")]
    current = policy.p if policy else None
    testing = bool(policy and policy.testing == "y" and current in ("quarantine", "reject"))
    target = f"p={current} without t=y" if testing else NEXT_STEP.get(current, "p=quarantine")
    readiness = Readiness(
        legitimate_messages=f.total, legitimate_failing=f.on_domain + f.on_other,
        quarantine=scenarios[0], reject=scenarios[1],
        approved_failing=_names(f.approved_failing), unknown_misconfigured=_names(f.may_be_ours),
        recommendation="", may_be_ours_failing=sum(s.dmarc_fail for s in f.may_be_ours),
        blockers=_by_sender(f.bad, lambda s: s.dmarc_fail, lambda s: s.failure),
        spf_only=_by_sender(f.spf_only, lambda s: s.spf_only, lambda s: "has no aligned DKIM"),
        mailing_list=f.mailing_list,
        impostors=Impostors(f.impostor_messages, f.impostor_quarantined, f.impostor_rejected),
        current=current, testing=testing, target=target,
    )
    return replace(readiness, recommendation=headline(readiness), notes=notes(readiness, sp, domain))


@dataclass
class _Figures:
    total: int = 0
    on_domain: int = 0
    on_other: int = 0
    mailing_list: int = 0
    impostor_messages: int = 0
    impostor_quarantined: int = 0
    impostor_rejected: int = 0
    approved_failing: list[Source] = field(default_factory=list)
    may_be_ours: list[Source] = field(default_factory=list)
    bad: list[Source] = field(default_factory=list)  # fail and may be the domain's
    spf_only: list[Source] = field(default_factory=list)


def _figures(sources: Sequence[Source]) -> _Figures:
    """One pass over the sources, reading fields rather than properties: a summary has tens of thousands."""
    f = _Figures()
    for s in sources:
        approved = s.approved_by is not None
        disowned = s.not_ours_by is not None and not approved
        failing = s.klass in FAILING_CLASSES
        d = s.detail
        if approved or not (failing or disowned):  # legitimate
            f.total += s.messages
            f.on_domain += d.failing_domain
            f.on_other += d.failing_other
            f.mailing_list += d.mailing_list
            if d.spf_only and s.klass == "authorised":
                f.spf_only.append(s)
        if approved and failing:
            f.approved_failing.append(s)
            f.bad.append(s)
        elif s.klass == "misconfigured" and not disowned:
            f.may_be_ours.append(s)
            f.bad.append(s)
        elif not approved and (disowned or s.klass == "unauthorised"):  # impostor
            f.impostor_messages += s.messages
            f.impostor_quarantined += s.quarantined
            f.impostor_rejected += s.rejected
    return f


def _scenario(p: str, sp: str | None, on_domain: int, on_other: int, total: int) -> Scenario:
    counts = {"quarantine": 0, "reject": 0, "none": 0}
    counts[p] += on_domain
    counts[sp or p] += on_other
    hit = counts["quarantine"] + counts["reject"]
    return Scenario(p, counts["quarantine"], counts["reject"], round(hit / total, 6) if total else 0.0)


def _names(sources: Iterable[Source]) -> tuple[str, ...]:
    return tuple(sorted({s.sender for s in sources}))


def _by_sender(sources: Sequence[Source], volume: Any, why: Any) -> tuple[SenderFigure, ...]:
    """Senders (by service name, else sender name) with their summed volume, biggest first; each keeps the
    reason of its biggest source."""
    totals: dict[str, int] = defaultdict(int)
    reason: dict[str, tuple[int, str]] = {}
    approved: dict[str, bool] = {}
    for s in sources:
        name = s.service or s.sender
        n = volume(s)
        totals[name] += n
        if name not in reason or n > reason[name][0]:
            reason[name] = (n, why(s))
        approved[name] = approved.get(name, True) and s.approved
    ranked = sorted(totals, key=lambda name: (-totals[name], name))
    return tuple(SenderFigure(name, totals[name], approved[name], reason[name][1]) for name in ranked)
