"""Sources: sending IPs (or the senders grouping them) with one class each.

A source's class is the class with the most messages among its rollup rows;
ties go to the worst class (unauthorised > misconfigured > forwarded >
authorised), so that a doubt never hides a problem.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from dmarcflow.analysis.approved import ApprovedMatcher, SourceFacts
from dmarcflow.analysis.explain import explain, mix_note
from dmarcflow.analysis.queries import IpRow, PolicyFacts, SourceRow
from dmarcflow.models import SOURCE_CLASSES

FAILING_CLASSES = ("misconfigured", "unauthorised")
VIEWS = ("ip", "sender")
_SEVERITY = {k: i for i, k in enumerate(SOURCE_CLASSES)}  # authorised 0 ... unauthorised 3


@dataclass(frozen=True)
class Source:
    ip: str | None  # None in the sender view
    ips: tuple[str, ...]
    sender: str
    reverse_dns: str | None
    country: str | None
    asn: int | None
    as_name: str | None
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    klass: str
    classes: Mapping[str, int]
    explanation: str
    approved_by: str | None
    # Messages failing DMARC whose From is the policy domain itself / another (sub)domain.
    failing_domain: int = field(default=0, compare=False)
    failing_other: int = field(default=0, compare=False)

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    @property
    def legitimate(self) -> bool:
        return self.approved or self.klass not in FAILING_CLASSES

    @property
    def verdict(self) -> str:
        if self.klass not in FAILING_CLASSES:
            return "ok" if self.klass == "authorised" else "ok (forwarded)"
        return "approved but failing: fix its setup" if self.approved else "impostor candidate"

    def as_dict(self) -> dict:
        return {
            "ip": self.ip, "ips": list(self.ips), "sender": self.sender, "reverse_dns": self.reverse_dns,
            "country": self.country, "asn": self.asn, "as_name": self.as_name, "messages": self.messages,
            "dmarc_pass": self.dmarc_pass, "dmarc_fail": self.dmarc_fail, "spf_aligned": self.spf_aligned,
            "dkim_aligned": self.dkim_aligned, "class": self.klass,
            "classes": {k: self.classes.get(k, 0) for k in SOURCE_CLASSES}, "explanation": self.explanation,
            "approved": self.approved, "approved_by": self.approved_by, "verdict": self.verdict,
        }


@dataclass(frozen=True)
class _Totals:
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    failing_domain: int
    failing_other: int
    classes: dict[str, int]
    klass: str


def _totals(rows: list[SourceRow], domain: str) -> _Totals:
    classes: dict[str, int] = defaultdict(int)
    messages = passed = spf = dkim = failing_domain = failing_other = 0
    for r in rows:
        n = r.messages
        classes[r.klass] += n
        messages += n
        if r.dmarc_pass:
            passed += n
        elif r.header_from == domain:
            failing_domain += n
        else:
            failing_other += n
        if r.spf_aligned:
            spf += n
        if r.dkim_aligned:
            dkim += n
    klass = max(classes, key=lambda k: (classes[k], _SEVERITY[k]))
    return _Totals(messages, passed, spf, dkim, failing_domain, failing_other, dict(classes), klass)


def _main_explanation(rows: list[SourceRow], klass: str, explainer: "_Explainer") -> str:
    """The explanation carrying the most messages of the source's class (ties: the first in text order)."""
    texts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.klass == klass:
            texts[explainer(r)] += r.messages
    return min(texts, key=lambda text: (-texts[text], text))


class _Explainer:
    """explain() memoised on the fields it reads: thousands of sources share a few verdicts."""

    def __init__(self, policy: PolicyFacts | None) -> None:
        self.policy = policy
        self.cache: dict[tuple, str] = {}

    def __call__(self, r: SourceRow) -> str:
        key = (r.klass, r.header_from, r.dkim_aligned, r.spf_aligned, r.dkim_domain, r.spf_domain,
               r.dkim_result, r.spf_result, r.reasons)
        text = self.cache.get(key)
        if text is None:
            text = self.cache[key] = explain(r, r.klass, self.policy)
        return text


def sender_name(ip: str, info: IpRow | None) -> str:
    return info.sender if info and info.sender else ip


def build_sources(
    rows: Iterable[SourceRow],
    infos: Mapping[str, IpRow],
    domain: str,
    policy: PolicyFacts | None,
    matcher: ApprovedMatcher,
    view: str = "ip",
) -> list[Source]:
    """One Source per IP (view "ip") or per sender (view "sender"), biggest first."""
    key: Callable[[SourceRow], str] = (lambda r: r.ip) if view == "ip" else (lambda r: sender_name(r.ip, infos.get(r.ip)))
    groups: dict[str, list[SourceRow]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    explainer = _Explainer(policy)
    sources = [_source(name, group, infos, domain, explainer, matcher, view) for name, group in groups.items()]
    return sorted(sources, key=lambda s: (-s.messages, s.sender, s.ip or ""))


def _source(name, rows, infos, domain, explainer, matcher, view) -> Source:
    t = _totals(rows, domain)
    ips = (name,) if view == "ip" else tuple(sorted({r.ip for r in rows}))
    text = _main_explanation(rows, t.klass, explainer)
    if len(t.classes) > 1:
        text += mix_note(t.classes, t.klass, t.messages)
    if len(ips) > 1:
        text += f" ({len(ips)} IPs)"
    facts = [infos.get(ip) for ip in ips]
    approved_by = None
    if not matcher.empty:
        approvals = [matcher.match(_facts(ip, info)) for ip, info in zip(ips, facts)]
        approved_by = approvals[0] if all(approvals) else None
    first = facts[0]
    one = len(ips) == 1
    return Source(
        ip=name if view == "ip" else None, ips=ips, sender=sender_name(name, first) if view == "ip" else name,
        reverse_dns=first.reverse_dns if one and first else None,
        country=_common(facts, "country"), asn=_common(facts, "asn"), as_name=_common(facts, "as_name"),
        messages=t.messages, dmarc_pass=t.dmarc_pass, spf_aligned=t.spf_aligned, dkim_aligned=t.dkim_aligned,
        klass=t.klass, classes=t.classes, explanation=text, approved_by=approved_by,
        failing_domain=t.failing_domain, failing_other=t.failing_other,
    )


def _facts(ip: str, info: IpRow | None) -> SourceFacts:
    if info is None:
        return SourceFacts(ip, None, None, None)
    return SourceFacts(ip, info.sender, info.base_domain, info.reverse_dns)


def _common(facts: list[IpRow | None], name: str):
    """The value all IPs share, or None when they differ."""
    if len(facts) == 1:
        return getattr(facts[0], name) if facts[0] else None
    values = {getattr(f, name) if f else None for f in facts}
    return values.pop() if len(values) == 1 else None
