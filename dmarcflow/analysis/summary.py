"""Per-domain summaries: totals, reports, sources, unauthorised senders, readiness."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from dmarcflow import utc
from dmarcflow.analysis.approved import ApprovedMatcher, matcher_for, validate_all
from dmarcflow.analysis.catalogue import Catalogue
from dmarcflow.analysis.ip_view import ip_view
from dmarcflow.analysis.overview import DomainStatus, domain_status, worst_first
from dmarcflow.analysis.readiness import Readiness, assess
from dmarcflow.analysis.sources import FAILING_CLASSES, VIEWS, Source, build_sources
from dmarcflow.analysis.window import Window, check_order, window_of
from dmarcflow.config import ApprovedSenders
from dmarcflow.cycles import collector_paused
from dmarcflow.models import (
    SOURCE_CLASSES,
    DomainResults,
    IpFacts,
    PolicyPublished,
    ReportFacts,
    SourceRow,
    StoredCheck,
    Totals,
)
from dmarcflow.store import Store
from dmarcflow.store.rollups import totals_of

ORDERS = ("name", "worst")


def iso(ts: int | None) -> str | None:
    return None if ts is None else utc.iso(ts)


@dataclass(frozen=True)
class DomainSummary:
    domain: str
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    dispositions: Mapping[str, int]
    classes: Mapping[str, int]
    reports: int
    reporters: int
    begin_ts: int | None
    end_ts: int | None
    policy: PolicyPublished | None
    source_count: int
    sources: tuple[Source, ...]  # the top sources, biggest first
    unauthorised: tuple[Source, ...]
    readiness: Readiness
    to_fix: tuple[Source, ...] = ()  # every sender (sender view) that fails and may be the domain's (never cut)
    dns_check: StoredCheck | None = None  # the latest `dmarcflow check`, when one has run

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def status(self) -> DomainStatus:
        return domain_status(self)

    def as_dict(self) -> dict[str, Any]:
        status = self.status
        return {
            "domain": self.domain, "messages": self.messages, "dmarc_pass": self.dmarc_pass,
            "dmarc_fail": self.dmarc_fail, "spf_aligned": self.spf_aligned, "dkim_aligned": self.dkim_aligned,
            "dispositions": dict(self.dispositions), "classes": dict(self.classes),
            "reports": self.reports, "reporters": self.reporters,
            "period": {"begin": iso(self.begin_ts), "end": iso(self.end_ts)},
            "policy": self.policy.as_dict() if self.policy else None,
            "source_count": self.source_count,
            "sources": [s.as_dict() for s in self.sources],
            "unauthorised": [s.as_dict() for s in self.unauthorised],
            "to_fix": [s.as_dict() for s in self.to_fix],
            "readiness": self.readiness.as_dict(),
            "status": status.status, "severity": status.severity,
            "at_risk_messages": status.at_risk, "impostor_messages": status.impostors,
            "dns_check": _check_dict(self.dns_check),
        }


def _check_dict(check: StoredCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {"checked_at": utc.iso(check.checked_at), "errors": [f.as_dict() for f in check.errors]}


class SummaryBackend(Protocol):
    """Where ``summarise_from`` reads: the store (``StoreBackend``) or the search index (``index.query.IndexBackend``).

    The caller picks it (``dmarcflow summary --backend``); both answer with the model's types, so the rules here
    build the same summaries from either.
    """

    def domains_with_data(self, window: Window) -> list[str]:
        """Policy domains with at least one active report beginning in the window."""

    def results(self, domain: str, window: Window) -> DomainResults | None:
        """The domain's query results in the window; None when it has no active report there."""

    def dns_check(self, domain: str) -> StoredCheck | None:
        """The domain's last `dmarcflow check`, where the backend keeps them (the store does, the index not)."""


@dataclass(frozen=True)
class StoreBackend:
    """The SQLite store as a ``SummaryBackend`` (its rollups, reports and IP facts); the store's DNS checks too."""

    store: Store

    def domains_with_data(self, window: Window) -> list[str]:
        return self.store.rollups.domains_with_data(window)

    def results(self, domain: str, window: Window) -> DomainResults | None:
        reports = self.store.rollups.report_facts(domain, window)
        if reports.reports == 0:
            return None
        rows = self.store.rollups.source_rows(domain, window)
        infos = self.store.ip_facts.facts_of(r.ip for r in rows)
        return DomainResults(reports, totals_of(rows), rows, infos)

    def dns_check(self, domain: str) -> StoredCheck | None:
        return self.store.checks.latest(domain)


def summarise(
    store: Store,
    domains: Iterable[str] = (),
    since: date | None = None,
    until: date | None = None,
    approved: Mapping[str, ApprovedSenders] | None = None,
    *,
    view: str = "ip",
    top: int = 10,
    order: str = "name",
) -> list[DomainSummary]:
    """One summary per policy domain with reports in the window (all such domains if none are named).

    Named domains without any report in the window are left out: the caller
    says so. ``top`` limits ``sources`` (0: all); ``unauthorised`` and ``to_fix`` are never cut.
    ``order``: "name" (name order, or the order named) or "worst" (``analysis.overview``'s order).
    The store's cached DNS checks are shown with each summary.
    """
    return summarise_from(StoreBackend(store), domains, since, until, approved, view=view, top=top, order=order)


def summarise_from(
    backend: SummaryBackend,
    domains: Iterable[str] = (),
    since: date | None = None,
    until: date | None = None,
    approved: Mapping[str, ApprovedSenders] | None = None,
    *,
    view: str = "ip",
    top: int = 10,
    order: str = "name",
    dns_checks: Callable[[str], StoredCheck | None] | None = None,
) -> list[DomainSummary]:
    """``summarise`` over any ``SummaryBackend`` (the caller picks it: the store, the search index).

    Each summary shows the domain's last DNS check as the backend has it (``dns_checks`` replaces that).
    """
    with collector_paused():
        return _summarise_from(backend, domains, since, until, approved or {}, view, top, order, dns_checks)


def _summarise_from(backend: SummaryBackend, domains: Iterable[str], since: date | None, until: date | None,
                    approved: Mapping[str, ApprovedSenders], view: str, top: int, order: str,
                    dns_checks: Callable[[str], StoredCheck | None] | None) -> list[DomainSummary]:
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    validate_all(approved)
    check_order(since, until)
    window = window_of(since, until)
    names = [normalise_domain(d) for d in domains] or backend.domains_with_data(window)
    catalogue = Catalogue.load()
    checks = dns_checks or backend.dns_check
    result = []
    for name in dict.fromkeys(names):
        found = backend.results(name, window)
        if found is not None:
            summary = assemble(name, found.reports, found.totals, found.rows, found.infos, approved,
                               view=view, top=top, catalogue=catalogue)
            result.append(replace(summary, dns_check=checks(name)))
    return worst_first(result) if order == "worst" else result


def assemble(
    domain: str,
    reports: ReportFacts,
    totals: Totals,
    rows: list[SourceRow],
    infos: Mapping[str, IpFacts],
    approved: Mapping[str, ApprovedSenders],
    *,
    view: str = "ip",
    top: int = 10,
    catalogue: Catalogue | None = None,
) -> DomainSummary:
    """A domain's summary from its query results; pure, so any backend that yields the rows can use it.

    ``catalogue``: the service catalogue (default: the one shipped in the package).
    """
    catalogue = catalogue or Catalogue.load()
    matcher = matcher_for(domain, approved)
    ips = ip_view(rows, infos, domain, reports.policy, matcher, catalogue, top if view == "ip" and top > 0 else 0)
    if view == "ip" and top > 0:  # every unauthorised source fails, so it is built
        count, shown, unauthorised = ips.count, ips.top, [s for s in ips.built if s.klass == "unauthorised"]
    else:
        every = build_sources(rows, infos, domain, reports.policy, matcher, view, catalogue)
        count, shown, unauthorised = len(every), tuple(every[:top] if top > 0 else every), [
            s for s in every if s.klass == "unauthorised"]
    classes = dict.fromkeys(SOURCE_CLASSES, 0)
    for r in rows:
        classes[r.klass] += r.messages
    return DomainSummary(
        domain=domain, messages=totals.messages, dmarc_pass=totals.dmarc_pass, spf_aligned=totals.spf_aligned,
        dkim_aligned=totals.dkim_aligned, dispositions=totals.dispositions, classes=classes,
        reports=reports.reports, reporters=reports.reporters, begin_ts=reports.begin_ts, end_ts=reports.end_ts,
        policy=reports.policy, source_count=count, sources=tuple(shown), unauthorised=tuple(unauthorised),
        readiness=assess(ips.built, reports.policy, domain, ips.quiet),
        to_fix=tuple(_to_fix(ips.built, infos, domain, reports.policy, matcher, catalogue)),
    )


def _to_fix(by_ip: Sequence[Source], infos: Mapping[str, IpFacts], domain: str, policy: PolicyPublished | None,
            matcher: ApprovedMatcher, catalogue: Catalogue) -> list[Source]:
    """The senders whose IPs fail and may be the domain's, grouped by the service recognised for them (else by
    sender name) and built from those IPs' rows only: what to change is a setting of the service, whatever
    number of IPs it sends from."""
    # Source.needs_fix, read from the fields: this runs over every source of the domain.
    failing = [s for s in by_ip if s.klass in FAILING_CLASSES
               and (s.approved_by is not None or (s.klass == "misconfigured" and s.not_ours_by is None))]
    rows = [r for s in failing for r in s.detail.rows]
    names = {s.ips[0]: s.service for s in failing if s.service}
    built = build_sources(rows, infos, domain, policy, matcher, "sender", catalogue, names)
    return [s for s in built if s.needs_fix]


def list_sources(
    store: Store,
    domain: str,
    since: date | None = None,
    until: date | None = None,
    approved: Mapping[str, ApprovedSenders] | None = None,
    klass: str | None = None,
    view: str = "ip",
) -> list[Source]:
    """Every source that sent as the domain in the window (optionally of one class), biggest first."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, not {view!r}")
    approved = approved or {}
    validate_all(approved)
    check_order(since, until)
    domain = normalise_domain(domain)
    window = window_of(since, until)
    with collector_paused():
        policy = store.rollups.report_facts(domain, window).policy
        rows = store.rollups.source_rows(domain, window)
        infos = store.ip_facts.facts_of(r.ip for r in rows)
        sources = build_sources(rows, infos, domain, policy, matcher_for(domain, approved), view, Catalogue.load())
        return [s for s in sources if klass is None or s.klass == klass]


def has_data(store: Store, domain: str, since: date | None = None, until: date | None = None) -> bool:
    return store.rollups.report_facts(normalise_domain(domain), window_of(since, until)).reports > 0


def normalise_domain(name: str) -> str:
    return name.strip().lower().rstrip(".")
