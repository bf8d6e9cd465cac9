"""The verdict rules every layer shares, written once: the store's rollup, the search-index documents,
both summary backends and the explanations all call these.

* ``shown_result``: the one DKIM or SPF result a summary shows for a record;
* ``reasons_key``: the override reasons of a record as one grouping key;
* ``FORWARDING_REASONS`` / ``forwarded_by_override``: the overrides that mean "forwarded";
* ``explain``: why a verdict row has its class, in plain words (the CLI, the web UI, digests).

Pure functions over the model's types; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from dmarcflow.models import OverrideReason, PolicyPublished

FORWARDING_REASONS = frozenset({"forwarded", "mailing_list"})


class AuthOutcome(Protocol):
    """A DKIM or an SPF result (``models.DkimResult``, ``models.SpfResult``)."""

    @property
    def domain(self) -> str: ...
    @property
    def result(self) -> str: ...


def shown_result(results: Sequence[AuthOutcome], aligned_domain: str | None) -> str:
    """The result of the domain that passed and aligned (``Alignment.*_domain``), else of the first; '' when none."""
    for item in results:
        if item.domain == aligned_domain:
            return item.result or ""
    return (results[0].result or "") if results else ""


def reasons_key(reasons: Iterable[OverrideReason]) -> str:
    """The override reasons' types, sorted, each once, joined by ',' ('' when none)."""
    return ",".join(sorted({r.type for r in reasons if r.type}))


def forwarded_by_override(key: str) -> list[str]:
    """The forwarding overrides named in a reasons key, in key order."""
    return [r for r in key.split(",") if r in FORWARDING_REASONS] if key else []


class VerdictRow(Protocol):
    """What an explanation reads of a verdict (a ``models.SourceRow``)."""

    @property
    def header_from(self) -> str: ...
    @property
    def dkim_aligned(self) -> int: ...
    @property
    def spf_aligned(self) -> int: ...
    @property
    def dkim_domain(self) -> str: ...
    @property
    def spf_domain(self) -> str: ...
    @property
    def dkim_result(self) -> str: ...
    @property
    def spf_result(self) -> str: ...
    @property
    def reasons(self) -> str: ...


def explain(row: VerdictRow, klass: str, policy: PolicyPublished | None) -> str:
    """Why a verdict has its class: what passed for which domain, and what failed."""
    return explain_modes(row, klass, policy.adkim if policy else "r", policy.aspf if policy else "r")


def explain_modes(row: VerdictRow, klass: str, adkim: str, aspf: str) -> str:
    """``explain`` given the policy's alignment modes (what an index document carries of the policy)."""
    spf, dkim = spf_part(row, aspf), dkim_part(row, adkim)
    if klass == "authorised":
        passed = [p for p, ok in ((spf, row.spf_aligned), (dkim, row.dkim_aligned)) if ok]
        return "DMARC passes: " + ("; ".join(passed) or "the receiver evaluated DKIM or SPF as aligned")
    if klass == "forwarded":
        override = forwarded_by_override(row.reasons)
        if override:
            lead = f"the receiver reported a {override[0]} override"
        else:
            lead = "aligned DKIM passes but SPF fails, as after a forwarder"
        return f"forwarded: {lead}; {spf}; {dkim}"
    if klass == "misconfigured":
        return f"{spf}; {dkim}"
    return f"nothing passes: {spf}; {dkim}"


def spf_part(row: VerdictRow, aspf: str) -> str:
    if row.spf_result == "pass" and row.spf_domain:
        if row.spf_aligned:
            return f"SPF passed for {row.spf_domain}, aligned with {row.header_from}"
        return f"SPF passed for {row.spf_domain}, not aligned with {row.header_from} (aspf={aspf})"
    if not row.spf_result:
        return "no SPF result"
    return f"SPF {row.spf_result}"


def dkim_part(row: VerdictRow, adkim: str) -> str:
    if row.dkim_result == "pass" and row.dkim_domain:
        if row.dkim_aligned:
            return f"DKIM signed by {row.dkim_domain}, aligned with {row.header_from}"
        return f"DKIM signed by {row.dkim_domain}, not aligned with {row.header_from} (adkim={adkim})"
    if not row.dkim_result:
        return "no DKIM signature"
    return f"DKIM {row.dkim_result}"


def mix_note(classes: Mapping[str, int], klass: str, total: int) -> str:
    """"; 12 of 340 messages forwarded" for every class other than the source's own."""
    others = sorted(((n, k) for k, n in classes.items() if k != klass and n > 0), key=lambda x: (-x[0], x[1]))
    return "".join(f"; {n} of {total} messages {k}" for n, k in others)
