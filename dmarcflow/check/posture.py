"""One domain's DNS posture, linked to what its reports show: the DKIM selectors it signs with and the
sources whose DMARC result relies on SPF."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dmarcflow import utc
from dmarcflow.analysis import list_sources
from dmarcflow.analysis.window import window_of
from dmarcflow.check.codes import ordered
from dmarcflow.check.dkim import Selector, check_selector
from dmarcflow.check.dmarc import check_dmarc
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.spf import ReportedSource, check_spf
from dmarcflow.check.transport import check_mta_sts, check_tlsrpt, note_bimi
from dmarcflow.config import ApprovedSenders
from dmarcflow.models import Finding
from dmarcflow.normalise import organisational_domain
from dmarcflow.store import Store

# Bounds on what one check asks the DNS about (forged reports can name any number of selectors or IPs):
# the biggest by messages are checked, and the result says how many were left out.
MAX_SELECTORS = 100
MAX_SOURCES = 200


@dataclass(frozen=True)
class ReportLinks:
    """What the stored reports of the domain add to its check."""

    messages: int
    sources: tuple[ReportedSource, ...]
    selectors: tuple[Selector, ...]
    left_out: int = 0  # sources and selectors beyond the bounds, not checked

    def as_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "spf_sources": len(self.sources), "dkim_selectors": len(self.selectors),
                "left_out": self.left_out}


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    checked_at: int
    records: Mapping[str, Any]
    findings: tuple[Finding, ...]
    reports: ReportLinks | None = field(default=None)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def as_dict(self) -> dict[str, Any]:
        return {"domain": self.domain, "checked_at": utc.iso(self.checked_at), "records": dict(self.records),
                "reports": self.reports.as_dict() if self.reports else None,
                "findings": [f.as_dict() for f in self.findings]}


def check_domain(dns: DnsClient, domain: str, links: ReportLinks | None, now: int) -> DomainCheck:
    findings: list[Finding] = []
    records: dict[str, Any] = {}
    dmarc = check_dmarc(dns, domain)
    records["dmarc"] = dmarc.records
    findings += dmarc.findings
    records["spf"], found = check_spf(dns, domain, links.sources if links else ())
    findings += found
    records["dkim"] = []
    for sel in links.selectors if links else ():
        record, found = check_selector(dns, sel)
        records["dkim"].append(record)
        findings += found
    for key, check in (("mta_sts", check_mta_sts), ("tlsrpt", check_tlsrpt), ("bimi", note_bimi)):
        records[key], found = check(dns, domain)
        findings += found
    return DomainCheck(domain, now, records, tuple(ordered(findings)), links)


def report_links(store: Store, domain: str, since: date | None, until: date | None,
                 approved: Mapping[str, ApprovedSenders]) -> ReportLinks | None:
    """None when the store holds no report for the domain in the window."""
    sources = list_sources(store, domain, since, until, approved)
    if not sources:
        return None
    org = organisational_domain(domain)
    relying = [
        ReportedSource(s.ip or "", s.messages, _spf_domain(s.main_row.spf_domain if s.main_row else "", domain, org),
                       s.approved, s.service or s.sender)
        for s in sources
        if s.legitimate and s.klass != "forwarded" and s.dkim_aligned < s.messages
    ]
    legit = {s.ip for s in sources if s.legitimate and s.ip}
    window = window_of(since, until)
    keys = selectors(store, domain, org, window.begin_ts, window.end_ts, legit)
    biggest = sorted(keys, key=lambda k: -k.messages)[:MAX_SELECTORS]
    kept = tuple(k for k in keys if k in biggest)  # sources come biggest first already
    left_out = len(keys) - len(kept) + max(0, len(relying) - MAX_SOURCES)
    return ReportLinks(sum(s.messages for s in sources), tuple(relying[:MAX_SOURCES]), kept, left_out)


def _spf_domain(reported: str, domain: str, org: str) -> str:
    """The return-path domain whose SPF record the source needs: the reported one when it is the domain's."""
    if reported and (reported == org or reported.endswith("." + org)):
        return reported
    return domain


def selectors(store: Store, domain: str, org: str, begin_ts: int, end_ts: int, legit: set[str]) -> tuple[Selector, ...]:
    """The (signing domain, selector) pairs aligned with the domain that a key must exist for: those some
    receiver verified, or that a legitimate source used (an impostor's forged selector never had a key)."""
    found: dict[tuple[str, str], list[Any]] = {}
    parsed: dict[str, list[Any]] = {}
    for use in store.checks.dkim_uses(domain, begin_ts, end_ts):
        results = parsed.get(use.results_json)
        if results is None:
            results = parsed[use.results_json] = _results(use.results_json)
        for signer, selector, result in results:
            if organisational_domain(signer) != org:
                continue
            entry = found.setdefault((signer, selector), [0, False, False])
            entry[0] += use.messages
            entry[1] = entry[1] or result == "pass"
            entry[2] = entry[2] or use.ip in legit
    return tuple(Selector(d, s, n, passed) for (d, s), (n, passed, used) in sorted(found.items()) if passed or used)


def _results(text: str) -> list[tuple[str, str, str]]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    out = []
    for r in data if isinstance(data, list) else []:
        if isinstance(r, dict) and r.get("domain") and r.get("selector"):
            out.append((str(r["domain"]).lower().rstrip("."), str(r["selector"]).strip(), str(r.get("result") or "")))
    return out


def check_all(dns: DnsClient, domains: Sequence[str], store: Store | None, since: date | None, until: date | None,
              approved: Mapping[str, ApprovedSenders], now: int) -> list[DomainCheck]:
    results = []
    for domain in domains:
        links = report_links(store, domain, since, until, approved) if store else None
        results.append(check_domain(dns, domain, links, now))
    return results
