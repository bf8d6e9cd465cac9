"""SPF evaluation (RFC 7208 check_host) and the static lookup count of a record tree.

Limits as RFC 7208 4.6.4 counts them: include, a, mx, ptr, exists and redirect
each cost one DNS lookup (at most 10 per evaluation, through includes and
redirects); at most 2 of them may find nothing (void lookups); an mx or ptr
term may look at 10 names at most. Exceeding a limit is a permerror.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dmarcflow.check.dns import Answer, DnsClient
from dmarcflow.check.spf_record import (
    DNS_TERMS,
    MacroContext,
    Mechanism,
    SpfRecord,
    expand,
    has_macro,
    is_spf,
    parse_spf,
)

MAX_LOOKUPS = 10
MAX_VOID = 2
MAX_NAMES = 10  # per mx or ptr term
_LINT_CAP = 60  # stop walking a runaway (or looping) include tree here


@dataclass(frozen=True)
class Fetched:
    """The SPF record at a name, or why there is none."""

    status: str  # ok | none | multiple | syntax | unreachable
    record: SpfRecord | None
    answer: Answer

    @property
    def problem(self) -> str:
        return {"none": "has no SPF record", "multiple": "has several SPF records",
                "syntax": "has an SPF record that does not parse", "unreachable": "did not answer"}.get(self.status, "")


def fetch(dns: DnsClient, domain: str) -> Fetched:
    answer = dns.txt(domain)
    if answer.unreachable:
        return Fetched("unreachable", None, answer)
    texts = [t for t in answer.records if is_spf(t)]
    if not texts:
        return Fetched("none", None, answer)
    if len(texts) > 1:
        return Fetched("multiple", None, answer)
    record = parse_spf(texts[0])
    return Fetched("syntax" if record.problems else "ok", record, answer)


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass
class _Budget:
    lookups: int = 0
    void: int = 0

    def lookup(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _PermError(f"more than {MAX_LOOKUPS} DNS lookups")

    def check_void(self, answer: Answer) -> None:
        if answer.unreachable:
            raise _TempError(f"{answer.name} did not answer")
        if answer.void:
            self.void += 1
            if self.void > MAX_VOID:
                raise _PermError(f"more than {MAX_VOID} void lookups")


@dataclass(frozen=True)
class Evaluation:
    result: str  # pass | fail | softfail | neutral | none | permerror | temperror
    mechanism: str | None  # the term that matched
    reason: str | None  # why a permerror / temperror
    lookups: int


class SpfEvaluator:
    """check_host(ip, domain, sender) against the DNS client's answers."""

    def __init__(self, dns: DnsClient) -> None:
        self._dns = dns

    def check_host(self, ip: str, domain: str, sender: str | None = None) -> Evaluation:
        budget = _Budget()
        ctx = MacroContext(ip, domain, sender or f"postmaster@{domain}")
        try:
            result, term = self._check(ipaddress.ip_address(ip), domain, ctx, budget, depth=0)
        except _PermError as exc:
            return Evaluation("permerror", None, str(exc), budget.lookups)
        except _TempError as exc:
            return Evaluation("temperror", None, str(exc), budget.lookups)
        except ValueError:
            return Evaluation("none", None, f"{ip!r} is not an IP address", budget.lookups)
        return Evaluation(result, term, None, budget.lookups)

    def _check(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, domain: str, ctx: MacroContext,
               budget: _Budget, depth: int) -> tuple[str, str | None]:
        got = fetch(self._dns, domain)
        if got.status == "unreachable":
            raise _TempError(f"{domain} did not answer")
        if got.status == "none":
            return "none", None
        if got.record is None or got.status != "ok":
            raise _PermError(f"{domain} {got.problem}")
        ctx = MacroContext(ctx.ip, domain, ctx.sender)
        for mech in got.record.mechanisms:
            if self._matches(mech, ip, domain, ctx, budget, depth):
                return mech.qualifier, str(mech)
        if got.record.uses_redirect and got.record.redirect:
            budget.lookup()
            target = expand(got.record.redirect, ctx)
            result, term = self._check(ip, target, ctx, budget, depth + 1)
            if result == "none":
                raise _PermError(f"the redirect target {target} has no SPF record")
            return result, term
        return "neutral", None

    def _matches(  # noqa: C901 - one branch per SPF mechanism (RFC 7208 5)
        self, mech: Mechanism, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, domain: str, ctx: MacroContext,
        budget: _Budget, depth: int,
    ) -> bool:
        if mech.name == "all":
            return True
        if mech.name in ("ip4", "ip6"):
            net = ipaddress.ip_network(mech.target or "")
            return net.version == ip.version and ip in net
        budget.lookup()
        target = expand(mech.target, ctx) if mech.target else domain
        if mech.name == "include":
            if depth > MAX_LOOKUPS:
                raise _PermError("includes nest too deep")
            result, _ = self._check(ip, target, ctx, budget, depth + 1)
            if result == "none":
                raise _PermError(f"the include target {target} has no SPF record")
            if result in ("permerror", "temperror"):
                raise _PermError(f"the include of {target} failed")
            return result == "pass"
        if mech.name == "exists":
            answer = self._dns.query(target, "A")
            budget.check_void(answer)
            return bool(answer.records)
        if mech.name == "ptr":
            return self._ptr(ip, target, budget)
        hosts = [target] if mech.name == "a" else self._mx_hosts(target, budget)
        prefix = mech.cidr4 if ip.version == 4 else mech.cidr6
        for host in hosts:
            answer = self._dns.query(host, "A" if ip.version == 4 else "AAAA")
            if mech.name == "a":
                budget.check_void(answer)
            for address in answer.records:
                net = ipaddress.ip_network(f"{address}/{prefix if prefix is not None else ip.max_prefixlen}", strict=False)
                if ip in net:
                    return True
        return False

    def _mx_hosts(self, target: str, budget: _Budget) -> list[str]:
        answer = self._dns.query(target, "MX")
        budget.check_void(answer)
        if len(answer.records) > MAX_NAMES:
            raise _PermError(f"{target} has more than {MAX_NAMES} MX names")
        return list(answer.records)

    def _ptr(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, target: str, budget: _Budget) -> bool:
        answer = self._dns.query(ip.reverse_pointer, "PTR")
        for name in answer.records[:MAX_NAMES]:
            forward = self._dns.query(name, "A" if ip.version == 4 else "AAAA")
            if str(ip) in {str(ipaddress.ip_address(a)) for a in forward.records} and (
                    name == target or name.endswith("." + target)):
                return True
        return False


@dataclass
class Lint:
    """The worst case of a record tree: every DNS term counted, as if none matched."""

    lookups: int = 0
    void: int = 0
    broken: list[tuple[str, str]] = field(default_factory=list)  # (target, what is wrong)
    unreachable: list[Answer] = field(default_factory=list)
    tree: list[str] = field(default_factory=list)  # the records walked, "name: record"


def lint(dns: DnsClient, domain: str, record: SpfRecord) -> Lint:
    out = Lint()
    _walk(dns, domain, record, out, {domain})
    return out


def _walk(dns: DnsClient, domain: str, record: SpfRecord, out: Lint, seen: set[str]) -> None:
    out.tree.append(f"{domain}: {record.text}")
    for mech in record.mechanisms:
        if mech.name not in DNS_TERMS or out.lookups > _LINT_CAP:
            continue
        out.lookups += 1
        target = mech.target or domain
        if has_macro(target):
            continue  # depends on the sending IP or sender: counted, not followed
        if mech.name == "include":
            _follow(dns, target, out, seen, "include")
        elif mech.name in ("a", "exists"):
            answers = [dns.query(target, "A")] + ([dns.query(target, "AAAA")] if mech.name == "a" else [])
            _note_void(answers, out)
        elif mech.name == "mx":
            answer = dns.query(target, "MX")
            _note_void([answer], out)
            if len(answer.records) > MAX_NAMES:
                out.broken.append((target, f"has {len(answer.records)} MX names (at most {MAX_NAMES})"))
    if record.uses_redirect and record.redirect and out.lookups <= _LINT_CAP:
        out.lookups += 1
        if not has_macro(record.redirect):
            _follow(dns, record.redirect, out, seen, "redirect")


def _follow(dns: DnsClient, target: str, out: Lint, seen: set[str], how: str) -> None:
    got = fetch(dns, target)
    if got.status == "unreachable":
        out.unreachable.append(got.answer)
        return
    if got.answer.void:
        out.void += 1
    if got.status != "ok" or got.record is None:
        out.broken.append((target, f"({how}) {got.problem}"))
        return
    if target in seen:
        out.broken.append((target, f"({how}) is included again: a loop"))
        out.lookups = max(out.lookups, MAX_LOOKUPS + 1)
        return
    _walk(dns, target, got.record, out, seen | {target})


def _note_void(answers: list[Answer], out: Lint) -> None:
    for answer in answers:
        if answer.unreachable:
            out.unreachable.append(answer)
            return
    if all(a.void for a in answers):
        out.void += 1
