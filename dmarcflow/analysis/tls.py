"""SMTP TLS summaries: per policy domain, sessions by policy type and the failures, in plain words.

A report belongs to the UTC day its date range begins on, as aggregate reports do; only active
reports count (a conflicting second version is kept but not counted). Sums are Python integers, so
no number of reports can overflow them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from dmarcflow.analysis.summary import normalise_domain
from dmarcflow.analysis.window import check_order, window_of
from dmarcflow.models import TLS_POLICY_TYPES
from dmarcflow.store import Store
from dmarcflow.store.tls import TlsFailureRow, TlsPolicyRow, TlsReports
from dmarcflow.utc import iso

# What each RFC 8460 result type means, said of the receiving MX ({mx}) or the policy domain ({domain}).
_PHRASES = {
    "starttls-not-supported": "{mx} did not offer STARTTLS",
    "certificate-host-mismatch": "{mx} presented a certificate for another host name",
    "certificate-expired": "{mx} presented a certificate that expired",
    "certificate-not-trusted": "{mx} presented a certificate that is not trusted",
    "validation-failure": "{mx} failed certificate validation",
    "tlsa-invalid": "the TLSA record of {mx} is invalid",
    "dnssec-invalid": "the DNSSEC records for {mx} did not validate",
    "dane-required": "{mx} could not be reached with the DANE its domain requires",
    "sts-policy-fetch-error": "the MTA-STS policy of {domain} could not be fetched",
    "sts-policy-invalid": "the MTA-STS policy of {domain} is invalid",
    "sts-webpki-invalid": "the MTA-STS policy host of {domain} presented an invalid certificate",
}


@dataclass(frozen=True)
class PolicyTotals:
    type: str
    successful: int
    failed: int

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "successful": self.successful, "failed": self.failed,
                "success_rate": success_rate(self.successful, self.failed)}


@dataclass(frozen=True)
class FailureGroup:
    """Failed sessions of one result type at one MX from one sending IP, over all reports."""

    result_type: str
    sessions: int
    receiving_mx_hostname: str | None
    sending_mta_ip: str | None
    receiving_ips: tuple[str, ...]
    failure_reason_codes: tuple[str, ...]
    policy_types: tuple[str, ...]
    reporters: tuple[str, ...]
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "result_type": self.result_type, "sessions": self.sessions,
            "receiving_mx_hostname": self.receiving_mx_hostname, "sending_mta_ip": self.sending_mta_ip,
            "receiving_ips": list(self.receiving_ips), "failure_reason_codes": list(self.failure_reason_codes),
            "policy_types": list(self.policy_types), "reporters": list(self.reporters), "text": self.text,
        }


@dataclass(frozen=True)
class TlsDomainSummary:
    domain: str
    successful: int
    failed: int
    reports: int
    reporter_names: tuple[str, ...]
    begin_ts: int
    end_ts: int
    policies: tuple[PolicyTotals, ...]
    failures: tuple[FailureGroup, ...]

    @property
    def success_rate(self) -> float | None:
        return success_rate(self.successful, self.failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain, "successful": self.successful, "failed": self.failed,
            "sessions": self.successful + self.failed, "success_rate": self.success_rate,
            "reports": self.reports, "reporters": len(self.reporter_names), "reporter_names": list(self.reporter_names),
            "period": {"begin": iso(self.begin_ts), "end": iso(self.end_ts)},
            "policies": [p.as_dict() for p in self.policies],
            "failures": [f.as_dict() for f in self.failures],
        }


def success_rate(successful: int, failed: int) -> float | None:
    """Successful / all sessions, rounded to 6 places; None when there was no session."""
    total = successful + failed
    return round(successful / total, 6) if total else None


def summarise_tls(store: Store, domains: Iterable[str] = (), since: date | None = None,
                  until: date | None = None) -> list[TlsDomainSummary]:
    """One summary per policy domain with TLS reports beginning in the window (every such domain if none named).

    Named domains without a report in the window are left out: the caller says so.
    """
    check_order(since, until)
    window = window_of(since, until)
    repo = TlsReports(store)
    names = list(dict.fromkeys(normalise_domain(d) for d in domains)) or repo.domains(window.begin_ts, window.end_ts)
    policies: dict[str, list[TlsPolicyRow]] = defaultdict(list)
    for row in repo.policy_rows(names, window.begin_ts, window.end_ts):
        policies[row.policy_domain].append(row)
    failures: dict[str, list[TlsFailureRow]] = defaultdict(list)
    for frow in repo.failure_rows(names, window.begin_ts, window.end_ts):
        failures[frow.policy_domain].append(frow)
    return [_domain_summary(n, policies[n], failures[n]) for n in names if policies[n]]


def _domain_summary(domain: str, rows: Sequence[TlsPolicyRow], failures: Sequence[TlsFailureRow]) -> TlsDomainSummary:
    by_type: dict[str, list[int]] = {}
    for row in rows:
        sums = by_type.setdefault(row.policy_type, [0, 0])
        sums[0] += row.successful
        sums[1] += row.failed
    ordered = [t for t in TLS_POLICY_TYPES if t in by_type]
    return TlsDomainSummary(
        domain=domain,
        successful=sum(r.successful for r in rows),
        failed=sum(r.failed for r in rows),
        reports=len({r.report for r in rows}),
        reporter_names=tuple(sorted({r.org_name for r in rows})),
        begin_ts=min(r.begin_ts for r in rows),
        end_ts=max(r.end_ts for r in rows),
        policies=tuple(PolicyTotals(t, by_type[t][0], by_type[t][1]) for t in ordered),
        failures=tuple(_failure_groups(domain, failures)),
    )


def _failure_groups(domain: str, rows: Sequence[TlsFailureRow]) -> list[FailureGroup]:
    groups: dict[tuple[str, str | None, str | None], list[TlsFailureRow]] = defaultdict(list)
    for row in rows:
        groups[(row.result_type, row.receiving_mx_hostname, row.sending_mta_ip)].append(row)
    out = []
    for (result, mx, ip), members in groups.items():
        sessions = sum(m.failed_sessions for m in members)
        reporters = tuple(sorted({m.org_name for m in members}))
        receiving = tuple(sorted({m.receiving_ip for m in members if m.receiving_ip}))
        out.append(FailureGroup(
            result_type=result, sessions=sessions, receiving_mx_hostname=mx, sending_mta_ip=ip,
            receiving_ips=receiving,
            failure_reason_codes=tuple(sorted({m.failure_reason_code for m in members if m.failure_reason_code})),
            policy_types=tuple(t for t in TLS_POLICY_TYPES if any(m.policy_type == t for m in members)),
            reporters=reporters,
            text=describe(result, mx or (receiving[0] if receiving else None), domain, sessions, reporters),
        ))
    return sorted(out, key=lambda g: (-g.sessions, g.result_type, g.receiving_mx_hostname or "", g.sending_mta_ip or ""))


@dataclass(frozen=True)
class FailureTotal:
    """Failed sessions summed by one field of the failure groups (``value`` None: the field was not reported)."""

    value: str | None
    sessions: int
    involved: tuple[str, ...]  # the values of a second field among those groups, in name order


def failure_totals(groups: Sequence[FailureGroup], key: str, also: str) -> list[FailureTotal]:
    """Failed sessions by ``key`` (a FailureGroup field: result_type, receiving_mx_hostname, sending_mta_ip),
    biggest first, each with the values of ``also`` involved."""
    sessions: dict[str | None, int] = defaultdict(int)
    involved: dict[str | None, set[str]] = defaultdict(set)
    for g in groups:
        value = getattr(g, key)
        sessions[value] += g.sessions
        if (other := getattr(g, also)) is not None:
            involved[value].add(other)
    ordered = sorted(sessions, key=lambda k: (-sessions[k], k is None, k or ""))
    return [FailureTotal(k, sessions[k], tuple(sorted(involved[k]))) for k in ordered]


def describe(result_type: str, mx: str | None, domain: str, sessions: int, reporters: Sequence[str]) -> str:
    """E.g. ``mx1.example.com presented a certificate that expired (certificate-expired): 37 sessions from Google failed``."""
    template = _PHRASES.get(result_type, "{mx} returned a result type RFC 8460 does not list")
    phrase = template.format(mx=mx or "an MX host", domain=domain)
    if phrase.startswith("the "):
        phrase = "The" + phrase[3:]
    noun = "session" if sessions == 1 else "sessions"
    return f"{phrase} ({result_type}): {sessions} {noun} from {_names(reporters)} failed"


def _names(names: Sequence[str]) -> str:
    if not names:
        return "an unnamed reporter"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
