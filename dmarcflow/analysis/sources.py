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
    sums = [0] * 6
    for r in rows:
        classes[r.klass] += r.messages
        failing = 0 if r.dmarc_pass else r.messages
        is_domain = r.header_from == domain
        for i, add in enumerate((r.messages, r.messages * r.dmarc_pass, r.messages * r.spf_aligned,
                                 r.messages * r.dkim_aligned, failing * is_domain, failing * (not is_domain))):
            sums[i] += add
    klass = max(classes, key=lambda k: (classes[k], _SEVERITY[k]))
    return _Totals(*sums, classes=dict(classes), klass=klass)


def _main_explanation(rows: list[SourceRow], klass: str, policy: PolicyFacts | None) -> str:
    """The explanation carrying the most messages of the source's class (ties: the first in text order)."""
    texts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.klass == klass:
            texts[explain(r, klass, policy)] += r.messages
    return min(texts, key=lambda text: (-texts[text], text))


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
    sources = [_source(name, group, infos, domain, policy, matcher, view) for name, group in groups.items()]
    return sorted(sources, key=lambda s: (-s.messages, s.sender, s.ip or ""))


def _source(name, rows, infos, domain, policy, matcher, view) -> Source:
    t = _totals(rows, domain)
    ips = tuple(sorted({r.ip for r in rows}))
    text = _main_explanation(rows, t.klass, policy) + mix_note(t.classes, t.klass, t.messages)
    if view == "sender" and len(ips) > 1:
        text += f" ({len(ips)} IPs)"
    facts = [infos.get(ip) for ip in ips]
    approvals = [matcher.match(_facts(ip, info)) for ip, info in zip(ips, facts)]
    approved_by = approvals[0] if all(approvals) else None
    first = facts[0] if len(ips) == 1 else None
    return Source(
        ip=ips[0] if view == "ip" else None, ips=ips, sender=sender_name(ips[0], facts[0]) if view == "ip" else name,
        reverse_dns=first.reverse_dns if first else None,
        country=_common([f.country if f else None for f in facts]), asn=_common([f.asn if f else None for f in facts]),
        as_name=_common([f.as_name if f else None for f in facts]),
        messages=t.messages, dmarc_pass=t.dmarc_pass, spf_aligned=t.spf_aligned, dkim_aligned=t.dkim_aligned,
        klass=t.klass, classes=t.classes, explanation=text, approved_by=approved_by,
        failing_domain=t.failing_domain, failing_other=t.failing_other,
    )


def _facts(ip: str, info: IpRow | None) -> SourceFacts:
    if info is None:
        return SourceFacts(ip, None, None, None)
    return SourceFacts(ip, info.sender, info.base_domain, info.reverse_dns)


def _common(values: list):
    """The value all IPs share, or None when they differ."""
    return values[0] if len(set(values)) == 1 else None
