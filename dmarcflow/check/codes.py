"""The finding codes of `dmarcflow check`: stable names, each with one severity.

``error`` findings make `check` exit 1 and are shown by `summary`; ``warning``
and ``info`` do not change the exit code.
"""

from __future__ import annotations

from dmarcflow.models import Finding

CODES: dict[str, tuple[str, str]] = {
    "dns_unreachable": ("error", "a DNS query timed out or failed (SERVFAIL, refused): nothing could be checked there"),
    "dmarc_missing": ("error", "no DMARC record for the domain (nor one it inherits)"),
    "dmarc_multiple": ("error", "several DMARC records at one name: receivers ignore them all"),
    "dmarc_syntax": ("error", "a DMARC tag with a malformed or unknown value, a repeated tag, or v= not first"),
    "dmarc_p_missing": ("error", "a DMARC record without p="),
    "dmarc_policy_none": ("warning", "the policy that applies is none: monitoring only"),
    "dmarc_testing": ("warning", "t=y: the policy is published for testing and not enforced yet"),
    "dmarc_obsolete_tag": ("info", "pct, rf or ri: removed by RFC 9989"),
    "dmarc_unknown_tag": ("warning", "a tag DMARC does not define (receivers ignore it; often a typo)"),
    "dmarc_rua_missing": ("warning", "no rua=: nobody receives aggregate reports"),
    "dmarc_external_rua_unauthorised": ("error", ("a rua/ruf address in another domain that has not authorised it "
                                                  "(RFC 7489 7.1): reports are not sent there")),
    "spf_missing": ("error", "no SPF record"),
    "spf_multiple": ("error", "several SPF records at one name (permerror)"),
    "spf_syntax": ("error", "an SPF term that does not parse (permerror)"),
    "spf_include_broken": ("error", "an include or redirect target without exactly one valid SPF record (permerror)"),
    "spf_too_many_lookups": ("error", ("more than 10 DNS-querying terms, counted through includes and redirects "
                                       "(permerror)")),
    "spf_too_many_void_lookups": ("error", "more than 2 lookups that find nothing (permerror)"),
    "spf_permissive_all": ("error", ("+all or ?all (or no all at all): SPF authorises, or says nothing about, "
                                     "every host")),
    "spf_ptr": ("warning", "the ptr mechanism (deprecated by RFC 7208: slow, unreliable)"),
    "spf_unauthorised_source": ("error", ("a legitimate source in the reports, relying on SPF for DMARC, that the "
                                          "current SPF record does not authorise")),
    "dkim_key_missing": ("error", "no DKIM key for a selector the domain's mail is signed with"),
    "dkim_key_invalid": ("error", "a DKIM key record that is not a valid key"),
    "dkim_key_weak": ("error", "an RSA DKIM key shorter than 1024 bits (RFC 8301: receivers ignore it)"),
    "dkim_key_revoked": ("info", "a DKIM selector whose key is revoked (empty p=)"),
    "mta_sts_missing": ("warning", "no MTA-STS record (_mta-sts TXT)"),
    "mta_sts_invalid": ("warning", "a malformed MTA-STS record"),
    "tlsrpt_missing": ("warning", "no TLS-RPT record (_smtp._tls TXT)"),
    "tlsrpt_invalid": ("warning", "a malformed TLS-RPT record"),
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def finding(code: str, message: str, fix: str, name: str | None = None, **details: object) -> Finding:
    """A finding with its code's severity (an unknown code is a bug, not data)."""
    severity = CODES[code][0]
    return Finding(code, severity, message, fix, name, tuple(details.items()))


def ordered(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings and notes; the order of discovery within each."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f.severity])
