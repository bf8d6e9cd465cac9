"""Pure functions that turn raw report values into normalised ones.

Nothing here does I/O; the parser calls these while it streams.
"""

from __future__ import annotations

import ipaddress
import math
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache

from dmarcflow import verdict
from dmarcflow.errors import ParseError
from dmarcflow.models import Alignment, DkimResult, OverrideReason, SpfResult
from dmarcflow.suffixes import SuffixList


@cache
def _psl() -> SuffixList:
    """The Public Suffix List, read on first use (~10 ms that commands without reports should not pay).

    Read-only data loaded once per process, not a cache of answers: those are memoised per owner (``OrgDomains``).
    """
    return SuffixList()


class OrgDomains:
    """Registrable domains by the Public Suffix List, memoised for one owner (an enricher, a summary, a parser).

    Names repeat across a report's records and a summary's sources; the memo is bounded and dies with its owner.
    """

    def __init__(self, size: int = 65536) -> None:
        self._memo: dict[str, str] = {}
        self._size = size

    def __call__(self, name: str) -> str:
        found = self._memo.get(name)
        if found is None:
            found = _psl().registrable(name) or name  # the list is read on the first name (an owner may ask none)
            if len(self._memo) < self._size:
                self._memo[name] = found
        return found


DISPOSITIONS = {"none", "quarantine", "reject", "pass"}  # "pass": RFC 9990
POLICIES = {"none", "quarantine", "reject"}
EVALUATED = {"pass", "fail"}
# A 32-bit epoch bound keeps absurd dates (and overflow) out of the store.
_MAX_EPOCH = 2**32
MAX_COUNT = 2**63 - 1  # SQLite's INTEGER
_FLOAT_EPOCH = re.compile(r"[0-9]{1,20}\.[0-9]{0,20}|[0-9]{1,20}(?:\.[0-9]{0,20})?[eE][+]?[0-9]{1,3}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL_DOMAIN = re.compile(rf"@({_LABEL}(?:\.{_LABEL})+)\.?(?:[\s>]|$)")


def word(value: str | None) -> str | None:
    """Trim and lowercase a result word; blank becomes None."""
    if value is None:
        return None
    value = value.strip().lower()
    return value or None


def text(value: str | None) -> str | None:
    """Trim free text; blank becomes None. Case is kept."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def domain(value: str | None) -> str | None:
    value = word(value)
    return value.rstrip(".") if value else None


def _ascii_digits(raw: str, most: int) -> bool:
    """Only 0-9 (str.isdigit() also takes '²' and '٣'), and not longer than ``most``."""
    return len(raw) <= most and raw.isascii() and raw.isdigit()


def epoch_to_utc(value: str | None, name: str) -> datetime:
    """Seconds since the epoch: an integer, or a float with no fraction (some reporters write 1772323200.0)."""
    raw = text(value)
    if raw is None:
        raise ParseError("missing_field", f"{name} is missing")
    if _ascii_digits(raw, 20):
        seconds = int(raw)
    elif raw.isascii() and _FLOAT_EPOCH.fullmatch(raw):
        number = float(raw)
        if not (math.isfinite(number) and number.is_integer() and 0 <= number < _MAX_EPOCH):
            raise ParseError("invalid_value", f"{name} is not a whole number of seconds in range: {raw[:40]!r}")
        seconds = int(number)
    else:
        raise ParseError("invalid_value", f"{name} is not an epoch timestamp: {raw[:40]!r}")
    if not 0 <= seconds < _MAX_EPOCH:
        raise ParseError("invalid_value", f"{name} is out of range: {seconds}")
    return datetime.fromtimestamp(seconds, tz=UTC)


def count(value: str | None) -> int:
    raw = text(value)
    if raw is None:
        raise ParseError("missing_field", "record count is missing")
    if not _ascii_digits(raw, 19):
        raise ParseError("invalid_value", f"record count is not a non-negative integer: {raw[:40]!r}")
    number = int(raw)
    if number > MAX_COUNT:
        raise ParseError("invalid_value", f"record count is larger than 2^63-1: {raw[:40]!r}")
    return number


def pct(raw: str | None, schema: str, defaults: list[str]) -> int | None:
    value = text(raw)
    if value is None:
        if schema == "rfc9990":
            return None  # RFC 9990 dropped pct
        defaults.append("pct")
        return 100
    if not _ascii_digits(value, 3) or int(value) > 100:
        raise ParseError("invalid_value", f"policy_published/pct is not 0-100: {value[:20]!r}")
    return int(value)


def source_ip(value: str | None) -> str:
    """The source IP as written, once it parses as an IPv4 or IPv6 address (a C parser first: it is the hot path)."""
    raw = text(value)
    if raw is None:
        raise ParseError("missing_field", "record/row/source_ip is missing")
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in raw else socket.AF_INET, raw)
        return raw
    except (OSError, ValueError):
        pass
    try:
        ipaddress.ip_address(raw)  # also takes what inet_pton does not, e.g. a scoped IPv6 address
    except ValueError:
        raise ParseError("invalid_value", f"record/row/source_ip is not an IP address: {raw[:40]!r}") from None
    return raw


def email_domain(value: str | None) -> str | None:
    """The domain of the first address in a report's <email> (which may be 'mailto:', or 'Name <a@b>')."""
    if not value:
        return None
    found = _EMAIL_DOMAIN.search(value)
    return found.group(1).lower() if found else None


def choice(value: str | None, allowed: set[str], name: str, default: str | None = None) -> str | None:
    got = word(value)
    if got is None:
        return default
    if got not in allowed:
        raise ParseError("invalid_value", f"{name} has an unknown value: {got[:40]!r}")
    return got


def organisational_domain(name: str) -> str:
    """The registrable domain by the Public Suffix List (the name itself if none)."""
    return _psl().registrable(name) or name


def aligned(auth_domain: str | None, from_domain: str, mode: str,
            org: Callable[[str], str] = organisational_domain) -> bool:
    """Whether the authenticated domain aligns with the From domain; ``org`` gives registrable domains."""
    if not auth_domain:
        return False
    if mode == "s" or auth_domain == from_domain:  # equal names align in both modes: no need to ask ``org``
        return auth_domain == from_domain
    return org(auth_domain) == org(from_domain)


def compute_alignment(
    header_from: str,
    dkim: tuple[DkimResult, ...],
    spf: tuple[SpfResult, ...],
    adkim: str,
    aspf: str,
    org: Callable[[str], str] = organisational_domain,
) -> Alignment:
    passing_dkim = [r.domain for r in dkim if r.result == "pass"]
    passing_spf = [r.domain for r in spf if r.result == "pass" and r.scope in ("mfrom", "")]
    dkim_ok = [d for d in passing_dkim if aligned(d, header_from, adkim, org)]
    spf_ok = [d for d in passing_spf if aligned(d, header_from, aspf, org)]
    return Alignment(
        dkim=bool(dkim_ok),
        spf=bool(spf_ok),
        dkim_domain=dkim_ok[0] if dkim_ok else (passing_dkim[0] if passing_dkim else None),
        spf_domain=spf_ok[0] if spf_ok else (passing_spf[0] if passing_spf else None),
    )


FORWARDING_REASONS = verdict.FORWARDING_REASONS


def classify(
    dmarc_pass: bool,
    reasons: tuple[OverrideReason, ...],
    alignment: Alignment,
    dkim: tuple[DkimResult, ...],
    spf: tuple[SpfResult, ...],
) -> str:
    """The class of one record; see the README for the rules."""
    if any(r.type in FORWARDING_REASONS for r in reasons):
        return "forwarded"
    spf_passed = any(r.result == "pass" for r in spf)
    if dmarc_pass:
        return "forwarded" if alignment.dkim and not spf_passed else "authorised"
    if spf_passed or any(r.result == "pass" for r in dkim):
        return "misconfigured"
    return "unauthorised"
