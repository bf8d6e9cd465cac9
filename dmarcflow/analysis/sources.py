"""Sources: sending IPs (or the senders grouping them) with one class each.

A source's class is the class with the most messages among its rollup rows;
ties go to the worst class (unauthorised > misconfigured > forwarded >
authorised), so that a doubt never hides a problem. Each source is matched
once against the service catalogue (never per row) for its service, its IP
pool (shared or dedicated) and, when it fails and may be the domain's, its fix.
"""

from __future__ import annotations

import json
import socket
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dmarcflow.analysis.approved import ApprovedMatcher, SourceFacts
from dmarcflow.analysis.catalogue import Catalogue, Clues, Recogniser, Service
from dmarcflow.analysis.fixes import failure_words, fix_text
from dmarcflow.models import SOURCE_CLASSES, IpFacts, PolicyPublished, SourceRow
from dmarcflow.verdict import explain, mix_note

FAILING_CLASSES = ("misconfigured", "unauthorised")
VIEWS = ("ip", "sender")
VERDICTS = ("ok", "ok (forwarded)", "approved but failing: fix its setup",
            "may be yours: approve it and fix it, or mark it not ours", "impostor candidate", "not ours")
_SEVERITY = {k: i for i, k in enumerate(SOURCE_CLASSES)}  # authorised 0 ... unauthorised 3


class SourceDetail(NamedTuple):
    failing_domain: int = 0
    failing_other: int = 0
    spf_only: int = 0
    mailing_list: int = 0
    explainer: _Explainer | None = None  # the explanation is made on demand: most sources are never shown
    recogniser: Recogniser | None = None  # recognition runs on demand too
    infos: tuple[IpFacts | None, ...] = ()
    rows: Sequence[SourceRow] = ()  # its rollup rows, for the figures only some sources need
    recognised: list[tuple[Service | None, str | None]] | None = None  # filled on first use: (service, pool)
    explained: list[tuple[str, SourceRow]] | None = None  # filled on first use: (explanation, main row)


NO_DETAIL = SourceDetail()


@dataclass(frozen=True)
class Source:
    ip: str | None  # None in the sender view
    ips: tuple[str, ...]
    sender: str
    reverse_dns: str | None
    country: str | None
    asn: int | None
    as_name: str | None
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    klass: str
    classes: Mapping[str, int]
    approved_by: str | None
    fix: str | None = None  # set when it fails and may be the domain's (approved or unlisted misconfigured)
    not_ours_by: str | None = None  # the not_ours entry that matched (approval wins over it)
    detail: SourceDetail = field(default_factory=lambda: NO_DETAIL, compare=False, repr=False)

    # The figures behind the readiness advice, and what recognition needs, kept in one tuple: a summary
    # builds tens of thousands of sources, and each frozen field costs its share of every construction.
    @property
    def failing_domain(self) -> int:
        """Messages failing DMARC whose From is the policy domain itself."""
        return self.detail.failing_domain

    @property
    def failing_other(self) -> int:
        """Messages failing DMARC whose From is another (sub)domain."""
        return self.detail.failing_other

    @property
    def quarantined(self) -> int:
        """Messages receivers quarantined (summed on demand: only impostor figures need it)."""
        return sum(r.quarantined for r in self.detail.rows)

    @property
    def rejected(self) -> int:
        return sum(r.rejected for r in self.detail.rows)

    @property
    def spf_only(self) -> int:
        """Messages passing DMARC through SPF without aligned DKIM."""
        return self.detail.spf_only

    @property
    def mailing_list(self) -> int:
        """Messages forwarded with a mailing_list override."""
        return self.detail.mailing_list

    @property
    def main_row(self) -> SourceRow | None:
        """The verdict its explanation is made from."""
        return _explained(self.detail, self.klass, self.classes, len(self.ips))[1]

    @property
    def explanation(self) -> str:
        """Why it has its class, in words (the verdict carrying most of its messages; mixes and IPs noted)."""
        return _explained(self.detail, self.klass, self.classes, len(self.ips))[0]

    @property
    def sender_kind(self) -> str:
        """Where the sender name comes from: "service" (a sending service), "rdns" (the reverse-DNS base domain),
        "as" (a network's name: an ISP, a host, an AS) or "ip" (nothing known). A network's name is too broad
        to approve by, so those are approved by their IPs."""
        infos = self.detail.infos
        if len(self.ips) == 1 and len(infos) == 1:  # most sources: no set to build
            return sender_kind(self.ips[0], infos[0])
        kinds = {sender_kind(ip, info) for ip, info in zip(self.ips, infos, strict=False)}
        return kinds.pop() if len(kinds) == 1 else "as"

    @property
    def clues(self) -> tuple[Clues, ...]:
        main = self.main_row
        return tuple(_clues(ip, info, main) for ip, info in zip(self.ips, self.detail.infos, strict=False)) if main else ()

    def _recognised(self) -> tuple[Service | None, str | None]:
        """(the service all its IPs are recognised as, the pool), worked out once per source."""
        d = self.detail
        if d.recognised is None or d.recogniser is None:
            return None, None
        if not d.recognised:
            clues = self.clues
            found = [d.recogniser.service(c) for c in clues]
            pools = {d.recogniser.pool(entry, c) for entry, c in zip(found, clues, strict=True)}
            entry = found[0] if found and all(f is found[0] for f in found) else None
            d.recognised.append((entry, pools.pop() if len(pools) == 1 else "mixed" if pools else None))
        return d.recognised[0]

    @property
    def service_entry(self) -> Service | None:
        """The catalogue service all its IPs are recognised as, or None."""
        return self._recognised()[0]

    @property
    def service(self) -> str | None:
        entry = self._recognised()[0]
        return entry.name if entry else None

    @property
    def pool(self) -> str | None:
        """"shared" | "dedicated" | "mixed" (sender view) | None (unknown)."""
        return self._recognised()[1]

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def approved(self) -> bool:
        return self.approved_by is not None

    @property
    def not_ours(self) -> bool:
        return self.not_ours_by is not None and not self.approved

    @property
    def legitimate(self) -> bool:
        return self.approved or (self.klass not in FAILING_CLASSES and not self.not_ours)

    @property
    def may_be_ours(self) -> bool:
        """Unlisted and misconfigured: part of it passes for another domain, so it may be a sender of
        the domain's that is set up wrongly, until it is approved or marked not ours."""
        return self.klass == "misconfigured" and not self.approved and not self.not_ours

    @property
    def impostor(self) -> bool:
        return not self.approved and (self.not_ours or self.klass == "unauthorised")

    @property
    def needs_fix(self) -> bool:
        return self.klass in FAILING_CLASSES and (self.approved or self.may_be_ours)

    @property
    def failure(self) -> str:
        """Why it fails, in a few words ("fails DKIM alignment")."""
        return failure_words(self.main_row)

    @property
    def verdict(self) -> str:
        if self.not_ours:
            return VERDICTS[5]
        if self.klass not in FAILING_CLASSES:
            return VERDICTS[0] if self.klass == "authorised" else VERDICTS[1]
        if self.approved:
            return VERDICTS[2]
        return VERDICTS[3] if self.klass == "misconfigured" else VERDICTS[4]

    @property
    def approve_with(self) -> str | None:
        """The config line that approves it, for [approved."DOMAIN"] (None when approved)."""
        return None if self.approved else self._approve_line(self.service)

    def _approve_line(self, service: str | None) -> str:
        kind = self.sender_kind
        if service or kind == "service":
            return f"services = [{_toml(service or self.sender)}]"
        if kind == "rdns":
            return f"rdns_domains = [{_toml(self.sender)}]"
        return "networks = [" + ", ".join(_toml(_host_network(ip)) for ip in self.ips) + "]"

    @property
    def not_ours_with(self) -> str | None:
        """The config line that marks it not ours (offered for senders that may be the domain's)."""
        line = self.approve_with
        return None if line is None else "not_ours = " + line.partition(" = ")[2]

    def as_dict(self) -> dict[str, Any]:
        entry, pool = self._recognised()
        service = entry.name if entry else None
        approved = self.approved_by is not None
        classes = self.classes
        return {
            "ip": self.ip, "ips": list(self.ips), "sender": self.sender, "reverse_dns": self.reverse_dns,
            "country": self.country, "asn": self.asn, "as_name": self.as_name, "messages": self.messages,
            "dmarc_pass": self.dmarc_pass, "dmarc_fail": self.messages - self.dmarc_pass,
            "spf_aligned": self.spf_aligned, "dkim_aligned": self.dkim_aligned, "class": self.klass,
            "classes": {k: classes.get(k, 0) for k in SOURCE_CLASSES}, "explanation": self.explanation,
            "approved": approved, "approved_by": self.approved_by, "not_ours": self.not_ours_by is not None and not approved,
            "not_ours_by": self.not_ours_by, "verdict": self.verdict, "service": service, "pool": pool,
            "fix": self.fix, "approve_with": None if approved else self._approve_line(service),
        }


def _toml(text: str) -> str:
    # A JSON string is a valid TOML basic string (same escapes), and quotes whatever a report held. Printable
    # text without quotes or backslashes is what json.dumps returns between quotes (it escapes nothing else),
    # and that is nearly every name: the encoder is left to the rest.
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def _host_network(ip: str) -> str:
    """The one-address network of an IP ("192.0.2.1/32"), normalised; the text itself if it is no IP."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, ip)) + ("/128" if ":" in ip else "/32")
    except (OSError, ValueError):  # reports do not always hold an IP here
        return ip


# Service-map types whose name stands for a sending service; other types (ISP, Web Host, MSP, ...) name a
# network that many unrelated senders share, so an approval by that name would be far too broad.
SENDING_TYPES = frozenset({"Marketing", "SaaS", "Email Provider", "Email Security"})


def sender_kind(ip: str, info: IpFacts | None) -> str:
    if info is None or not info.sender or info.sender == ip:
        return "ip"
    if info.sender_type in SENDING_TYPES:
        return "service"
    if info.sender_type is None and info.sender == info.base_domain:
        return "rdns"
    return "as"


class SourceTotals(NamedTuple):
    """A source's figures (a NamedTuple: one is built per source, tens of thousands per summary)."""

    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    failing_domain: int
    failing_other: int
    spf_only: int
    mailing_list: int
    classes: dict[str, int]
    klass: str


def totals_of(rows: list[SourceRow], domain: str) -> SourceTotals:
    classes: dict[str, int] = {}
    messages = passed = spf = dkim = failing_domain = failing_other = spf_only = mailing_list = 0
    # Unpacked rather than read by name: this loop runs once per rollup row.
    for _ip, klass, header_from, dmarc_pass, dkim_ok, spf_ok, _dd, _sd, _dr, _sr, reasons, n, _q, _r in rows:
        classes[klass] = classes.get(klass, 0) + n
        messages += n
        if dkim_ok:
            dkim += n
        if spf_ok:
            spf += n
        if dmarc_pass:
            passed += n
            if not dkim_ok:
                spf_only += n
        elif header_from == domain:
            failing_domain += n
        else:
            failing_other += n
        if klass == "forwarded" and "mailing_list" in reasons:
            mailing_list += n
    klass = next(iter(classes)) if len(classes) == 1 else max(classes, key=lambda k: (classes[k], _SEVERITY[k]))
    return SourceTotals(messages, passed, spf, dkim, failing_domain, failing_other, spf_only, mailing_list, classes, klass)


def _main_row(rows: Sequence[SourceRow], klass: str, explainer: _Explainer) -> tuple[str, SourceRow]:
    """The explanation carrying the most messages of the source's class (ties: the first in text order),
    and its biggest row."""
    if len(rows) == 1:
        return explainer(rows[0]), rows[0]
    best: dict[str, list[Any]] = {}
    for r in rows:
        if r.klass == klass:
            text = explainer(r)
            entry = best.get(text)
            if entry is None:
                best[text] = [r.messages, r]
            else:
                entry[0] += r.messages
                if r.messages > entry[1].messages:
                    entry[1] = r
    main = next(iter(best)) if len(best) == 1 else min(best, key=lambda text: (-best[text][0], text))
    return main, best[main][1]


class _Explainer:
    """explain() memoised on the fields it reads: thousands of sources share a few verdicts."""

    def __init__(self, policy: PolicyPublished | None) -> None:
        self.policy = policy
        self.cache: dict[tuple[Any, ...], str] = {}

    def __call__(self, r: SourceRow) -> str:
        # klass .. reasons: the fields explain() reads, plus dmarc_pass (which they decide); one slice
        key = r[1:11]
        text = self.cache.get(key)
        if text is None:
            text = self.cache[key] = explain(r, r.klass, self.policy)
        return text


def sender_name(ip: str, info: IpFacts | None) -> str:
    return info.sender if info and info.sender else ip


@dataclass(frozen=True)
class Context:
    """What every source of one domain is built with."""

    domain: str
    infos: Mapping[str, IpFacts]
    explainer: _Explainer
    matcher: ApprovedMatcher
    recogniser: Recogniser | None
    view: str
    adkim: str
    listed: bool  # the domain has approved or not_ours entries


def build_sources(
    rows: Iterable[SourceRow],
    infos: Mapping[str, IpFacts],
    domain: str,
    policy: PolicyPublished | None,
    matcher: ApprovedMatcher,
    view: str = "ip",
    catalogue: Catalogue | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Source]:
    """One Source per IP (view "ip") or per sender (view "sender"), biggest first.

    ``names`` (sender view): IP -> the name to group it under, instead of its sender name.
    """
    groups = by_ip(rows) if view == "ip" else _by_sender(rows, infos, names)
    ctx = context(domain, infos, policy, matcher, view, catalogue)
    sources = [source_of(name, group, totals_of(group, domain), ctx) for name, group in groups.items()]
    return sorted(sources, key=lambda s: (-s.messages, s.sender, s.ip or ""))


def context(domain: str, infos: Mapping[str, IpFacts], policy: PolicyPublished | None, matcher: ApprovedMatcher,
            view: str, catalogue: Catalogue | None) -> Context:
    recogniser = Recogniser(catalogue, domain) if catalogue else None
    return Context(domain, infos, _Explainer(policy), matcher, recogniser, view, policy.adkim if policy else "r",
                   not matcher.empty)


def by_ip(rows: Iterable[SourceRow]) -> dict[str, list[SourceRow]]:
    groups: dict[str, list[SourceRow]] = {}
    for row in rows:
        group = groups.get(row[0])  # row.ip, by position: once per rollup row
        if group is None:
            groups[row[0]] = [row]
        else:
            group.append(row)
    return groups


def _by_sender(rows: Iterable[SourceRow], infos: Mapping[str, IpFacts],
               names: Mapping[str, str] | None) -> dict[str, list[SourceRow]]:
    if names:
        key: Callable[[SourceRow], str] = lambda r: names.get(r.ip) or sender_name(r.ip, infos.get(r.ip))  # noqa: E731
    else:
        key = lambda r: sender_name(r.ip, infos.get(r.ip))  # noqa: E731
    groups: dict[str, list[SourceRow]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def source_of(name: str, rows: list[SourceRow], t: SourceTotals, ctx: Context) -> Source:
    """The source called ``name`` (an IP, or a sender name), from its rows and their totals."""
    one = ctx.view == "ip"
    ips = (name,) if one else tuple(sorted({r.ip for r in rows}))
    facts = (ctx.infos.get(name),) if one else tuple([ctx.infos.get(ip) for ip in ips])
    detail = SourceDetail(t.failing_domain, t.failing_other, t.spf_only, t.mailing_list, ctx.explainer,
                          ctx.recogniser, facts, rows, [], [])
    approved_by = not_ours_by = None
    failing = t.klass in FAILING_CLASSES
    if ctx.listed or failing:  # only these need the main row now; the others make it when shown
        main = _explained(detail, t.klass, t.classes, len(ips))[1]
        if ctx.listed:
            approved_by, not_ours_by = _listed(ctx, ips, detail, main)
    fix = None
    if failing and (approved_by or (t.klass == "misconfigured" and not not_ours_by)):
        fix = fix_text(_service_of(ctx, ips, detail, main), main, ips, ctx.adkim)  # few sources ask the catalogue
    first = facts[0]
    if len(facts) == 1:
        country, asn, as_name = (first.country, first.asn, first.as_name) if first else (None, None, None)
    else:
        country, asn, as_name = _common(facts, "country"), _common(facts, "asn"), _common(facts, "as_name")
    return _new_source(
        ip=name if one else None, ips=ips, sender=sender_name(name, first) if one else name,
        reverse_dns=first.reverse_dns if len(ips) == 1 and first else None, country=country, asn=asn,
        as_name=as_name, messages=t.messages, dmarc_pass=t.dmarc_pass, spf_aligned=t.spf_aligned,
        dkim_aligned=t.dkim_aligned, klass=t.klass, classes=t.classes, approved_by=approved_by,
        fix=fix, not_ours_by=not_ours_by, detail=detail,
    )


def _new_source(**values: Any) -> Source:
    """A Source with every field given, its attributes set in one step: the generated __init__ of a frozen
    dataclass sets each field through object.__setattr__, which was the largest part of building a source
    (tests check that the two make equal sources with the same fields)."""
    source = object.__new__(Source)
    source.__dict__.update(values)
    return source


def _explained(detail: SourceDetail, klass: str, classes: Mapping[str, int], n_ips: int) -> tuple[str, SourceRow | None]:
    """(explanation, main row) of a source, made once, on first use."""
    if detail.explained is None or detail.explainer is None:
        return "", None
    if not detail.explained:
        text, main = _main_row(detail.rows, klass, detail.explainer)
        if len(classes) > 1:
            text += mix_note(classes, klass, sum(classes.values()))
        if n_ips > 1:
            text += f" ({n_ips} IPs)"
        detail.explained.append((text, main))
    return detail.explained[0]


def _service_of(ctx: Context, ips: tuple[str, ...], detail: SourceDetail, main: SourceRow | None) -> Service | None:
    if ctx.recogniser is None or main is None:
        return None
    found = [ctx.recogniser.service(_clues(ip, info, main)) for ip, info in zip(ips, detail.infos, strict=False)]
    return found[0] if all(f is found[0] for f in found) else None


def _clues(ip: str, info: IpFacts | None, main: SourceRow) -> Clues:
    """What one IP of a source tells about its sender."""
    if info is None:
        return Clues(ip, dkim_domain=main.dkim_domain or None, spf_domain=main.spf_domain or None)
    return Clues(ip, info.reverse_dns, info.base_domain, main.dkim_domain or None, main.spf_domain or None,
                 info.as_domain, info.sender)


def _listed(ctx: Context, ips: tuple[str, ...], detail: SourceDetail,
            main: SourceRow | None) -> tuple[str | None, str | None]:
    """(approved_by, not_ours_by): in the sender view, a sender is approved (or disowned) when all its IPs are."""
    if main is None:
        return None, None
    matched = []
    for ip, info in zip(ips, detail.infos, strict=False):
        service = ctx.recogniser.service(_clues(ip, info, main)) if ctx.recogniser else None
        matched.append(_facts(ip, info, service))
    approvals = [ctx.matcher.match(f) for f in matched]
    disowned = [ctx.matcher.disowned(f) for f in matched]
    return (approvals[0] if all(approvals) else None), (disowned[0] if all(disowned) else None)


def _facts(ip: str, info: IpFacts | None, service: Service | None) -> SourceFacts:
    names = service.names if service else ()
    if info is None:
        return SourceFacts(ip, None, None, None, names)
    return SourceFacts(ip, info.sender, info.base_domain, info.reverse_dns, names)


def _common(facts: tuple[IpFacts | None, ...], name: str) -> Any:
    """The value all IPs share, or None when they differ."""
    if len(facts) == 1:
        return getattr(facts[0], name) if facts[0] else None
    values = {getattr(f, name) if f else None for f in facts}
    return values.pop() if len(values) == 1 else None
