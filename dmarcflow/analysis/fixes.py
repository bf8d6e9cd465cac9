"""What to change so that a failing sender aligns: the catalogue's steps, or generic ones naming the records.

Also the few words that say why a sender fails ("fails DKIM alignment"), used by
the readiness headline and the overview status.
"""

from __future__ import annotations

from dmarcflow.analysis.catalogue import Service
from dmarcflow.models import SourceRow

# RFC 9989: a domain at p=reject must not rely on SPF alone, so every fix leads with DKIM.
_DKIM_KEY = "publish its public key as a TXT (or the CNAME it gives) at <selector>._domainkey.{domain}"


def failure_words(row: SourceRow | None) -> str:
    """Why the main verdict of a failing source fails, in a few words."""
    if row is None:
        return "fails DMARC"
    dkim_unaligned = row.dkim_result == "pass" and bool(row.dkim_domain) and not row.dkim_aligned
    spf_unaligned = row.spf_result == "pass" and bool(row.spf_domain) and not row.spf_aligned
    if dkim_unaligned:
        return "fails DKIM alignment"
    if spf_unaligned:
        return "fails SPF alignment and has no DKIM"
    return "fails SPF and DKIM"


def fix_text(service: Service | None, row: SourceRow | None, ips: tuple[str, ...], adkim: str) -> str:
    """The fix for a failing source: the catalogue's steps for a known service, else generic steps."""
    domain = row.header_from if row is not None else "your domain"
    if service is not None:
        return service.fix_for(domain)
    return generic_fix(row, domain, ips, adkim)


def generic_fix(row: SourceRow | None, domain: str, ips: tuple[str, ...], adkim: str) -> str:
    """Steps naming the records involved, for a sender the catalogue does not know."""
    exact = f" (adkim=s: d= must be exactly {domain})" if adkim == "s" else ""
    if row is not None and row.dkim_result == "pass" and row.dkim_domain and not row.dkim_aligned:
        dkim = (f"It signs DKIM as {row.dkim_domain}: make it sign with d={domain}{exact} and "
                + _DKIM_KEY.format(domain=domain))
    else:
        dkim = f"Make it sign DKIM with d={domain}{exact} and " + _DKIM_KEY.format(domain=domain)
    if row is not None and row.spf_result == "pass" and row.spf_domain and not row.spf_aligned:
        spf = (f"its return path is {row.spf_domain}: for SPF alignment too, use a return path under {domain} "
               "whose SPF record authorises it")
    else:
        where = ", ".join(ips[:3]) + (", ..." if len(ips) > 3 else "")
        spf = (f"for SPF alignment too, authorise {where} in the SPF record (TXT v=spf1) of {domain} "
               "or of the return-path domain under it that it uses")
    return f"{dkim}; {spf} (a sender the service catalogue does not know: its own documentation has the steps)"
