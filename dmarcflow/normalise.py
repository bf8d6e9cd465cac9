"""Pure functions that turn raw report values into normalised ones.

Nothing here does I/O; the parser calls these while it streams.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

from dmarcflow.errors import ParseError
from dmarcflow.models import Alignment, DkimResult, OverrideReason, SpfResult


@lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    """Loaded on first use: reading the list costs ~50 ms that commands without reports should not pay."""
    return PublicSuffixList()


DISPOSITIONS = {"none", "quarantine", "reject", "pass"}  # "pass": RFC 9990
POLICIES = {"none", "quarantine", "reject"}
EVALUATED = {"pass", "fail"}
# A 32-bit epoch bound keeps absurd dates (and overflow) out of the store.
_MAX_EPOCH = 2**32


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


def epoch_to_utc(value: str | None, name: str) -> datetime:
    raw = text(value)
    if raw is None:
        raise ParseError("missing_field", f"{name} is missing")
    try:
        seconds = int(float(raw)) if "." in raw else int(raw)
    except ValueError:
        raise ParseError("invalid_value", f"{name} is not an epoch timestamp: {raw[:40]!r}") from None
    if not 0 <= seconds < _MAX_EPOCH:
        raise ParseError("invalid_value", f"{name} is out of range: {seconds}")
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def count(value: str | None) -> int:
    raw = text(value)
    if raw is None:
        raise ParseError("missing_field", "record count is missing")
    if not raw.isdigit():
        raise ParseError("invalid_value", f"record count is not a non-negative integer: {raw[:40]!r}")
    return int(raw)


def choice(value: str | None, allowed: set[str], name: str, default: str | None = None) -> str | None:
    got = word(value)
    if got is None:
        return default
    if got not in allowed:
        raise ParseError("invalid_value", f"{name} has an unknown value: {got[:40]!r}")
    return got


@lru_cache(maxsize=65536)
def organisational_domain(name: str) -> str:
    """The registrable domain by the Public Suffix List (the name itself if none)."""
    return _psl().privatesuffix(name) or name


def aligned(auth_domain: str | None, from_domain: str, mode: str) -> bool:
    if not auth_domain:
        return False
    if mode == "s":
        return auth_domain == from_domain
    return organisational_domain(auth_domain) == organisational_domain(from_domain)


def compute_alignment(
    header_from: str,
    dkim: tuple[DkimResult, ...],
    spf: tuple[SpfResult, ...],
    adkim: str,
    aspf: str,
) -> Alignment:
    passing_dkim = [r.domain for r in dkim if r.result == "pass"]
    passing_spf = [r.domain for r in spf if r.result == "pass" and r.scope in ("mfrom", "")]
    dkim_ok = [d for d in passing_dkim if aligned(d, header_from, adkim)]
    spf_ok = [d for d in passing_spf if aligned(d, header_from, aspf)]
    return Alignment(
        dkim=bool(dkim_ok),
        spf=bool(spf_ok),
        dkim_domain=(dkim_ok or passing_dkim or [None])[0],
        spf_domain=(spf_ok or passing_spf or [None])[0],
    )


FORWARDING_REASONS = {"forwarded", "mailing_list"}


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
