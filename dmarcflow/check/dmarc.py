"""DMARC: discovery by the RFC 9989 tree walk, every tag checked, external report addresses authorised.

Tags (RFC 9989): v p sp np psd t adkim aspf fo rua ruf; pct rf ri are the removed
RFC 7489 ones (noted, still validated, since older receivers read them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dmarcflow.check.codes import finding
from dmarcflow.check.dns import DnsClient
from dmarcflow.check.tags import TagList, parse_tags, unreachable, versioned
from dmarcflow.models import Finding
from dmarcflow.normalise import organisational_domain

POLICIES = ("none", "quarantine", "reject")
_CHOICES = {"p": POLICIES, "sp": POLICIES, "np": POLICIES, "psd": ("y", "n", "u"), "t": ("y", "n"),
            "adkim": ("r", "s"), "aspf": ("r", "s")}
_KNOWN = ("v", "p", "sp", "np", "psd", "t", "adkim", "aspf", "fo", "rua", "ruf")
_REMOVED = ("pct", "rf", "ri")
_MAX_WALK = 8  # RFC 9989 tree walk: at most 8 queries


@dataclass
class DmarcResult:
    records: dict[str, Any]
    findings: list[Finding] = field(default_factory=list)


def walk_names(domain: str) -> list[str]:
    """The names the RFC 9989 tree walk asks for, in order: the domain, then (past 7 labels) its last 7
    labels, then one label shorter each time, down to the top-level domain."""
    labels = domain.split(".")
    names = [domain]
    if len(labels) >= _MAX_WALK:
        labels = labels[-(_MAX_WALK - 1):]
        names.append(".".join(labels))
    while len(labels) > 1:
        labels = labels[1:]
        names.append(".".join(labels))
    return list(dict.fromkeys(names))[:_MAX_WALK]


def check_dmarc(dns: DnsClient, domain: str) -> DmarcResult:
    for name in walk_names(domain):
        answer = dns.txt(f"_dmarc.{name}")
        if answer.unreachable:
            return DmarcResult({"name": answer.name, "record": None, "status": "unreachable"},
                               [unreachable(answer, "the DMARC policy")])
        found = versioned(answer, "DMARC1")
        if len(found) > 1:
            return DmarcResult({"name": answer.name, "record": None, "records": found}, [finding(
                "dmarc_multiple", f"{answer.name} has {len(found)} DMARC records: receivers treat that as no policy",
                f"keep exactly one TXT record starting with v=DMARC1 at {answer.name}", answer.name)])
        if found:
            tags = parse_tags(found[0])
            if name != domain and tags.get("psd") == "y":
                break  # a public suffix operator's policy, not the domain's own
            return _evaluate(dns, domain, name, answer.name, found[0], tags)
    return DmarcResult({"name": f"_dmarc.{domain}", "record": None}, [finding(
        "dmarc_missing", f"no DMARC record at _dmarc.{domain} and none to inherit from a parent domain",
        f'publish a TXT record at _dmarc.{domain}, e.g. "v=DMARC1; p=none; rua=mailto:dmarc@{domain}", and '
        "tighten p once the reports show that all legitimate mail passes", f"_dmarc.{domain}")])


def _evaluate(dns: DnsClient, domain: str, owner: str, name: str, text: str, tags: TagList) -> DmarcResult:
    inherited = owner != domain
    applies = (tags.get("sp") or tags.get("p")) if inherited else tags.get("p")
    records = {"name": name, "record": text, "found_at": owner, "inherited": inherited,
               "tags": dict(tags.tags), "policy": applies}
    out = DmarcResult(records)
    out.findings += _syntax(tags, name)
    if tags.get("p") is None:
        out.findings.append(finding(
            "dmarc_p_missing", f"the DMARC record at {name} has no p= tag: RFC 9989 receivers read it as p=none, "
            "RFC 7489 receivers ignore the record", f"add p=none (or quarantine / reject) to the record at {name}", name))
    elif applies == "none":
        which = "sp (for subdomains)" if inherited and tags.get("sp") else "p"
        out.findings.append(finding(
            "dmarc_policy_none", f"the policy that applies to {domain} is none ({which} at {name}): failing mail is "
            "reported but delivered", "once `dmarcflow summary` shows no legitimate sender failing, move to "
            "p=quarantine, then p=reject", name))
    if tags.get("t") == "y":
        out.findings.append(finding(
            "dmarc_testing", f"the DMARC record at {name} has t=y (testing): receivers are asked not to enforce "
            f"p={tags.get('p')} yet", "remove t=y when the reports show that all legitimate mail passes", name))
    for tag in _REMOVED:
        if tags.get(tag) is not None:
            out.findings.append(finding(
                "dmarc_obsolete_tag", f"{tag}={tags.get(tag)} at {name}: RFC 9989 removed {tag}, so newer receivers "
                "ignore it", "remove it (for a gradual rollout RFC 9989 offers t=y instead of pct)" if tag == "pct"
                else "remove it", name, tag=tag))
    for tag in tags.names:
        if tag not in _KNOWN and tag not in _REMOVED:
            out.findings.append(finding(
                "dmarc_unknown_tag", f"{tag}= at {name} is not a DMARC tag, so receivers ignore it",
                "correct the tag name (e.g. adkim, aspf, rua) or remove it", name, tag=tag))
    rua, ruf = _addresses(tags.get("rua")), _addresses(tags.get("ruf"))
    records["rua"], records["ruf"] = rua, ruf
    if not rua:
        out.findings.append(finding(
            "dmarc_rua_missing", f"the DMARC record at {name} has no rua=: no receiver sends aggregate reports",
            f"add rua=mailto:<a mailbox dmarcflow reads> to the record at {name}", name))
    out.findings += _external(dns, owner, rua + ruf, records)
    return out


def _syntax(tags: TagList, name: str) -> list[Finding]:
    problems = list(tags.problems)
    if not tags.tags or tags.tags[0] != ("v", "DMARC1"):
        problems.append("v=DMARC1 must be the first tag")
    for tag, allowed in _CHOICES.items():
        value = tags.get(tag)
        if value is not None and value.lower() not in allowed:
            problems.append(f"{tag}={value!r} is not one of {', '.join(allowed)}")
    fo = tags.get("fo")
    if fo is not None and not all(part.strip() in ("0", "1", "d", "s") for part in fo.split(":")):
        problems.append(f"fo={fo!r} is not a colon-separated list of 0, 1, d, s")
    pct = tags.get("pct")
    if pct is not None and not (pct.isdigit() and int(pct) <= 100):
        problems.append(f"pct={pct!r} is not a number from 0 to 100")
    for tag in ("rua", "ruf"):
        for uri in _uris(tags.get(tag)):
            if not uri.lower().startswith("mailto:") or "@" not in uri:
                problems.append(f"{tag} entry {uri!r} is not a mailto: address")
    return [finding("dmarc_syntax", f"the DMARC record at {name}: {p}",
                    "correct the record (tags: v=DMARC1 first, then p, sp, np, adkim, aspf, rua, ruf, fo, t, psd)", name)
            for p in problems]


def _uris(value: str | None) -> list[str]:
    return [u.strip() for u in (value or "").split(",") if u.strip()]


def _addresses(value: str | None) -> list[str]:
    """The mailto addresses of a rua/ruf value (without an obsolete !size suffix)."""
    out = []
    for uri in _uris(value):
        if uri.lower().startswith("mailto:") and "@" in uri:
            out.append(uri[len("mailto:"):].split("!", 1)[0].strip())
    return out


def _external(dns: DnsClient, owner: str, addresses: list[str], records: dict[str, Any]) -> list[Finding]:
    """RFC 7489 7.1: a report address in another organisational domain must be authorised by a
    ``<owner>._report._dmarc.<its domain>`` TXT record starting with v=DMARC1."""
    out: list[Finding] = []
    checked: dict[str, bool | None] = {}
    for address in addresses:
        host = address.rsplit("@", 1)[1].lower().rstrip(".")
        if host in checked or organisational_domain(host) == organisational_domain(owner):
            continue
        answer = dns.txt(f"{owner}._report._dmarc.{host}")
        if answer.unreachable:
            checked[host] = None
            out.append(unreachable(answer, f"whether {host} accepts reports for {owner}"))
            continue
        checked[host] = bool(versioned(answer, "DMARC1"))
        if not checked[host]:
            out.append(finding(
                "dmarc_external_rua_unauthorised",
                f"reports for {owner} go to {address}, but {host} has not authorised them (no v=DMARC1 record at "
                f"{answer.name}): receivers do not send them there",
                f'have the operator of {host} publish "v=DMARC1" at {answer.name} (or use an address in {owner})',
                answer.name, address=address))
    records["external_destinations"] = dict(checked)
    return out
