"""Plain-words explanations of a source's class, built from its main verdict row.

The rollup keeps, per verdict, the DKIM and SPF domains that passed (aligned
ones first) and the result of that or else the first evaluated signature, so an
explanation can name what passed for which domain, and what failed.
"""

from __future__ import annotations

from collections.abc import Mapping

from dmarcflow.analysis.queries import PolicyFacts, SourceRow

FORWARDING_REASONS = ("forwarded", "mailing_list")


def explain(row: SourceRow, klass: str, policy: PolicyFacts | None) -> str:
    adkim = policy.adkim if policy else "r"
    aspf = policy.aspf if policy else "r"
    spf, dkim = spf_part(row, aspf), dkim_part(row, adkim)
    if klass == "authorised":
        passed = [p for p, ok in ((spf, row.spf_aligned), (dkim, row.dkim_aligned)) if ok]
        return "DMARC passes: " + ("; ".join(passed) or "the receiver evaluated DKIM or SPF as aligned")
    if klass == "forwarded":
        override = [r for r in row.reasons.split(",") if r in FORWARDING_REASONS]
        if override:
            lead = f"the receiver reported a {override[0]} override"
        else:
            lead = "aligned DKIM passes but SPF fails, as after a forwarder"
        return f"forwarded: {lead}; {spf}; {dkim}"
    if klass == "misconfigured":
        return f"{spf}; {dkim}"
    return f"nothing passes: {spf}; {dkim}"


def spf_part(row: SourceRow, aspf: str) -> str:
    if row.spf_result == "pass" and row.spf_domain:
        if row.spf_aligned:
            return f"SPF passed for {row.spf_domain}, aligned with {row.header_from}"
        return f"SPF passed for {row.spf_domain}, not aligned with {row.header_from} (aspf={aspf})"
    if not row.spf_result:
        return "no SPF result"
    return f"SPF {row.spf_result}"


def dkim_part(row: SourceRow, adkim: str) -> str:
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
