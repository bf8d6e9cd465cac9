"""Per-domain summaries: totals, reports, sources, unauthorised senders, readiness."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, Protocol

from dmarcflow import utc
from dmarcflow.analysis import queries
from dmarcflow.analysis.approved import ApprovedMatcher, matcher_for, validate_all
from dmarcflow.analysis.catalogue import Catalogue
from dmarcflow.analysis.overview import DomainStatus, domain_status, worst_first
from dmarcflow.analysis.queries import IpRow, PolicyFacts, ReportFacts, SourceRow, Totals
from dmarcflow.analysis.readiness import Readiness, assess
from dmarcflow.analysis.sources import VIEWS, Source, build_sources
from dmarcflow.analysis.window import Window, check_order, window_of
from dmarcflow.config import ApprovedSenders
from dmarcflow.models import SOURCE_CLASSES, StoredCheck
from dmarcflow.store import Store

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
    policy: PolicyFacts | None
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


@dataclass(frozen=True)
class DomainResults:
    """What a backend's queries found for one domain in the window: the input of ``assemble``."""

    reports: ReportFacts
    totals: Totals
    rows: list[SourceRow]
    infos: Mapping[str, IpRow]


class SummaryBackend(Protocol):
    """Where ``summarise`` reads from: the store by default, or another backend (the search index)."""

    def domains_with_data(self, window: Window) -> list[str]:
        """Policy domains with at least one active report beginning in the window."""

    def results(self, domain: str, window: Window) -> DomainResults | None:
        """The domain's query results in the window; None when it has no active report there."""


@dataclass(frozen=True)
class StoreBackend:
    """The SQLite store as a ``SummaryBackend`` (the rollup queries of ``queries.py``)."""

    conn: sqlite3.Connection

    def domains_with_data(self, window: Window) -> list[str]:
        return queries.domains_with_data(self.conn, window)

    def results(self, domain: str, window: Window) -> DomainResults | None:
        reports = queries.report_facts(self.conn, domain, window)
        if reports.reports == 0:
            return None
        rows = queries.source_rows(self.conn, domain, window)
        infos = queries.ip_rows(self.conn, (r.ip for r in rows))
        return DomainResults(reports, queries.totals_of(rows), rows, infos)


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
    return summarise_from(StoreBackend(store.conn), domains, since, until, approved, view=view, top=top, order=order,
                          dns_checks=store.checks.latest)


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

    ``dns_checks`` gives a domain's last DNS check (the store has them; the search index does not).
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, not {order!r}")
    approved = approved or {}
    validate_all(approved)
    check_order(since, until)
    window = window_of(since, until)
    names = [normalise_domain(d) for d in domains] or backend.domains_with_data(window)
    catalogue = Catalogue.load()
    result = []
    for name in dict.fromkeys(names):
        found = backend.results(name, window)
        if found is not None:
            summary = assemble(name, found.reports, found.totals, found.rows, found.infos, approved,
                               view=view, top=top, catalogue=catalogue)
            if dns_checks is not None:
                summary = replace(summary, dns_check=dns_checks(name))
            result.append(summary)
    return worst_first(result) if order == "worst" else result


def assemble(
    domain: str,
    reports: ReportFacts,
    totals: Totals,
    rows: list[SourceRow],
    infos: Mapping[str, IpRow],
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
    by_ip = build_sources(rows, infos, domain, reports.policy, matcher, "ip", catalogue)
    shown = by_ip if view == "ip" else build_sources(rows, infos, domain, reports.policy, matcher, view, catalogue)
    classes = dict.fromkeys(SOURCE_CLASSES, 0)
    for r in rows:
        classes[r.klass] += r.messages
    return DomainSummary(
        domain=domain, messages=totals.messages, dmarc_pass=totals.dmarc_pass, spf_aligned=totals.spf_aligned,
        dkim_aligned=totals.dkim_aligned, dispositions=totals.dispositions, classes=classes,
        reports=reports.reports, reporters=reports.reporters, begin_ts=reports.begin_ts, end_ts=reports.end_ts,
        policy=reports.policy, source_count=len(shown),
        sources=tuple(shown[:top] if top > 0 else shown),
        unauthorised=tuple(s for s in shown if s.klass == "unauthorised"),
        readiness=assess(by_ip, reports.policy, domain),
        to_fix=tuple(_to_fix(by_ip, infos, domain, reports.policy, matcher, catalogue)),
    )


def _to_fix(by_ip: list[Source], infos: Mapping[str, IpRow], domain: str, policy: PolicyFacts | None,
            matcher: ApprovedMatcher, catalogue: Catalogue) -> list[Source]:
    """The senders whose IPs fail and may be the domain's, grouped by the service recognised for them (else by
    sender name) and built from those IPs' rows only: what to change is a setting of the service, whatever
    number of IPs it sends from."""
    failing = [s for s in by_ip if s.needs_fix]
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
    conn = store.conn
    policy = queries.report_facts(conn, domain, window).policy
    rows = queries.source_rows(conn, domain, window)
    infos = queries.ip_rows(conn, (r.ip for r in rows))
    sources = build_sources(rows, infos, domain, policy, matcher_for(domain, approved), view, Catalogue.load())
    return [s for s in sources if klass is None or s.klass == klass]


def has_data(store: Store, domain: str, since: date | None = None, until: date | None = None) -> bool:
    return queries.report_facts(store.conn, normalise_domain(domain), window_of(since, until)).reports > 0


def normalise_domain(name: str) -> str:
    return name.strip().lower().rstrip(".")
