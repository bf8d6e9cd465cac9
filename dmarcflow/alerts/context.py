"""What every rule reads: the store, the thresholds, the approved lists, the time, and cached summaries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from dmarcflow.analysis import DomainSummary, Source, list_sources, summarise
from dmarcflow.analysis.tls import TlsDomainSummary, summarise_tls
from dmarcflow.analysis.window import window_of
from dmarcflow.changes import Period, new_sources, period_ending
from dmarcflow.config import AlertsSettings, ApprovedSenders
from dmarcflow.store import Store
from dmarcflow.store.check_cache import CheckPair
from dmarcflow.store.failures import FailureReports, FailureSourceCount
from dmarcflow.store.reports import ReporterActivity


class RuleContext:
    """One evaluation: rules share its summaries, so a domain is summarised once per period and view."""

    def __init__(self, store: Store, settings: AlertsSettings, approved: Mapping[str, ApprovedSenders],
                 now: datetime) -> None:
        self.store = store
        self.settings = settings
        self.approved = approved
        self.now = now.astimezone(UTC)
        self.period = period_ending(self.now.date(), settings.period_days)
        self._summaries: dict[tuple[str, Period], DomainSummary | None] = {}
        self._sources: dict[tuple[str, str], list[Source]] = {}
        self._domains: list[str] | None = None

    @property
    def now_ts(self) -> int:
        return int(self.now.timestamp())

    def domains(self) -> list[str]:
        """Policy domains with reports in the current period."""
        if self._domains is None:
            found = summarise(self.store, (), self.period.first, self.period.last, self.approved, top=0)
            for summary in found:
                self._summaries[(summary.domain, self.period)] = summary
            self._domains = [s.domain for s in found]
        return self._domains

    def summary(self, domain: str, period: Period) -> DomainSummary | None:
        key = (domain, period)
        if key not in self._summaries:
            found = summarise(self.store, (domain,), period.first, period.last, self.approved, top=0)
            self._summaries[key] = found[0] if found else None
        return self._summaries[key]

    def sources(self, domain: str, view: str) -> list[Source]:
        """Every source of the domain in the current period."""
        key = (domain, view)
        if key not in self._sources:
            self._sources[key] = list_sources(self.store, domain, self.period.first, self.period.last,
                                              self.approved, view=view)
        return self._sources[key]

    def new_sources(self, domain: str, view: str) -> list[Source]:
        return new_sources(self.store, domain, self.period, self.approved, view)

    def reporter_activity(self) -> list[ReporterActivity]:
        return self.store.reports.reporter_activity(self.settings.period_days)

    def check_pairs(self) -> list[CheckPair]:
        """The two latest saved DNS checks of every domain checked at least twice."""
        return self.store.check_cache.pairs()

    def failure_sources(self) -> list[FailureSourceCount]:
        """Per reported domain and source IP: the failure reports arriving in the current period."""
        window = window_of(self.period.first, self.period.last)
        return FailureReports(self.store).source_counts(window.begin_ts, window.end_ts)

    def tls_summaries(self) -> list[TlsDomainSummary]:
        """Every policy domain's TLS summary for the current period (as ``tls summary --since --until``)."""
        return summarise_tls(self.store, (), self.period.first, self.period.last)
