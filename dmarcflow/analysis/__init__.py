"""Analysis over the store: per-domain summaries, sources and their classes, readiness.

Public API::

    summarise(store, domains, since, until, approved, *, view="ip", top=10) -> list[DomainSummary]
    list_sources(store, domain, since, until, approved, klass=None, view="ip") -> list[Source]
    parse_since(text, now=None) / parse_day(text, option) -> day numbers (see window.py)

For another backend (the search index answers ``summary`` too)::

    summarise_from(backend, ...) with a SummaryBackend (the caller picks it; StoreBackend is the store's):
        .domains_with_data(window) -> list[str] and
        .results(domain, window) -> DomainResults | None (the four query results, or no report)
    assemble(domain, reports, totals, rows, infos, approved, *, view, top, catalogue=None) -> DomainSummary
    PolicyPublished.published(domain, tags, defaulted) -> the policy as published (tags keyed by POLICY_FIELDS)

The data types (SourceRow, IpFacts, ReportFacts, Totals, DomainResults, Window) are the model's
(``dmarcflow.models``); the verdict rules both backends share are ``dmarcflow.verdict``'s.

The overview (CLI, web UI, digests): which domain is worst, and its status in a few words::

    overview(summaries) -> list[DomainStatus], worst first
    summarise(..., order="worst") -> the summaries in that order

The service catalogue: ``Catalogue.load()`` (package data), ``.recognise(Clues(...))`` -> Service | None.
"""

from dmarcflow.analysis.catalogue import Catalogue, Clues, Service
from dmarcflow.analysis.overview import DomainStatus, overview
from dmarcflow.analysis.readiness import Readiness, Scenario
from dmarcflow.analysis.sources import VIEWS, Source
from dmarcflow.analysis.summary import (
    DomainSummary,
    StoreBackend,
    SummaryBackend,
    assemble,
    has_data,
    list_sources,
    summarise,
    summarise_from,
)
from dmarcflow.models import DomainResults, IpFacts, PolicyPublished, ReportFacts, SourceRow, Totals, Window
from dmarcflow.store.rollups import POLICY_FIELDS, IpRow, PolicyFacts, policy_facts

__all__ = [
    "POLICY_FIELDS", "VIEWS", "Catalogue", "Clues", "DomainResults", "DomainStatus", "DomainSummary",
    "IpFacts", "IpRow", "PolicyFacts", "PolicyPublished", "Readiness", "ReportFacts", "Scenario", "Service",
    "Source", "SourceRow", "StoreBackend", "SummaryBackend", "Totals", "Window", "assemble", "has_data",
    "list_sources", "overview", "policy_facts", "summarise", "summarise_from",
]
