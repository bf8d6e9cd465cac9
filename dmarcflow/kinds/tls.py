"""SMTP TLS reports (RFC 8460): JSON bytes -> ``TlsReport``, normalised and checked.

RFC 8460's field names are read (``mx-host``, ``additional-information``, ``failure-reason-code``...).
A short list of what real reporters send instead is read too, each noted as a warning code on the
report (``WARNINGS``), never silently. Anything else that does not fit is a ``ParseError`` naming the
field: a report is never repaired into different numbers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from dmarcflow.errors import WARNINGS as ALL_WARNINGS
from dmarcflow.errors import NotAReport, ParseError
from dmarcflow.kinds.json_input import HugeNumber, JsonLimits, decode
from dmarcflow.models import TLS_POLICY_TYPES, TlsFailureDetail, TlsPolicy, TlsReport

# Real reports are a few kilobytes (a large sender's reach a few hundred); these caps keep a forged
# one from costing more than about 100 MB of memory to refuse.
LIMITS = JsonLimits(max_bytes=8 << 20, max_containers=100_000)
MAX_COUNT = 2**63 - 1
_EPOCH_END = 2**32  # the same 32-bit bound as aggregate reports

# The quirks this kind tolerates (their meanings are in dmarcflow.errors.WARNINGS).
WARNINGS = {code: ALL_WARNINGS[code] for code in (
    "missing_sending_mta_ip", "null_contact_info", "missing_policy_domain", "draft_field_name", "naive_datetime",
    "blank_field", "empty_organization_name", "invalid_bytes_replaced",
)}

_REPORT_KEYS = ("organization-name", "report-id", "date-range", "policies")
# Draft names some reporters and tools still use, read only when the RFC name is absent.
_DRAFT_NAMES = {"mx-host": "mx-host-pattern", "additional-information": "additional-info-uri"}
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*([Zz]|[+-]\d{2}:?\d{2})?"
)
_HOSTNAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def looks_like_tls(head: bytes) -> bool:
    """Whether these first bytes open a JSON object (the only JSON report kind is RFC 8460's)."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_tls(data: bytes, *, report_domain: str | None = None, submitter: str | None = None) -> TlsReport:
    """Parse one report; ``report_domain``/``submitter`` are the mail's TLS-Report-* headers, if any."""
    decoded = decode(data, LIMITS, "the SMTP TLS report")
    reader = _Reader(list(decoded.warnings))
    top = reader.obj(decoded.value, "the report")
    if not any(key in top for key in _REPORT_KEYS):
        raise NotAReport("a JSON document without any field of an SMTP TLS report (RFC 8460)")
    org = reader.text(top, "organization-name", "the report", required=False)
    if not org:
        if not submitter:
            raise ParseError("missing_field", "organization-name is missing or empty")
        org = submitter.strip()
        reader.warn("empty_organization_name")
    report_id = reader.text(top, "report-id", "the report")
    assert report_id is not None  # required=True
    begin, end = _date_range(reader, top)
    contact = reader.text(top, "contact-info", "the report", required=False, nullable=True)
    if contact is None:
        reader.warn("null_contact_info")
    domain_hint = _header_domain(report_domain)
    policies = _policies(reader, top, domain_hint)
    _check_total(policies)
    return TlsReport(
        org_name=org, report_id=report_id, begin=begin, end=end, contact_info=contact, policies=policies,
        report_domain=domain_hint, submitter=submitter.strip() if submitter else None,
        warnings=tuple(dict.fromkeys(reader.warnings)),
    )


def content_hash(report: TlsReport) -> str:
    """What tells a duplicate from a conflict: the normalised report content (not mail headers or warnings)."""
    body = {
        "org": report.org_name, "id": report.report_id, "begin": int(report.begin.timestamp()),
        "end": int(report.end.timestamp()), "contact": report.contact_info,
        "policies": [asdict(p) for p in report.policies],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Reader:
    """Typed access to the decoded JSON, collecting warnings; errors name the field."""

    def __init__(self, warnings: list[str]) -> None:
        self.warnings = warnings

    def warn(self, code: str) -> None:
        self.warnings.append(code)

    def obj(self, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ParseError("invalid_value" if value is not None else "missing_field", f"{where} is not a JSON object")
        return value

    def field(self, obj: dict[str, Any], name: str) -> Any:
        """The field by its RFC name, else by its draft name (noted)."""
        if name in obj:
            return obj[name]
        draft = _DRAFT_NAMES.get(name)
        if draft is not None and draft in obj:
            self.warn("draft_field_name")
            return obj[draft]
        return None

    def text(self, obj: dict[str, Any], name: str, where: str, *, required: bool = True,
             nullable: bool = False) -> str | None:
        value = self.field(obj, name)
        if value is None:
            if required and not nullable:
                raise ParseError("missing_field", f"{name} is missing in {where}")
            return None
        if not isinstance(value, str):
            raise ParseError("invalid_value", f"{name} in {where} is not a string: {_show(value)}")
        value = value.strip()
        if not value and not required:
            if name not in ("organization-name", "contact-info"):
                self.warn("blank_field")
            return None
        if not value:
            raise ParseError("missing_field", f"{name} is empty in {where}")
        return value

    def count(self, obj: dict[str, Any], name: str, where: str) -> int:
        value = self.field(obj, name)
        if value is None:
            raise ParseError("missing_field", f"{name} is missing in {where}")
        if isinstance(value, HugeNumber):
            raise ParseError("invalid_value", f"{name} in {where} is too large: {value}...")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParseError("invalid_value", f"{name} in {where} is not an integer: {_show(value)}")
        if not 0 <= value <= MAX_COUNT:
            raise ParseError("invalid_value", f"{name} in {where} is out of range (0 to 2^63-1): {value}")
        return value

    def texts(self, obj: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
        """A list of strings (a single string is read as a list of one)."""
        value = self.field(obj, name)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ParseError("invalid_value", f"{name} in {where} is not a list of strings")
        return tuple(v.strip() for v in items if v.strip())


def _date_range(reader: _Reader, top: dict[str, Any]) -> tuple[datetime, datetime]:
    dates = reader.obj(top.get("date-range"), "date-range")
    begin = parse_datetime(reader.text(dates, "start-datetime", "date-range"), "start-datetime", reader)
    end = parse_datetime(reader.text(dates, "end-datetime", "date-range"), "end-datetime", reader)
    if end < begin:
        raise ParseError("invalid_value", "date-range ends before it begins")
    return begin, end


def parse_datetime(value: str | None, name: str, reader: _Reader) -> datetime:
    """An RFC 3339 date-time (fraction and offset optional) -> aware UTC, whole seconds."""
    match = _DATETIME.fullmatch(value or "")
    if match is None:
        raise ParseError("invalid_value", f"{name} is not an RFC 3339 date-time: {_show(value)}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone = match.group(8)
    try:
        stamp = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError:
        raise ParseError("invalid_value", f"{name} is not a valid date-time: {_show(value)}") from None
    if zone is None:
        reader.warn("naive_datetime")
    elif zone not in "Zz":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise ParseError("invalid_value", f"{name} has an impossible UTC offset: {zone}")
        stamp -= sign * timedelta(hours=hours, minutes=minutes)
    if not 0 <= stamp.timestamp() < _EPOCH_END:
        raise ParseError("invalid_value", f"{name} is out of range: {_show(value)}")
    return stamp


def _policies(reader: _Reader, top: dict[str, Any], domain_hint: str | None) -> tuple[TlsPolicy, ...]:
    raw = top.get("policies")
    if raw is None:
        raise ParseError("missing_field", "policies is missing")
    if not isinstance(raw, list):
        raise ParseError("invalid_value", "policies is not a list")
    entries = [reader.obj(p, f"policies[{i}]") for i, p in enumerate(raw)]
    known = [_declared_domain(reader, e, i) for i, e in enumerate(entries)]
    fallback = domain_hint or next((d for d in known if d), None)
    return tuple(_policy(reader, e, i, known[i], fallback) for i, e in enumerate(entries))


def _declared_domain(reader: _Reader, entry: dict[str, Any], index: int) -> str | None:
    policy = reader.obj(entry.get("policy"), f"policies[{index}].policy")
    value = reader.text(policy, "policy-domain", f"policies[{index}].policy", required=False)
    return _domain(value, f"policies[{index}].policy-domain") if value else None


def _policy(reader: _Reader, entry: dict[str, Any], index: int, domain: str | None, fallback: str | None) -> TlsPolicy:
    where = f"policies[{index}]"
    policy = reader.obj(entry.get("policy"), f"{where}.policy")
    kind = (reader.text(policy, "policy-type", f"{where}.policy") or "").lower()
    if kind not in TLS_POLICY_TYPES:
        raise ParseError("invalid_value", f"{where}.policy-type is not sts, tlsa or no-policy-found: {_show(kind)}")
    if domain is None:
        if kind != "no-policy-found" or fallback is None:
            raise ParseError("missing_field", f"policy-domain is missing in {where}.policy")
        reader.warn("missing_policy_domain")
        domain = fallback
    summary = reader.obj(entry.get("summary"), f"{where}.summary")
    successful = reader.count(summary, "total-successful-session-count", f"{where}.summary")
    failed = reader.count(summary, "total-failure-session-count", f"{where}.summary")
    details = entry.get("failure-details")
    if details is not None and not isinstance(details, list):
        raise ParseError("invalid_value", f"{where}.failure-details is not a list")
    return TlsPolicy(
        policy_type=kind, policy_domain=domain, successful=successful, failed=failed,
        policy_strings=reader.texts(policy, "policy-string", f"{where}.policy"),
        mx_hosts=tuple(_mx(h, f"{where}.policy.mx-host") for h in reader.texts(policy, "mx-host", f"{where}.policy")),
        failures=tuple(_detail(reader, d, f"{where}.failure-details[{i}]") for i, d in enumerate(details or ())),
    )


def _detail(reader: _Reader, value: Any, where: str) -> TlsFailureDetail:
    d = reader.obj(value, where)
    result = reader.text(d, "result-type", where)
    assert result is not None
    sending = _ip(reader.text(d, "sending-mta-ip", where, required=False), f"{where}.sending-mta-ip")
    if sending is None:
        reader.warn("missing_sending_mta_ip")
    mx = reader.text(d, "receiving-mx-hostname", where, required=False)
    return TlsFailureDetail(
        result_type=result.lower(),
        failed_sessions=reader.count(d, "failed-session-count", where),
        sending_mta_ip=sending,
        receiving_mx_hostname=_mx(mx, f"{where}.receiving-mx-hostname") if mx else None,
        receiving_mx_helo=reader.text(d, "receiving-mx-helo", where, required=False),
        receiving_ip=_ip(reader.text(d, "receiving-ip", where, required=False), f"{where}.receiving-ip"),
        failure_reason_code=reader.text(d, "failure-reason-code", where, required=False),
        additional_information=reader.text(d, "additional-information", where, required=False),
    )


def _ip(value: str | None, where: str) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ParseError("invalid_value", f"{where} is not an IP address: {_show(value)}") from None


def _domain(value: str | None, where: str) -> str:
    name = (value or "").strip().lower().rstrip(".")
    if len(name) > 253 or not _HOSTNAME.fullmatch(name) or name.startswith("*"):
        raise ParseError("invalid_value", f"{where} is not a domain name: {_show(value)}")
    return name


def _header_domain(value: str | None) -> str | None:
    """The TLS-Report-Domain header, when it holds a domain (it only stands in; a bad one is ignored)."""
    try:
        return _domain(value, "TLS-Report-Domain") if value else None
    except ParseError:
        return None


def _mx(value: str | None, where: str) -> str:
    """An MX host name or pattern (``*.mail.example.com``), lowercased, without the final dot."""
    name = (value or "").strip().lower().rstrip(".")
    if len(name) > 253 or not _HOSTNAME.fullmatch(name):
        raise ParseError("invalid_value", f"{where} is not a host name: {_show(value)}")
    return name


def _check_total(policies: Iterable[TlsPolicy]) -> None:
    """Each total the store keeps must fit its 64-bit column, as each count does."""
    listed = tuple(policies)
    totals = (
        sum(p.successful for p in listed),
        sum(p.failed for p in listed),
        sum(d.failed_sessions for p in listed for d in p.failures),
    )
    if max(totals, default=0) > MAX_COUNT:
        raise ParseError("invalid_value", "the report's session counts add up to more than 2^63-1")


def _show(value: Any) -> str:
    """A short, safe rendering of a value for an error message (containers are only named)."""
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)[:60]
