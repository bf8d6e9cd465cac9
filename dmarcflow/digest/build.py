"""A digest's content: per domain, the period's summary against the previous one, and what needs a look.

Every figure comes from the analysis library (``summarise``, ``list_sources``, the rollup's source rows),
called with the same period as ``dmarcflow summary --since/--until``, so the digest and the summary agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from dmarcflow.analysis import DomainSummary, Source, list_sources, summarise
from dmarcflow.analysis.summary import normalise_domain
from dmarcflow.analysis.tls import TlsDomainSummary, summarise_tls
from dmarcflow.analysis.window import window_of
from dmarcflow.changes import Period, new_sources
from dmarcflow.config import ApprovedSenders
from dmarcflow.store import Store
from dmarcflow.store.failures import FailureReports
from dmarcflow.utc import ISO_FORMAT


@dataclass(frozen=True)
class Impostor:
    source: Source
    quarantined: int  # messages receivers quarantined / rejected, as their reports say
    rejected: int

    @property
    def delivered(self) -> int:
        return self.source.messages - self.quarantined - self.rejected


@dataclass(frozen=True)
class DomainDigest:
    summary: DomainSummary
    previous: DomainSummary | None  # None: no report in the previous period
    new_senders: tuple[Source, ...]  # sender view
    own_failing: tuple[Source, ...]  # sender view: approved and failing, or unlisted misconfigured
    impostors: tuple[Impostor, ...]  # IP view: every unauthorised source, biggest first

    @property
    def domain(self) -> str:
        return self.summary.domain

    @property
    def pass_rate(self) -> float | None:
        return rate(self.summary.dmarc_pass, self.summary.messages)

    @property
    def previous_pass_rate(self) -> float | None:
        return rate(self.previous.dmarc_pass, self.previous.messages) if self.previous else None

    @property
    def status(self) -> str:
        """The analysis library's status of the domain (the overview's word for it)."""
        return self.summary.status.status


@dataclass(frozen=True)
class FailureTally:
    """The DMARC failure reports of one reported domain arriving in the period."""

    domain: str
    reports: int
    sources: int  # source IPs they name
    new_sources: int  # of them, IPs no failure report before the period named for this domain


@dataclass(frozen=True)
class Digest:
    period: Period
    domains: tuple[DomainDigest, ...]
    generated_at: str
    tls: tuple[TlsDomainSummary, ...] = ()  # policy domains with SMTP TLS reports in the period
    failures: tuple[FailureTally, ...] = ()  # reported domains with failure reports in the period

    @property
    def empty(self) -> bool:
        return not self.domains

    @property
    def messages(self) -> int:
        return sum(d.summary.messages for d in self.domains)

    @property
    def dmarc_pass(self) -> int:
        return sum(d.summary.dmarc_pass for d in self.domains)


def rate(part: int, whole: int) -> float | None:
    return 100 * part / whole if whole else None


def build_digest(store: Store, period: Period, approved: Mapping[str, ApprovedSenders],
                 domains: Iterable[str] = (), now: datetime | None = None) -> Digest:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(ISO_FORMAT)
    current = summarise(store, domains, period.first, period.last, approved)
    previous = period.previous()
    result = []
    for summary in current:
        before = summarise(store, (summary.domain,), previous.first, previous.last, approved)
        result.append(_domain_digest(store, summary, before[0] if before else None, period, approved))
    named = list(domains)
    return Digest(period, tuple(result), stamp, tuple(summarise_tls(store, named, period.first, period.last)),
                  tuple(failure_tallies(store, period, named)))


def failure_tallies(store: Store, period: Period, domains: Iterable[str] = ()) -> list[FailureTally]:
    """Per reported domain (in name order; only those named, if any): the period's failure reports."""
    window = window_of(period.first, period.last)
    wanted = {normalise_domain(d) for d in domains}
    by_domain: dict[str, list[int]] = {}
    for c in FailureReports(store).source_counts(window.begin_ts, window.end_ts):
        if wanted and c.reported_domain not in wanted:
            continue
        sums = by_domain.setdefault(c.reported_domain, [0, 0, 0])
        sums[0] += c.reports
        sums[1] += 1
        sums[2] += 0 if c.seen_before else 1
    return [FailureTally(d, *sums) for d, sums in sorted(by_domain.items())]


def _domain_digest(store: Store, summary: DomainSummary, previous: DomainSummary | None, period: Period,
                   approved: Mapping[str, ApprovedSenders]) -> DomainDigest:
    domain = summary.domain
    senders = list_sources(store, domain, period.first, period.last, approved, view="sender")
    own = tuple(s for s in senders if s.dmarc_fail and (s.approved or s.klass == "misconfigured"))
    fresh = tuple(new_sources(store, domain, period, approved, view="sender"))
    return DomainDigest(summary, previous, fresh, own, _impostors(store, summary, period))


def _impostors(store: Store, summary: DomainSummary, period: Period) -> tuple[Impostor, ...]:
    """The summary's unauthorised sources, with what receivers did to their messages."""
    acted: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wanted = {s.ip for s in summary.unauthorised}
    for row in store.rollups.source_rows(summary.domain, window_of(period.first, period.last)):
        if row.ip in wanted:
            acted[row.ip][0] += row.quarantined
            acted[row.ip][1] += row.rejected
    return tuple(Impostor(s, *acted[s.ip or ""]) for s in summary.unauthorised)
