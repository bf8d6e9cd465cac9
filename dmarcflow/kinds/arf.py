"""The fields of a failure report (RFC 5965 / 6591 / 9991) -> ``FailureReport``.

Works on text only: the machine-readable part's fields and the original message's header block, as
``dmarcflow.kinds.failure`` found them in a mail, or as the store kept them (``reprocess``). The
original message's body never reaches this module.
"""

from __future__ import annotations

import email.utils
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.parser import HeaderParser
from email.policy import compat32

from dmarcflow.errors import WARNINGS as ALL_WARNINGS
from dmarcflow.errors import ParseError
from dmarcflow.models import FailureReport

# The quirks this kind tolerates (their meanings are in dmarcflow.errors.WARNINGS).
WARNINGS = {code: ALL_WARNINGS[code] for code in (
    "plain_text_notice", "missing_feedback_type", "missing_auth_failure", "missing_identity_alignment",
    "arrival_date_from_mail", "reported_domain_from_header", "unknown_delivery_result", "headers_truncated",
    "invalid_bytes_replaced",
)}

DELIVERY_RESULTS = ("delivered", "spam", "policy", "reject", "other")
HEADERS_MAX = 64 << 10
_VALUE_MAX = 16 << 10
# The canonicalised DKIM copies are the message's own header and body: never kept.
_NOT_KEPT = {"dkim-canonicalized-header", "dkim-canonicalized-body"}
_EPOCH_END = 2**32
_AUTH_RESULT = re.compile(r"(?<![\w.-])(dmarc|dkim|spf|arc|iprev|auth|dkim-atps|bimi)\s*=\s*([a-z]+)", re.IGNORECASE)
_HEADER_D = re.compile(r"header\.d\s*=\s*([^\s;]+)", re.IGNORECASE)
_HEADER_S = re.compile(r"header\.s\s*=\s*([^\s;]+)", re.IGNORECASE)
_MAILFROM = re.compile(r"smtp\.mailfrom\s*=\s*([^\s;]+)", re.IGNORECASE)
_DOMAIN = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_FOLD = re.compile(r"\r?\n[ \t]+")
# Written into the fields kept for a plain-text notice (they are built from its lines), so that a
# re-parse of what the store kept still knows where they came from.
NOTICE_MARK = "X-Dmarcflow-Source"


@dataclass(frozen=True)
class MailFacts:
    """What the report mail itself says, beside its parts."""

    submitter: str | None = None  # the From address of the report mail
    date: datetime | None = None  # the report mail's Date, UTC
    body_omitted: bool = False  # the original message had a body (not kept)


Fields = Sequence[tuple[str, str]]


def read_fields(text: str) -> list[tuple[str, str]]:
    """Header-style ``Name: value`` fields, unfolded, in order (CRLF or LF)."""
    msg = HeaderParser(policy=compat32).parsestr(text.lstrip("\r\n"), headersonly=True)
    return [(name, _unfold(str(value))) for name, value in msg.items()]


def render_fields(fields: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in fields)


def kept_fields(fields: Fields) -> list[tuple[str, str]]:
    """The fields as the store keeps them: without the canonicalised copies of the message."""
    return [(n, v) for n, v in fields if n.lower() not in _NOT_KEPT]


def original_header_block(fields: Fields) -> tuple[str, bool]:
    """The original's header fields as text, cut at HEADERS_MAX on a field boundary; True when cut."""
    out: list[str] = []
    size = 0
    for name, value in fields:
        line = f"{name}: {value}\n"
        size += len(line)
        if size > HEADERS_MAX:
            return "".join(out), True
        out.append(line)
    return "".join(out), False


def build_report(feedback: Fields, original: Fields, mail: MailFacts, warnings: Iterable[str] = ()) -> FailureReport:
    """One failure report from the ARF fields, the original's headers and the report mail's facts."""
    notes = list(warnings)
    f = _Fields(feedback)
    o = _Fields(original)
    if f.one(NOTICE_MARK) == "plain-text-notice":
        notes.append("plain_text_notice")
    feedback_type = _feedback_type(f, notes)
    auth_text = f.one("Authentication-Results", _VALUE_MAX)
    header_from = _decoded(o.one("From"))
    reported = _reported_domain(f, header_from, notes)
    headers_text, cut = original_header_block(original)
    if cut:
        notes.append("headers_truncated")
    reporting_mta = _mta(f.one("Reporting-MTA"))
    user_agent = f.one("User-Agent")
    return FailureReport(
        feedback_type=feedback_type,
        arrival=_arrival(f.one("Arrival-Date") or f.one("Received-Date"), mail.date, notes),
        source_ip=_source_ip(f.one("Source-IP")),
        reported_domain=reported,
        reporter=reporter_of(mail.submitter, reporting_mta, user_agent),
        auth_failure=_auth_failure(f.all("Auth-Failure"), notes),
        identity_alignment=_alignment(f.one("Identity-Alignment"), notes),
        delivery_result=_delivery(f.one("Delivery-Result"), notes),
        authentication_results=auth_text,
        auth_results=_auth_results(auth_text),
        dkim_domain=_lower(f.one("DKIM-Domain")) or _first(_HEADER_D, auth_text),
        dkim_selector=f.one("DKIM-Selector") or _first(_HEADER_S, auth_text, lower=False),
        dkim_identity=f.one("DKIM-Identity"),
        spf_domain=_spf_domain(f.one("SPF-DNS"), auth_text, f.one("Original-Mail-From")),
        original_envelope_id=f.one("Original-Envelope-Id"),
        original_mail_from=f.one("Original-Mail-From"),
        original_rcpt_to=", ".join(f.all("Original-Rcpt-To")) or None,
        header_from=header_from,
        header_to=_decoded(o.one("To")),
        subject=_decoded(o.one("Subject")),
        message_id=o.one("Message-ID"),
        user_agent=user_agent,
        reporting_mta=reporting_mta,
        submitter=mail.submitter,
        mail_date=mail.date,
        incidents=_incidents(f.one("Incidents")),
        original_headers=headers_text,
        feedback_fields=render_fields(kept_fields(feedback)),
        body_omitted=mail.body_omitted,
        warnings=tuple(dict.fromkeys(notes)),
    )


def _feedback_type(f: _Fields, notes: list[str]) -> str:
    """auth-failure, or the report is of another kind (abuse, fraud, ...): not a DMARC failure report."""
    feedback_type = (f.one("Feedback-Type") or "").lower()
    if not feedback_type:
        notes.append("missing_feedback_type")
        return "auth-failure"
    if feedback_type != "auth-failure":
        raise ParseError("not_a_report",
                         f"a feedback report of type {feedback_type[:40]!r}, not a DMARC failure report (auth-failure)")
    return feedback_type


def reporter_of(submitter: str | None, reporting_mta: str | None, user_agent: str | None) -> str:
    """Who sent the report: the report mail's From domain, else the Reporting-MTA, else the User-Agent."""
    if submitter and "@" in submitter:
        domain = submitter.rpartition("@")[2].strip().lower().rstrip(".>")
        if domain:
            return domain
    return (reporting_mta or user_agent or "unknown").lower()


class _Fields:
    def __init__(self, fields: Fields) -> None:
        self._by_name: dict[str, list[str]] = {}
        for name, value in fields:
            self._by_name.setdefault(name.lower(), []).append(value)

    def all(self, name: str) -> list[str]:
        return [v for v in (_checked(name, v, _VALUE_MAX) for v in self._by_name.get(name.lower(), [])) if v]

    def one(self, name: str, limit: int = 4096) -> str | None:
        values = self._by_name.get(name.lower())
        return _checked(name, values[0], limit) if values else None


def _checked(name: str, value: str, limit: int) -> str | None:
    value = value.strip()
    if len(value) > limit:
        raise ParseError("invalid_value", f"{name} is longer than {limit} characters")
    return value or None


def _unfold(value: str) -> str:
    return _FOLD.sub(" ", value).strip()


def _decoded(value: str | None) -> str | None:
    """An RFC 2047 header value as text (undecodable words are kept as they came)."""
    if value is None:
        return None
    try:
        return str(make_header(decode_header(value))).strip() or None
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return value


def _arrival(value: str | None, fallback: datetime | None, notes: list[str]) -> datetime:
    stamp = mail_date(value)
    if stamp is None:
        if fallback is None:
            raise ParseError("missing_field", "Arrival-Date is missing or unreadable, and the report mail has no Date")
        notes.append("arrival_date_from_mail")
        stamp = fallback
    return stamp


def mail_date(value: str | None) -> datetime | None:
    """An RFC 5322 date as aware UTC, or None when absent, unreadable or out of range."""
    if not value:
        return None
    try:
        stamp = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    stamp = stamp.astimezone(UTC)
    return stamp if 0 <= stamp.timestamp() < _EPOCH_END else None


def _source_ip(value: str | None) -> str:
    if not value:
        raise ParseError("missing_field", "Source-IP is missing")
    token = value.split()[0].strip("[]")
    try:
        return str(ipaddress.ip_address(token))
    except ValueError:
        raise ParseError("invalid_value", f"Source-IP is not an IP address: {value[:60]!r}") from None


def _reported_domain(f: _Fields, header_from: str | None, notes: list[str]) -> str:
    value = f.one("Reported-Domain")
    if value is None and header_from:
        value = email.utils.parseaddr(header_from)[1].rpartition("@")[2] or None
        if value:
            notes.append("reported_domain_from_header")
    if value is None:
        raise ParseError("missing_field", "Reported-Domain is missing, and the original message has no From domain")
    name = value.strip().lower().rstrip(".")
    if len(name) > 253 or not _DOMAIN.fullmatch(name):
        raise ParseError("invalid_value", f"Reported-Domain is not a domain name: {value[:60]!r}")
    return name


def _auth_failure(values: list[str], notes: list[str]) -> tuple[str, ...]:
    words = [w.strip().lower() for v in values for w in re.split(r"[,\s]+", v) if w.strip()]
    if not words:
        notes.append("missing_auth_failure")
    return tuple(dict.fromkeys(words))


def _alignment(value: str | None, notes: list[str]) -> tuple[str, ...] | None:
    if value is None:
        notes.append("missing_identity_alignment")
        return None
    words = [w.strip().lower() for w in re.split(r"[,\s]+", value) if w.strip()]
    return tuple(dict.fromkeys(w for w in words if w != "none"))


def _delivery(value: str | None, notes: list[str]) -> str | None:
    if value is None:
        return None
    word = value.split()[0].lower() if value.split() else ""
    if word not in DELIVERY_RESULTS:
        notes.append("unknown_delivery_result")
        return "other"
    return word


def _auth_results(text: str | None) -> tuple[tuple[str, str], ...]:
    if not text:
        return ()
    pairs = [(m.group(1).lower(), m.group(2).lower()) for m in _AUTH_RESULT.finditer(text)]
    return tuple(dict.fromkeys(pairs))


def _first(pattern: re.Pattern[str], text: str | None, lower: bool = True) -> str | None:
    match = pattern.search(text or "")
    if match is None:
        return None
    value = match.group(1).strip("\"'")
    return value.lower() if lower else value


def _spf_domain(spf_dns: str | None, auth_text: str | None, mail_from: str | None) -> str | None:
    if spf_dns:
        parts = [p.strip() for p in spf_dns.split(":")]
        if len(parts) >= 2 and parts[0].lower() in ("txt", "spf") and parts[1]:
            return parts[1].lower().rstrip(".")
    found = _first(_MAILFROM, auth_text)
    if found:
        return found.rpartition("@")[2] or None
    if mail_from:
        address = email.utils.parseaddr(mail_from)[1]
        return address.rpartition("@")[2].lower() or None
    return None


def _mta(value: str | None) -> str | None:
    """``dns; mail.example.com`` -> ``mail.example.com``."""
    if not value:
        return None
    return value.partition(";")[2].strip() if ";" in value else value.strip()


def _incidents(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise ParseError("invalid_value", f"Incidents is not a count: {value[:40]!r}")
    return int(value)


def _lower(value: str | None) -> str | None:
    return value.lower().rstrip(".") if value else None
