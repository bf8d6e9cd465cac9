"""The normalised data model: frozen dataclasses that flow through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

SOURCE_CLASSES = ("authorised", "forwarded", "misconfigured", "unauthorised")


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
    """The latest `dmarcflow check` of a domain, as kept in the store."""

    domain: str
    checked_at: int  # epoch seconds, UTC
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")
