"""MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) records, and BIMI (noted only).

Only the DNS records: the MTA-STS policy file (https://mta-sts.DOMAIN/.well-known/mta-sts.txt) is not fetched.
"""

from __future__ import annotations

import re
from typing import Any

from dmarcflow.check.codes import finding
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.tags import parse_tags, unreachable, versioned
from dmarcflow.models import Finding

_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")


def check_mta_sts(dns: DnsClient, domain: str) -> tuple[dict[str, Any], list[Finding]]:
    answer = dns.txt(f"_mta-sts.{domain}")
    record: dict[str, Any] = {"name": answer.name, "record": None}
    if answer.unreachable:
        return {**record, "status": "unreachable"}, [unreachable(answer, "the MTA-STS record")]
    found = versioned(answer, "STSv1")
    if not found:
        return record, [finding(
            "mta_sts_missing", f"no MTA-STS record at {answer.name}: senders may deliver to {domain} without TLS "
            "when an attacker strips STARTTLS", f'publish a policy at https://mta-sts.{domain}/.well-known/mta-sts.txt '
            f'and a TXT record "v=STSv1; id=<policy version>" at {answer.name}', answer.name)]
    record["record"] = found[0]
    problem = None
    if len(found) > 1:
        problem = f"{len(found)} records start with v=STSv1 (there must be one)"
    else:
        tags = parse_tags(found[0])
        if tags.problems or tags.names[0] != "v":
            problem = (tags.problems or ("v=STSv1 must come first",))[0]
        elif not _STS_ID.match(tags.get("id") or ""):
            problem = "id= must be 1 to 32 letters or digits"
    if problem:
        return record, [finding("mta_sts_invalid", f"the MTA-STS record at {answer.name}: {problem}",
                                f'keep one TXT record "v=STSv1; id=<1-32 letters or digits>" at {answer.name}',
                                answer.name)]
    return record, []


def check_tlsrpt(dns: DnsClient, domain: str) -> tuple[dict[str, Any], list[Finding]]:
    answer = dns.txt(f"_smtp._tls.{domain}")
    record: dict[str, Any] = {"name": answer.name, "record": None}
    if answer.unreachable:
        return {**record, "status": "unreachable"}, [unreachable(answer, "the TLS-RPT record")]
    found = versioned(answer, "TLSRPTv1")
    if not found:
        return record, [finding(
            "tlsrpt_missing", f"no TLS-RPT record at {answer.name}: nobody reports TLS delivery failures to {domain}",
            f'publish a TXT record "v=TLSRPTv1; rua=mailto:tls-reports@{domain}" at {answer.name}', answer.name)]
    record["record"] = found[0]
    problem = None
    if len(found) > 1:
        problem = f"{len(found)} records start with v=TLSRPTv1 (there must be one)"
    else:
        tags = parse_tags(found[0])
        uris = [u.strip() for u in (tags.get("rua") or "").split(",") if u.strip()]
        if tags.problems:
            problem = tags.problems[0]
        elif not uris or not all(u.lower().startswith(("mailto:", "https:")) for u in uris):
            problem = "rua= must list mailto: or https: addresses"
    if problem:
        return record, [finding("tlsrpt_invalid", f"the TLS-RPT record at {answer.name}: {problem}",
                                f'keep one TXT record "v=TLSRPTv1; rua=mailto:..." at {answer.name}', answer.name)]
    return record, []


def note_bimi(dns: DnsClient, domain: str) -> tuple[dict[str, Any], list[Finding]]:
    answer = dns.txt(f"default._bimi.{domain}")
    if answer.unreachable:
        return {"name": answer.name, "record": None, "status": "unreachable"}, [unreachable(answer, "the BIMI record")]
    found = versioned(answer, "BIMI1")
    return {"name": answer.name, "record": found[0] if found else None}, []
