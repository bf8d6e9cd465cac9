"""Analysis over the store: per-domain summaries, sources and their classes, readiness.

Public API::

    summarise(store, domains, since, until, approved, *, view="ip", top=10) -> list[DomainSummary]
    list_sources(store, domain, since, until, approved, klass=None, view="ip") -> list[Source]
    parse_since(text, now=None) / parse_day(text, option) -> day numbers (see window.py)
"""

from dmarcflow.analysis.readiness import Readiness, Scenario
from dmarcflow.analysis.sources import VIEWS, Source
from dmarcflow.analysis.summary import DomainSummary, has_data, list_sources, summarise

__all__ = ["DomainSummary", "Readiness", "Scenario", "Source", "VIEWS", "has_data", "list_sources", "summarise"]
