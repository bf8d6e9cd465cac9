"""Summaries answered from the index: ``dmarcflow summary --backend elasticsearch|opensearch|index``.

The SQLite analysis (``dmarcflow.analysis``) reads four facts per domain from the store: report
facts, totals, source rows and IP facts. Here the same four come from aggregations, in the model's
types (``dmarcflow.models``), gathered into a ``DomainResults`` by ``IndexBackend``, a
``SummaryBackend``: the CLI hands it to ``analysis.summarise_from``, whose rules build each
``DomainSummary``, so both backends print the same JSON. The verdict fields it groups by
(``auth_summary``, ``reasons_key``) were computed by ``dmarcflow.verdict`` when the documents were
made, as the rollup's were at ingest. Only active reports count, as in SQLite. Nothing here calls up
into the analysis.

Composite aggregations page through every bucket, so counts are exact (no ``terms`` top-N cut,
no approximate cardinality).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index.client import EngineError, SearchClient
from dmarcflow.index.mapping import index_pattern
from dmarcflow.models import (
    DomainResults,
    IpFacts,
    PolicyPublished,
    ReportFacts,
    SourceRow,
    StoredCheck,
    Totals,
    Window,
)

PAGE = 1000
DOMAIN = "dmarc.policy_published.domain"
# Source-row dimensions, in SourceRow order (after ip and before messages).
_ROW_KEYS = (
    ("ip", "source.ip"), ("klass", "dmarc.class"), ("header_from", "dmarc.identifiers.header_from"),
    ("dmarc_pass", "dmarc.pass"), ("dkim_aligned", "dmarc.aligned.dkim"), ("spf_aligned", "dmarc.aligned.spf"),
    ("dkim_domain", "dmarc.aligned.dkim_domain"), ("spf_domain", "dmarc.aligned.spf_domain"),
    ("dkim_result", "dmarc.auth_summary.dkim"), ("spf_result", "dmarc.auth_summary.spf"),
    ("reasons", "dmarc.policy_evaluated.reasons_key"),
)
_BOOL_KEYS = {"dmarc_pass", "dkim_aligned", "spf_aligned"}
_IP_FIELDS = ["source.domain", "source.registered_domain", "source.geo.country_iso_code", "source.as.number",
              "source.as.organization.name", "dmarc.sender", "dmarc.sender_type"]


class IndexQuery:
    """Read-only aggregations over one index prefix."""

    def __init__(self, client: SearchClient, settings: ElasticsearchSettings) -> None:
        self.client = client
        self.index = index_pattern(settings.index_prefix)

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.search(self.index, {"size": 0, "track_total_hits": True, **body})
        except EngineError as exc:
            raise IndexingError(f"cannot query {self.index} on {self.client.url}: {exc.description}") from None

    def composite(self, sources: list[dict[str, Any]], query: dict[str, Any],
                  sub: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every bucket of a composite aggregation, page after page."""
        after: dict[str, Any] | None = None
        while True:
            agg: dict[str, Any] = {"size": PAGE, "sources": sources}
            if after is not None:
                agg["after"] = after
            body = {"query": query, "aggs": {"c": {"composite": agg, **({"aggs": sub} if sub else {})}}}
            result = self.search(body).get("aggregations", {}).get("c")
            if result is None:  # no index matches the pattern yet
                return
            yield from result["buckets"]
            after = result.get("after_key")
            if not result["buckets"] or after is None:
                return


def scope(domain: str | None, window: Window) -> dict[str, Any]:
    """Active reports of the domain whose interval begins in the window (the rollup's day rule)."""
    filters: list[dict[str, Any]] = [
        {"term": {"dmarc.report.status": "active"}},
        {"range": {"@timestamp": {"gte": window.begin_ts, "lt": window.end_ts, "format": "epoch_second"}}},
    ]
    if domain is not None:
        filters.append({"term": {DOMAIN: domain}})
    return {"bool": {"filter": filters}}


def _terms(name: str, field: str, missing: bool = False) -> dict[str, Any]:
    return {name: {"terms": {"field": field, **({"missing_bucket": True} if missing else {})}}}


def domains_with_data(q: IndexQuery, window: Window) -> list[str]:
    return sorted(b["key"]["d"] for b in q.composite([_terms("d", DOMAIN)], scope(None, window)))


def report_facts(q: IndexQuery, domain: str, window: Window) -> ReportFacts:
    query = scope(domain, window)
    pairs = q.composite([_terms("u", "dmarc.report.uid"), _terms("o", "dmarc.report.org_name")], query)
    reports, reporters = set(), set()
    for bucket in pairs:
        reports.add(bucket["key"]["u"])
        reporters.add(bucket["key"]["o"])
    if not reports:
        return ReportFacts(0, 0, None, None, None)
    body = {"query": query, "aggs": {
        "begin": {"min": {"field": "@timestamp"}}, "end": {"max": {"field": "event.end"}},
        "latest": {"top_hits": {"size": 1, "_source": ["dmarc.policy_published", "dmarc.report.defaults_applied"],
                                "sort": [{"@timestamp": "desc"}, {"event.sequence": "desc"}]}},
    }}
    aggs = q.search(body)["aggregations"]
    latest = aggs["latest"]["hits"]["hits"][0]["_source"]["dmarc"]
    policy = PolicyPublished.published(domain, latest["policy_published"],
                                       latest.get("report", {}).get("defaults_applied", []))
    return ReportFacts(len(reports), len(reporters), int(aggs["begin"]["value"]) // 1000,
                       int(aggs["end"]["value"]) // 1000, policy)


def domain_totals(q: IndexQuery, domain: str, window: Window) -> Totals:
    count = {"sum": {"field": "dmarc.count"}}

    def where(field: str) -> dict[str, Any]:
        return {"filter": {"term": {field: True}}, "aggs": {"m": count}}

    body = {"query": scope(domain, window), "aggs": {
        "messages": count, "pass": where("dmarc.pass"), "spf": where("dmarc.aligned.spf"),
        "dkim": where("dmarc.aligned.dkim"),
        "dispositions": {"terms": {"field": "dmarc.policy_evaluated.disposition", "size": 100}, "aggs": {"m": count}},
    }}
    aggs = q.search(body)["aggregations"]
    dispositions = {"none": 0, "quarantine": 0, "reject": 0}
    for bucket in aggs["dispositions"]["buckets"]:
        dispositions[bucket["key"]] = int(bucket["m"]["value"])
    return Totals(int(aggs["messages"]["value"]), int(aggs["pass"]["m"]["value"]), int(aggs["spf"]["m"]["value"]),
                  int(aggs["dkim"]["m"]["value"]), dispositions)


def source_rows(q: IndexQuery, domain: str, window: Window) -> list[SourceRow]:
    sources = [_terms(name, field, missing=name != "ip") for name, field in _ROW_KEYS]
    count = {"sum": {"field": "dmarc.count"}}

    def disposition(value: str) -> dict[str, Any]:
        return {"filter": {"term": {"dmarc.policy_evaluated.disposition": value}}, "aggs": {"m": count}}

    # Messages per receiver disposition too, as the SQLite rows carry them (the readiness advice says what
    # receivers already do to impostors).
    sub = {"m": count, "q": disposition("quarantine"), "r": disposition("reject")}
    buckets = q.composite(sources, scope(domain, window), sub)
    return [_source_row(b) for b in buckets]


def _source_row(bucket: dict[str, Any]) -> SourceRow:
    key = bucket["key"]
    values = {name: _key_value(name, key[name]) for name, _ in _ROW_KEYS}
    return SourceRow(**values, messages=int(bucket["m"]["value"]), quarantined=int(bucket["q"]["m"]["value"]),
                     rejected=int(bucket["r"]["m"]["value"]))


def _key_value(name: str, value: Any) -> Any:
    if name in _BOOL_KEYS:
        return value in (True, 1, "true")
    return "" if value is None else value


def ip_rows(q: IndexQuery, domain: str, window: Window) -> dict[str, IpFacts]:
    sub = {"f": {"top_hits": {"size": 1, "_source": _IP_FIELDS, "sort": [{"event.sequence": "desc"}]}}}
    out = {}
    for bucket in q.composite([_terms("ip", "source.ip")], scope(domain, window), sub):
        src = bucket["f"]["hits"]["hits"][0]["_source"]
        source, dmarc = src.get("source", {}), src.get("dmarc", {})
        asys = source.get("as", {})
        out[bucket["key"]["ip"]] = IpFacts(
            ip=bucket["key"]["ip"], reverse_dns=source.get("domain"), base_domain=source.get("registered_domain"),
            country=source.get("geo", {}).get("country_iso_code"), asn=asys.get("number"),
            as_name=asys.get("organization", {}).get("name"), sender=dmarc.get("sender"),
            sender_type=dmarc.get("sender_type"),
        )
    return out


@dataclass(frozen=True)
class IndexBackend:
    """The index as a ``SummaryBackend``: the four query results in the shapes the SQLite queries give."""

    q: IndexQuery

    def domains_with_data(self, window: Window) -> list[str]:
        return domains_with_data(self.q, window)

    def results(self, domain: str, window: Window) -> DomainResults | None:
        reports = report_facts(self.q, domain, window)
        if reports.reports == 0:
            return None
        return DomainResults(reports, domain_totals(self.q, domain, window), source_rows(self.q, domain, window),
                             ip_rows(self.q, domain, window))

    def dns_check(self, domain: str) -> StoredCheck | None:
        return None


def __getattr__(name: str) -> Any:
    # summarise_from_index lived here in 0.1; it now composes analysis and index from outside both.
    if name == "summarise_from_index":
        from dmarcflow.index.elastic import summarise_from_index

        return summarise_from_index
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
