"""The data model: one frozen type per concept, shared by every layer.

A record is born in ``parse`` as a ``Record`` (with its ``Report``: metadata and ``PolicyPublished``),
is stored as a row of ``records`` and summed into the ``daily_sources`` rollup, and comes back out of
the rollup as ``SourceRow``s; ``IpFacts`` are what enrichment learns about its source IP. A summary
backend (the store, the search index) answers a ``Window`` with ``ReportFacts``, ``Totals``,
``SourceRow``s and ``IpFacts``: the ``DomainResults`` that ``dmarcflow.analysis`` turns into summaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

from dmarcflow.utc import iso

SOURCE_CLASSES = ("authorised", "forwarded", "misconfigured", "unauthorised")
_LAST_DAY = 2**32 // 86400  # the store keeps 32-bit epochs


@dataclass(frozen=True, slots=True)
class ReportMetadata:
    org_name: str
    email: str | None
    extra_contact_info: str | None
    report_id: str
    begin: datetime
    end: datetime
    errors: tuple[str, ...] = ()
    generator: str | None = None


@dataclass(frozen=True, slots=True)
class PolicyPublished:
    """A domain's published DMARC policy as a report states it.

    A parsed report carries the RFC default for a tag it left out (and names the tag in
    ``Report.defaults_applied``); a summary shows the policy as published, with ``sp`` and ``np``
    None when they were only defaulted (``published``).
    """

    domain: str
    adkim: str = "r"
    aspf: str = "r"
    p: str = "none"
    sp: str | None = None
    np: str | None = None
    pct: int | None = None
    fo: str | None = None
    testing: str | None = None
    discovery_method: str | None = None

    # The tags a summary shows, named as both the reports columns and the index's policy_published keys.
    SUMMARY_FIELDS: ClassVar[tuple[str, ...]] = ("p", "sp", "np", "pct", "adkim", "aspf", "testing")

    @classmethod
    def published(cls, domain: str, tags: Mapping[str, Any], defaulted: Iterable[str]) -> PolicyPublished:
        """The policy a stored report published, from its tags and the tags the parser defaulted.

        The one rule every summary backend applies: a defaulted sp/np was not published (None).
        """
        omitted = set(defaulted)
        testing = tags.get("testing")
        return cls(
            domain=domain, adkim=tags.get("adkim") or "r", aspf=tags.get("aspf") or "r", p=tags.get("p") or "none",
            sp=None if "sp" in omitted else tags.get("sp"), np=None if "np" in omitted else tags.get("np"),
            pct=tags.get("pct"), fo=tags.get("fo"),
            testing=testing.strip().lower() if isinstance(testing, str) and testing.strip() else None,
            discovery_method=tags.get("discovery_method"),
        )

    def as_dict(self) -> dict[str, Any]:
        """The tags a summary shows (``SUMMARY_FIELDS``)."""
        return {"p": self.p, "sp": self.sp, "np": self.np, "pct": self.pct, "adkim": self.adkim, "aspf": self.aspf,
                "testing": self.testing}


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report says before its records: metadata and policy."""

    metadata: ReportMetadata
    policy: PolicyPublished
    schema: str  # "rfc7489", "draft" or "rfc9990"
    version: str | None
    namespace: str | None
    # Names of optional fields that were absent and given the RFC default.
    defaults_applied: tuple[str, ...] = ()

    @property
    def identity(self) -> tuple[str, str, str, int, int]:
        m = self.metadata
        return (
            m.org_name,
            m.report_id,
            self.policy.domain,
            int(m.begin.timestamp()),
            int(m.end.timestamp()),
        )


@dataclass(frozen=True, slots=True)
class OverrideReason:
    type: str
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class DkimResult:
    domain: str
    selector: str | None
    result: str
    human_result: str | None = None


@dataclass(frozen=True, slots=True)
class SpfResult:
    domain: str
    scope: str
    result: str
    human_result: str | None = None


@dataclass(frozen=True, slots=True)
class Alignment:
    """Our own alignment verdict, computed from auth_results and the policy."""

    dkim: bool
    spf: bool
    dkim_domain: str | None  # the DKIM domain that passed and aligned, else the first that passed
    spf_domain: str | None


@dataclass(frozen=True, slots=True)
class Record:
    source_ip: str
    count: int
    disposition: str
    dkim_evaluated: str
    spf_evaluated: str
    header_from: str
    envelope_from: str | None = None
    envelope_to: str | None = None
    reasons: tuple[OverrideReason, ...] = ()
    dkim: tuple[DkimResult, ...] = ()
    spf: tuple[SpfResult, ...] = ()
    alignment: Alignment = field(default_factory=lambda: Alignment(False, False, None, None))
    source_class: str = "unauthorised"

    @property
    def dmarc_pass(self) -> bool:
        return self.dkim_evaluated == "pass" or self.spf_evaluated == "pass"


@dataclass(frozen=True, slots=True)
class IpFacts:
    """What enrichment learns about a source IP, and what the store and the index keep of it.

    ``sender`` is the name it is shown under: the sending service, else the reverse-DNS base domain, the
    AS name or the IP itself (None only when a backend has no facts for the IP).
    """

    ip: str
    reverse_dns: str | None = None
    base_domain: str | None = None
    country: str | None = None
    asn: int | None = None
    as_name: str | None = None
    as_domain: str | None = None
    sender: str | None = None
    sender_type: str | None = None
    rdns_checked: bool = False  # whether reverse DNS was asked (offline runs leave it for later)


@dataclass(frozen=True, slots=True)
class Window:
    """Whole UTC days ``first_day..last_day`` (days since 1970-01-01), both included.

    A report belongs to the UTC day its interval begins on (``daily_sources.day`` = begin // 86400),
    and counts in a window when its begin falls in it.
    """

    first_day: int = 0
    last_day: int = _LAST_DAY

    @property
    def begin_ts(self) -> int:
        return self.first_day * 86400

    @property
    def end_ts(self) -> int:
        """Exclusive: the first second after the window."""
        return (self.last_day + 1) * 86400


class SourceRow(NamedTuple):
    """Messages of one IP with one verdict in a window (the rollup summed over days and dispositions).

    A NamedTuple rather than a dataclass: a summary builds tens of thousands of them.
    """

    ip: str
    klass: str
    header_from: str
    dmarc_pass: int  # 1 or 0, as SQLite stores booleans
    dkim_aligned: int
    spf_aligned: int
    dkim_domain: str
    spf_domain: str
    dkim_result: str  # the auth result shown (verdict.shown_result)
    spf_result: str
    reasons: str  # the reasons key (verdict.reasons_key)
    messages: int
    quarantined: int = 0  # messages with disposition quarantine / reject
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class ReportFacts:
    """The active reports of a domain in a window: how many, from how many reporters, and the latest policy."""

    reports: int
    reporters: int
    begin_ts: int | None
    end_ts: int | None
    policy: PolicyPublished | None


@dataclass(frozen=True, slots=True)
class Totals:
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    dispositions: dict[str, int]


@dataclass(frozen=True, slots=True)
class DomainResults:
    """What a summary backend found for one domain in a window: the input of ``analysis.assemble``."""

    reports: ReportFacts
    totals: Totals
    rows: list[SourceRow]
    infos: Mapping[str, IpFacts]


ALERT_SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Alert:
    """A condition one alert rule found in the store. ``key`` is stable: the same condition, the same key."""

    rule: str
    domain: str
    key: str
    severity: str  # one of ALERT_SEVERITIES
    message: str
    fix: str | None = None
    details: tuple[tuple[str, object], ...] = ()  # rule-specific figures, in a fixed order

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "domain": self.domain, "key": self.key, "severity": self.severity,
                "message": self.message, "fix": self.fix, "details": dict(self.details)}


@dataclass(frozen=True)
class RaisedAlert:
    """One episode of an alert as the store keeps it: raised once, open until its condition clears."""

    id: int
    alert: Alert
    first_seen: str  # ISO 8601 UTC
    last_seen: str
    cleared_at: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {**self.alert.as_dict(), "id": self.id, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "cleared_at": self.cleared_at}


FINDING_SEVERITIES = ("error", "warning", "info")
CHECK_RECORDS = ("dmarc", "spf", "dkim", "mta_sts", "tlsrpt", "bimi")  # the record types a check saves, in its order


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of `dmarcflow check`: a stable code, its severity, and what to do, in plain words."""

    code: str
    severity: str  # error | warning | info
    message: str
    fix: str
    name: str | None = None  # the DNS name concerned
    details: tuple[tuple[str, object], ...] = ()  # extra machine-readable facts (ip, messages, lookups, ...)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix,
                "name": self.name, **dict(self.details)}


@dataclass(frozen=True, slots=True)
class StoredCheck:
    """A `dmarcflow check` of a domain as kept in the store: what the command printed, read back."""

    domain: str
    checked_at: int  # epoch seconds, UTC
    findings: tuple[Finding, ...]
    records: Mapping[str, Any] = field(default_factory=dict)  # as `check --format json` prints them
    reports: Mapping[str, Any] | None = None  # what the stored reports added to the check, or None

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def as_dict(self) -> dict[str, Any]:
        """The domain's object of `dmarcflow check --format json`, as the check that saved it printed it."""
        return {"domain": self.domain, "checked_at": iso(self.checked_at), "records": dict(self.records),
                "reports": dict(self.reports) if self.reports is not None else None,
                "findings": [f.as_dict() for f in self.findings]}


# --- SMTP TLS reports (RFC 8460) -------------------------------------------------------------------

TLS_POLICY_TYPES = ("sts", "tlsa", "no-policy-found")


@dataclass(frozen=True, slots=True)
class TlsFailureDetail:
    """One ``failure-details`` entry of a policy: sessions that failed the same way."""

    result_type: str
    failed_sessions: int
    sending_mta_ip: str | None = None
    receiving_mx_hostname: str | None = None
    receiving_mx_helo: str | None = None
    receiving_ip: str | None = None
    failure_reason_code: str | None = None
    additional_information: str | None = None


@dataclass(frozen=True, slots=True)
class TlsPolicy:
    """One ``policies`` entry: the policy the sender applied to a domain, and its session counts."""

    policy_type: str  # one of TLS_POLICY_TYPES
    policy_domain: str
    successful: int
    failed: int
    policy_strings: tuple[str, ...] = ()
    mx_hosts: tuple[str, ...] = ()
    failures: tuple[TlsFailureDetail, ...] = ()


@dataclass(frozen=True, slots=True)
class TlsReport:
    """A whole SMTP TLS report, normalised: UTC times, lowercased names, RFC field names."""

    org_name: str
    report_id: str
    begin: datetime
    end: datetime
    contact_info: str | None
    policies: tuple[TlsPolicy, ...]
    report_domain: str | None = None  # the mail's TLS-Report-Domain header, when it came by mail
    submitter: str | None = None  # the mail's TLS-Report-Submitter header
    warnings: tuple[str, ...] = ()  # codes of the tolerated quirks (dmarcflow.kinds.tls.WARNINGS)

    @property
    def identity(self) -> tuple[str, str]:
        return (self.org_name, self.report_id)

    @property
    def successful(self) -> int:
        return sum(p.successful for p in self.policies)

    @property
    def failed(self) -> int:
        return sum(p.failed for p in self.policies)


# --- DMARC failure reports (RFC 6591 ARF, RFC 9991) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class FailureReport:
    """The metadata of one failure report and the headers of the message it is about (never its body)."""

    feedback_type: str
    arrival: datetime
    source_ip: str
    reported_domain: str
    reporter: str  # the report mail's From domain, else Reporting-MTA, else User-Agent
    auth_failure: tuple[str, ...] = ()
    identity_alignment: tuple[str, ...] | None = None  # None: the field was absent (pre-RFC 9991)
    delivery_result: str | None = None
    authentication_results: str | None = None
    auth_results: tuple[tuple[str, str], ...] = ()  # (method, result) read from Authentication-Results
    dkim_domain: str | None = None
    dkim_selector: str | None = None
    dkim_identity: str | None = None
    spf_domain: str | None = None
    original_envelope_id: str | None = None
    original_mail_from: str | None = None
    original_rcpt_to: str | None = None
    header_from: str | None = None
    header_to: str | None = None
    subject: str | None = None
    message_id: str | None = None
    user_agent: str | None = None
    reporting_mta: str | None = None
    submitter: str | None = None  # the From address of the report mail
    mail_date: datetime | None = None  # the report mail's Date (what stands in for a missing Arrival-Date)
    incidents: int | None = None
    original_headers: str = ""  # the original message's header block, unfolded, one field per line
    feedback_fields: str = ""  # the machine-readable part as read (canonicalised DKIM copies left out)
    body_omitted: bool = False  # the report carried the original body, which was not kept
    warnings: tuple[str, ...] = ()  # codes of the tolerated quirks (dmarcflow.kinds.failure.WARNINGS)
