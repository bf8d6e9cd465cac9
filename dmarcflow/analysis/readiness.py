"""Policy readiness: what an enforcing policy would do to legitimate mail now.

Legitimate sources are those of class authorised or forwarded, plus any
approved source whatever its class (IP view). Their messages that fail DMARC
are the ones at risk. When p moves to quarantine (or reject), a failing
message whose From is the policy domain gets the new p; one from a subdomain
gets the published sp when there is one, else the new p (sp defaults to p).
pct is taken as 100 (RFC 9990 drops it). np is not applied: reports do not
say whether a subdomain exists.

    share = (quarantined + rejected) / legitimate messages
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dmarcflow.analysis.queries import PolicyFacts
from dmarcflow.analysis.sources import FAILING_CLASSES, Source

NEXT_STEP = {None: "p=quarantine", "none": "p=quarantine", "quarantine": "p=reject", "reject": None}


@dataclass(frozen=True)
class Scenario:
    """The outcome for legitimate mail under one enforcing p."""

    policy: str
    quarantined: int
    rejected: int
    share: float

    def as_dict(self) -> dict:
        return {"policy": self.policy, "quarantined": self.quarantined, "rejected": self.rejected, "share": self.share}


@dataclass(frozen=True)
class Readiness:
    legitimate_messages: int
    legitimate_failing: int
    quarantine: Scenario
    reject: Scenario
    approved_failing: tuple[str, ...]  # sender names
    unknown_misconfigured: tuple[str, ...]
    recommendation: str

    def as_dict(self) -> dict:
        return {
            "legitimate_messages": self.legitimate_messages,
            "legitimate_failing": self.legitimate_failing,
            "quarantine": self.quarantine.as_dict(),
            "reject": self.reject.as_dict(),
            "approved_failing": list(self.approved_failing),
            "unknown_misconfigured": list(self.unknown_misconfigured),
            "recommendation": self.recommendation,
        }


def assess(sources: Sequence[Source], policy: PolicyFacts | None) -> Readiness:
    """Sources must be the IP view of the whole window."""
    legit = [s for s in sources if s.legitimate]
    total = sum(s.messages for s in legit)
    on_domain = sum(s.failing_domain for s in legit)
    on_other = sum(s.failing_other for s in legit)
    sp = policy.sp if policy else None
    scenarios = [_scenario(p, sp, on_domain, on_other, total) for p in ("quarantine", "reject")]
    approved_failing = _names(s for s in sources if s.approved and s.klass in FAILING_CLASSES)
    unknown = _names(s for s in sources if not s.approved and s.klass == "misconfigured")
    current = policy.p if policy else None
    text = recommend(current, total, on_domain + on_other, approved_failing, unknown, scenarios)
    return Readiness(total, on_domain + on_other, scenarios[0], scenarios[1], approved_failing, unknown, text)


def _scenario(p: str, sp: str | None, on_domain: int, on_other: int, total: int) -> Scenario:
    counts = {"quarantine": 0, "reject": 0, "none": 0}
    counts[p] += on_domain
    counts[sp or p] += on_other
    hit = counts["quarantine"] + counts["reject"]
    return Scenario(p, counts["quarantine"], counts["reject"], round(hit / total, 6) if total else 0.0)


def _names(sources) -> tuple[str, ...]:
    return tuple(sorted({s.sender for s in sources}))


def recommend(current: str | None, legit: int, failing: int, approved_failing: Sequence[str],
              unknown: Sequence[str], scenarios: Sequence[Scenario]) -> str:
    target = NEXT_STEP.get(current, "p=quarantine")
    goal = f"before {target}" if target else "to stop losing their mail under p=reject"
    if legit == 0:
        text = "no legitimate mail in this period: list your senders under [approved] before changing the policy"
    elif approved_failing:
        names = ", ".join(approved_failing[:3]) + (", ..." if len(approved_failing) > 3 else "")
        text = f"{len(approved_failing)} approved sender(s) still fail DMARC alignment ({names}): fix them {goal}"
    elif failing == 0:
        text = f"ready for {target}: all legitimate mail passes DMARC" if target else "p=reject in place and all legitimate mail passes DMARC"
    else:
        worst = max(scenarios, key=lambda s: s.share)
        risk = f"may be lost under {target}" if target else "p=reject applies to them unless receivers override"
        text = (f"{failing} message(s) from legitimate sources ({worst.share:.1%} of legitimate mail) fail DMARC, "
                f"most likely after forwarding: {risk}")
    if unknown:
        text += f"; {len(unknown)} unlisted misconfigured sender(s) ({', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}): approve them if they are yours"
    return text[0].upper() + text[1:]
