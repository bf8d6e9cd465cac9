"""DMARC failure reports for people: the latest failures, grouped by source IP, next to what the
aggregate reports say about the same IP in the same period.

The aggregate side comes from ``list_sources`` (the same classes and rules as ``senders``): for the
reported domain, or else its organisational domain (aggregate reports are per policy domain, which is
often the organisational one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from dmarcflow.analysis.sources import Source
from dmarcflow.analysis.summary import has_data, list_sources, normalise_domain
from dmarcflow.analysis.window import check_order, window_of
from dmarcflow.config import ApprovedSenders
from dmarcflow.normalise import organisational_domain
from dmarcflow.store import Store
from dmarcflow.store.failures import FailureReports, FailureRow
from dmarcflow.utc import iso


@dataclass(frozen=True)
class AggregateLink:
    """The class the aggregate reports give the same IP (for the policy domain ``domain``) in the period."""

    domain: str
    klass: str
    messages: int
    classes: Mapping[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "class": self.klass, "messages": self.messages, "classes": dict(self.classes)}

    @property
    def text(self) -> str:
        noun = "message" if self.messages == 1 else "messages"
        return f"also {self.klass} in aggregate reports: {self.messages} {noun}"


@dataclass(frozen=True)
class FailureSource:
    source_ip: str
    failures: int
    domains: tuple[str, ...]
    reporters: tuple[str, ...]
    first_ts: int
    last_ts: int
    aggregate: AggregateLink | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_ip": self.source_ip, "failures": self.failures, "domains": list(self.domains),
            "reporters": list(self.reporters), "first": iso(self.first_ts), "last": iso(self.last_ts),
            "aggregate": self.aggregate.as_dict() if self.aggregate else None,
        }


@dataclass(frozen=True)
class FailureListing:
    failures: tuple[FailureRow, ...]  # newest first
    sources: tuple[FailureSource, ...]  # most failures first
    links: Mapping[tuple[str, str], AggregateLink]  # (reported domain, IP) -> aggregate class

    def as_dict(self) -> dict[str, Any]:
        return {
            "failures": [failure_dict(f, self.links.get((f.reported_domain, f.source_ip))) for f in self.failures],
            "sources": [s.as_dict() for s in self.sources],
        }


def failure_dict(f: FailureRow, link: AggregateLink | None) -> dict[str, Any]:
    """A failure report as JSON: metadata and the original's headers (never a body)."""
    return {
        "id": f.id, "arrival_date": iso(f.arrival_ts), "source_ip": f.source_ip, "reported_domain": f.reported_domain,
        "auth_failure": list(f.auth_failure),
        "identity_alignment": list(f.identity_alignment) if f.identity_alignment is not None else None,
        "delivery_result": f.delivery_result, "reporter": f.reporter, "feedback_type": f.feedback_type,
        "authentication_results": f.authentication_results,
        "auth_results": [{"method": m, "result": r} for m, r in f.auth_results],
        "dkim_domain": f.dkim_domain, "dkim_selector": f.dkim_selector, "spf_domain": f.spf_domain,
        "original_envelope_id": f.original_envelope_id, "original_mail_from": f.original_mail_from,
        "original_rcpt_to": f.original_rcpt_to, "header_from": f.header_from, "header_to": f.header_to,
        "subject": f.subject, "message_id": f.message_id, "user_agent": f.user_agent,
        "reporting_mta": f.reporting_mta, "submitter": f.submitter, "incidents": f.incidents,
        "body_omitted": f.body_omitted, "sample_kept": f.sample_kept, "warnings": list(f.warnings),
        "original_headers": f.original_headers, "aggregate": link.as_dict() if link else None,
    }


def list_failures(
    store: Store,
    domain: str | None = None,
    since: date | None = None,
    until: date | None = None,
    approved: Mapping[str, ApprovedSenders] | None = None,
    *,
    limit: int = 0,
    offset: int = 0,
) -> FailureListing:
    """Failure reports arriving in the window (newest first, ``limit`` 0: all, the first ``offset`` left out),
    grouped by source IP."""
    check_order(since, until)
    window = window_of(since, until)
    name = normalise_domain(domain) if domain else None
    rows = FailureReports(store).reports(name, window.begin_ts, window.end_ts, limit, offset)
    links = _links(store, rows, since, until, approved or {})
    return FailureListing(tuple(rows), tuple(_sources(rows, links)), links)


def count_failures(store: Store, domain: str | None = None, since: date | None = None,
                   until: date | None = None) -> int:
    """How many failure reports ``list_failures`` lists without a limit (for paging)."""
    check_order(since, until)
    window = window_of(since, until)
    return FailureReports(store).count(normalise_domain(domain) if domain else None, window.begin_ts, window.end_ts)


def failure_detail(store: Store, pk: int, approved: Mapping[str, ApprovedSenders] | None = None) -> dict[str, Any] | None:
    """One stored failure report as ``failure_dict`` gives it, linked to the aggregate class of its IP on its
    arrival day (UTC); None when no report has this id. Never its body: the store keeps none by default, and
    a kept sample stays in the store."""
    row = FailureReports(store).get(pk)
    if row is None:
        return None
    day = datetime.fromtimestamp(row.arrival_ts, tz=UTC).date()
    links = _links(store, [row], day, day, approved or {})
    return failure_dict(row, links.get((row.reported_domain, row.source_ip)))


def _links(store: Store, rows: Sequence[FailureRow], since: date | None, until: date | None,
           approved: Mapping[str, ApprovedSenders]) -> dict[tuple[str, str], AggregateLink]:
    links: dict[tuple[str, str], AggregateLink] = {}
    for reported in sorted({r.reported_domain for r in rows}):
        policy_domain, sources = _aggregate_sources(store, reported, since, until, approved)
        for row in rows:
            source = sources.get(row.source_ip)
            if row.reported_domain == reported and source is not None:
                links[(reported, row.source_ip)] = AggregateLink(policy_domain, source.klass, source.messages,
                                                                 dict(source.classes))
    return links


def _aggregate_sources(store: Store, reported: str, since: date | None, until: date | None,
                       approved: Mapping[str, ApprovedSenders]) -> tuple[str, dict[str, Source]]:
    for candidate in dict.fromkeys((reported, organisational_domain(reported))):
        if has_data(store, candidate, since, until):
            found = list_sources(store, candidate, since, until, approved)
            return candidate, {s.ip: s for s in found if s.ip}
    return reported, {}


def _sources(rows: Sequence[FailureRow], links: Mapping[tuple[str, str], AggregateLink]) -> list[FailureSource]:
    by_ip: dict[str, list[FailureRow]] = defaultdict(list)
    for row in rows:
        by_ip[row.source_ip].append(row)
    out = []
    for ip, group in by_ip.items():
        linked = [links[(r.reported_domain, ip)] for r in group if (r.reported_domain, ip) in links]
        out.append(FailureSource(
            source_ip=ip, failures=len(group), domains=tuple(sorted({r.reported_domain for r in group})),
            reporters=tuple(sorted({r.reporter for r in group})), first_ts=min(r.arrival_ts for r in group),
            last_ts=max(r.arrival_ts for r in group), aggregate=max(linked, key=lambda link: link.messages) if linked else None,
        ))
    return sorted(out, key=lambda s: (-s.failures, -s.last_ts, s.source_ip))
