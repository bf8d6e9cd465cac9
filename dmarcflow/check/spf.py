"""SPF findings for a domain: its record, the lookup limits through its include tree, and whether the
current record authorises the sources its reports show."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dmarcflow.check.codes import finding
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.spf_eval import MAX_LOOKUPS, MAX_VOID, SpfEvaluator, fetch, lint
from dmarcflow.check.spf_record import SpfRecord
from dmarcflow.check.tags import unreachable
from dmarcflow.models import Finding


@dataclass(frozen=True)
class ReportedSource:
    """A legitimate source from the reports whose DMARC result relies on SPF."""

    ip: str
    messages: int
    spf_domain: str  # the return-path domain to evaluate (under the checked domain)
    approved: bool
    sender: str


def check_spf(dns: DnsClient, domain: str, sources: Sequence[ReportedSource]) -> tuple[dict[str, Any], list[Finding]]:
    got = fetch(dns, domain)
    record: dict[str, Any] = {"name": domain, "record": got.record.text if got.record else None}
    if got.status == "unreachable":
        record["status"] = "unreachable"
        return record, [unreachable(got.answer, "the SPF record")]
    if got.status == "none":
        return record, [finding("spf_missing", f"{domain} has no SPF record: receivers cannot tell which hosts may "
                                "send with it as the return path", f'publish one TXT record at {domain} starting '
                                '"v=spf1", listing your senders and ending in -all or ~all', domain)]
    if got.status == "multiple":
        return record, [finding("spf_multiple", f"{domain} has several SPF records: receivers treat that as a "
                                "permerror (SPF fails for all mail)", f"merge them into one TXT record at {domain}",
                                domain)]
    if got.record is None:  # fetch() gives a record whenever the status is ok or syntax
        return record, []
    findings = [finding("spf_syntax", f"the SPF record of {domain}: {p}", "correct or remove the term "
                        "(mechanisms: all include a mx ptr ip4 ip6 exists; modifiers: redirect exp)", domain)
                for p in got.record.problems]
    if findings:
        return record, findings
    walked = lint(dns, domain, got.record)
    record.update(lookups=walked.lookups, void_lookups=walked.void, tree=walked.tree)
    findings += [unreachable(a, "part of the SPF include tree") for a in _unique(walked.unreachable)]
    findings += [finding("spf_include_broken", f"the SPF record of {domain} refers to {target}, which {problem}: "
                         "a permerror for mail that reaches it", f"fix or remove the reference to {target} in the SPF "
                         f"record of {domain}", target) for target, problem in walked.broken]
    if walked.lookups > MAX_LOOKUPS:
        findings.append(finding(
            "spf_too_many_lookups", f"the SPF record of {domain} needs {walked.lookups} DNS lookups through its "
            f"includes and redirects (at most {MAX_LOOKUPS}): receivers that reach the 11th return permerror",
            "remove includes of services you no longer use, replace a and mx terms by ip4/ip6 networks, or move "
            "some senders to a subdomain with its own record", domain, lookups=walked.lookups))
    if walked.void > MAX_VOID:
        findings.append(finding(
            "spf_too_many_void_lookups", f"{walked.void} lookups in the SPF tree of {domain} find nothing (at most "
            f"{MAX_VOID}): receivers return permerror", "remove the terms that name domains without records",
            domain, void_lookups=walked.void))
    findings += _all_term(dns, domain, got.record)
    if any(m.name == "ptr" for m in got.record.mechanisms):
        findings.append(finding("spf_ptr", f"the SPF record of {domain} uses ptr, which RFC 7208 deprecates (slow, "
                                "and many receivers skip it)", "replace ptr by the ip4/ip6 networks or a/mx terms of "
                                "those hosts", domain))
    checked, unauthorised = _sources(dns, domain, sources)
    record["sources"] = checked
    return record, findings + unauthorised


def _all_term(dns: DnsClient, domain: str, record: SpfRecord) -> list[Finding]:
    """The all term that ends the policy, following redirects (the redirect target is the policy)."""
    seen = {domain}
    while not record.has_all and record.redirect and record.redirect not in seen:
        seen.add(record.redirect)
        target = fetch(dns, record.redirect)
        if target.record is None or target.status != "ok":
            return []  # reported as spf_include_broken
        record = target.record
    final = next((m for m in record.mechanisms if m.name == "all"), None)
    if final is not None and final.qualifier in ("fail", "softfail"):
        return []
    what = "ends without all (the result is then neutral)" if final is None else f"ends in {final}"
    return [finding("spf_permissive_all", f"the SPF record of {domain} {what}: it does not tell receivers to "
                    "refuse other hosts", "end the record in -all (or ~all while you check the reports)", domain)]


def _sources(dns: DnsClient, domain: str, sources: Sequence[ReportedSource]) -> tuple[list[dict[str, Any]], list[Finding]]:
    evaluator = SpfEvaluator(dns)
    checked, findings = [], []
    for src in sources:
        result = evaluator.check_host(src.ip, src.spf_domain)
        checked.append({"ip": src.ip, "sender": src.sender, "messages": src.messages, "spf_domain": src.spf_domain,
                        "result": result.result, "matched": result.mechanism})
        if result.result in ("pass", "temperror"):
            continue  # a temperror means a DNS failure, reported as dns_unreachable
        why = f"{result.result}: {result.reason}" if result.reason else result.result
        term = ("ip6:" if ":" in src.ip else "ip4:") + src.ip
        who = "" if src.sender == src.ip else f"{src.sender}, "
        findings.append(finding(
            "spf_unauthorised_source", f"{src.ip} ({who}{src.messages:,} message(s), "
            f"{'approved' if src.approved else 'passing DMARC'}) relies on SPF, but the SPF record of "
            f"{src.spf_domain} does not authorise it now ({why})",
            f"add {term}, or the include of the service that sends from it, to the SPF record "
            f"of {src.spf_domain}; better still, have it sign DKIM with d={domain}", src.spf_domain,
            ip=src.ip, messages=src.messages, result=result.result))
    return checked, findings


def _unique(answers: list[Any]) -> list[Any]:
    return list({(a.name, a.rdtype): a for a in answers}.values())
