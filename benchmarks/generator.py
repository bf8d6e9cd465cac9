"""Seeded synthetic DMARC aggregate reports with a known truth.

Used by the tests (small datasets whose expected figures are known exactly)
and by the benchmarks (huge reports streamed straight to disk).

Every record is derived from a *source* (an IP sending for one policy domain)
whose behaviour is fixed, so each source has exactly one class.  The
policy-evaluated results and the disposition are never chosen directly: they
are computed from the auth results, the alignment modes and the published
policy, with the same rules the analysis code implements:

* DMARC pass  = policy_evaluated dkim == pass or spf == pass.
* class       = forwarded     if a reason type is forwarded / mailing_list,
                forwarded     if DMARC passes through aligned DKIM and no SPF
                              auth result passes,
                authorised    if DMARC passes otherwise,
                misconfigured if some DKIM or SPF auth result passes, unaligned,
                unauthorised  if nothing passes.
* disposition = none on pass or on an override reason; otherwise the policy
                (p, or sp for subdomains), or none with reason sampled_out when
                pct < 100.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import re
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formatdate
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape

from publicsuffixlist import PublicSuffixList

CLASSES = ("authorised", "forwarded", "misconfigured", "unauthorised")
SCHEMAS = ("rfc7489", "draft", "rfc9990", "rfc9990-ns")
NAMESPACE_9990 = "urn:ietf:params:xml:ns:dmarc-2.0"
OVERRIDE_FORWARDING = ("forwarded", "mailing_list")
# Reasons that make a receiver deliver a failing message as if p=none.
OVERRIDE_DELIVER = ("forwarded", "mailing_list", "local_policy", "trusted_forwarder")

_PSL = PublicSuffixList()


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class DkimResult:
    domain: str
    selector: str | None
    result: str
    human_result: str | None = None


@dataclass(frozen=True)
class SpfResult:
    domain: str
    scope: str | None
    result: str


@dataclass(frozen=True)
class Reason:
    type: str
    comment: str | None = None


@dataclass(frozen=True)
class RecordSpec:
    source_ip: str
    count: int
    disposition: str
    dkim: str  # policy-evaluated
    spf: str  # policy-evaluated
    reasons: tuple[Reason, ...]
    header_from: str
    envelope_from: str | None
    envelope_to: str | None
    dkim_results: tuple[DkimResult, ...]
    spf_results: tuple[SpfResult, ...]


@dataclass(frozen=True)
class DomainSpec:
    name: str
    subdomains: tuple[str, ...] = ()
    adkim: str = "r"
    aspf: str = "r"
    p: str = "reject"
    sp: str | None = None
    np: str | None = None
    pct: int = 100
    fo: str = "0"


@dataclass(frozen=True)
class PolicySpec:
    domain: str
    adkim: str
    aspf: str
    p: str
    sp: str | None
    np: str | None
    pct: int
    fo: str
    testing: str = "n"
    discovery_method: str = "treewalk"


@dataclass(frozen=True)
class Quirks:
    """Reporter habits seen in the wild that a parser must normalise."""

    whitespace: bool = False  # newlines and spaces around text values
    upper_results: bool = False  # "Pass" / "Fail" instead of "pass"
    flat: bool = False  # no indentation, one line per record (compact senders)
    no_envelope_from: bool = False  # identifiers hold header_from only (Google)


@dataclass(frozen=True)
class Reporter:
    org_name: str
    email: str
    extra_contact_info: str | None
    id_style: str  # google | hex | yahoo | dotted
    envelope_to: str | None
    schema: str
    quirks: Quirks = Quirks()
    generator: str | None = None


@dataclass(frozen=True)
class ReportSpec:
    schema: str
    org_name: str
    email: str
    extra_contact_info: str | None
    report_id: str
    begin: int
    end: int
    policy: PolicySpec
    records: tuple[RecordSpec, ...] = ()
    errors: tuple[str, ...] = ()
    generator: str | None = None
    quirks: Quirks = Quirks()


@dataclass(frozen=True)
class SourceTruth:
    ip: str
    domain: str  # policy domain
    klass: str
    sender: str
    rdns: str | None


@dataclass(frozen=True)
class Figures:
    messages: int
    records: int
    dmarc_pass: int
    dmarc_fail: int
    spf_aligned: int
    dkim_aligned: int
    dispositions: Mapping[str, int]
    classes: Mapping[str, int]
    reports: int
    reporters: int


@dataclass(frozen=True)
class Options:
    reports: int = 12
    records_per_report: int = 20
    domains: tuple[DomainSpec, ...] = ()  # empty -> DEFAULT_DOMAINS
    start: int = 1772323200  # 2026-03-01T00:00:00Z
    days: int = 14
    shares: tuple[float, float, float, float] = (0.55, 0.1, 0.15, 0.2)  # CLASSES order
    schema: str = "rfc7489"  # or any of SCHEMAS, or "mixed" (the reporter's own)
    sources_per_domain: int = 16
    quirks: bool = False  # apply each reporter's quirks


@dataclass(frozen=True)
class _Behaviour:
    """How one source's mail looks; '{hf}' stands for the header_from domain."""

    envelope: str  # template of the MAIL FROM domain
    spf_result: str
    dkim: tuple[tuple[str, str, str, str | None], ...]  # (domain tpl, selector, result, human)
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class _Source:
    truth: SourceTruth
    behaviour: _Behaviour


DEFAULT_DOMAINS = (
    DomainSpec("example.com", ("mail.example.com",), "r", "r", "reject", "quarantine", "none"),
    DomainSpec("example.org", ("news.example.org",), "s", "s", "quarantine", None, None),
    DomainSpec("example.net", ("shop.example.net",), "r", "s", "quarantine", "none", "reject", 50),
)

REPORTERS = (
    Reporter("google.com", "noreply-dmarc-support@google.com",
             "https://support.google.com/a/answer/2466580", "google", None, "rfc7489",
             Quirks(no_envelope_from=True)),
    Reporter("Enterprise Outlook", "dmarcreport@microsoft.com", None, "hex", "outlook.com",
             "rfc7489"),
    Reporter("Yahoo", "dmarchelp@yahooinc.com", None, "yahoo", None, "rfc7489", Quirks(flat=True)),
    Reporter("Mail.Ru", "dmarc_support@corp.mail.ru", "http://help.mail.ru/mail-help", "dotted",
             None, "rfc9990-ns", Quirks(upper_results=True), "Mail.Ru DMARC reporter 2.1"),
    Reporter("Nordvik Telecom", "dmarc-noreply@nordvik-telecom.no", None, "dotted", None, "draft",
             Quirks(whitespace=True)),
    Reporter("Kestrel Networks", "postmaster@kestrel-net.de", "mailto:abuse@kestrel-net.de",
             "dotted", None, "rfc9990", Quirks(), "kestrel-dmarc 0.9"),
)

_PUBLIC_FIRST_OCTETS = (5, 31, 37, 45, 46, 62, 77, 78, 80, 82, 85, 89, 91, 94, 95, 103, 109,
                        112, 117, 121, 176, 177, 178, 181, 186, 187, 190, 195, 197, 200, 201,
                        212, 213, 217)


# ---------------------------------------------------------------------- evaluation


@lru_cache(maxsize=65536)
def org_domain(domain: str) -> str:
    """Organisational domain by the Public Suffix List (private suffix)."""
    d = domain.strip().lower().rstrip(".")
    return _PSL.privatesuffix(d) or d


def aligned(a: str, b: str, mode: str) -> bool:
    if mode == "s":
        return a.strip().lower() == b.strip().lower()
    return org_domain(a) == org_domain(b)


def evaluate(policy: PolicySpec, header_from: str, dkim: Sequence[DkimResult],
             spf: Sequence[SpfResult]) -> tuple[str, str]:
    """Policy-evaluated (dkim, spf): pass when a passing result is aligned."""
    dk = any(r.result == "pass" and aligned(r.domain, header_from, policy.adkim) for r in dkim)
    sp = any(r.result == "pass" and r.scope in (None, "mfrom")
             and aligned(r.domain, header_from, policy.aspf) for r in spf)
    return ("pass" if dk else "fail"), ("pass" if sp else "fail")


def requested_policy(policy: PolicySpec, header_from: str) -> str:
    if header_from.lower() == policy.domain.lower():
        return policy.p
    return policy.sp or policy.p


def apply_policy(policy: PolicySpec, header_from: str, passed: bool,
                 reasons: tuple[Reason, ...]) -> tuple[str, tuple[Reason, ...]]:
    if passed or any(r.type in OVERRIDE_DELIVER for r in reasons):
        return "none", reasons
    wanted = requested_policy(policy, header_from)
    if wanted == "none":
        return "none", reasons
    if policy.pct < 100:
        return "none", reasons + (Reason("sampled_out"),)
    return wanted, reasons


def classify_record(rec: RecordSpec, policy: PolicySpec) -> str:
    if any(r.type in OVERRIDE_FORWARDING for r in rec.reasons):
        return "forwarded"
    dkim_aligned_pass = rec.dkim == "pass"
    if dkim_aligned_pass or rec.spf == "pass":
        spf_auth_pass = any(r.result == "pass" for r in rec.spf_results)
        return "forwarded" if dkim_aligned_pass and not spf_auth_pass else "authorised"
    if any(r.result == "pass" for r in (*rec.dkim_results, *rec.spf_results)):
        return "misconfigured"
    return "unauthorised"


# ------------------------------------------------------------------------- sources


def _public_ip(rng: random.Random) -> str:
    return (f"{rng.choice(_PUBLIC_FIRST_OCTETS)}.{rng.randint(1, 254)}."
            f"{rng.randint(0, 255)}.{rng.randint(1, 254)}")


def _authorised(rng: random.Random, domain: str) -> tuple[str, str, str, _Behaviour]:
    kind = rng.choice(("own", "google", "microsoft"))
    if kind == "google":
        ip = f"209.85.{rng.randint(128, 255)}.{rng.randint(1, 254)}"
        rdns = f"mail-{rng.choice(('wr1', 'ej1', 'lf1', 'pl1', 'qk1'))}-f{ip.rsplit('.', 1)[1]}.google.com"
        dkim = (("{hf}", "google", "pass", None),
                ("{hfdash}.20230601.gappssmtp.com", "20230601", "pass", None))[:rng.choice((1, 1, 2))]
        return ip, "Google Workspace", rdns, _Behaviour("{hf}", "pass", dkim)
    if kind == "microsoft":
        ip = rng.choice(("40.107", "52.100", "52.101")) + f".{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        rdns = f"mail-{rng.choice(('db8eur05', 'am6eur03', 'vi1eur04'))}on2{rng.randint(100, 999)}.outbound.protection.outlook.com"
        dkim = (("{hf}", "selector1", "pass", None),
                ("{tenant}.onmicrosoft.com", "selector1-{tenant}", "pass", None))[:rng.choice((1, 1, 2))]
        return ip, "Microsoft 365", rdns, _Behaviour("{hf}", "pass", dkim)
    ip = _public_ip(rng)
    rdns = f"mx{rng.randint(1, 9)}.{org_domain(domain)}"
    return ip, f"{org_domain(domain)} mail servers", rdns, _Behaviour(
        "{hf}", "pass", (("{hf}", "s2026", "pass", None),))


def _forwarded(rng: random.Random, domain: str) -> tuple[str, str, str, _Behaviour]:
    ip = _public_ip(rng)
    if rng.random() < 0.5:
        host = f"lists.{rng.choice(('opensource-hub', 'hikers-guild', 'pyusers'))}.org"
        dkim = (("{hf}", "s2026", "fail", "body hash did not verify"),)
        return ip, f"mailing list {host}", host, _Behaviour(
            host, "pass", dkim, (Reason("mailing_list", "list " + host),))
    host = f"mx{rng.randint(1, 4)}.{rng.choice(('alumni-forward.org', 'pobox-relay.net', 'uni-mail.eu'))}"
    reasons = (Reason("forwarded", None),) if rng.random() < 0.5 else ()
    return ip, f"forwarder {host}", host, _Behaviour(
        "{hf}", rng.choice(("fail", "softfail")), (("{hf}", "s2026", "pass", None),), reasons)


def _misconfigured(rng: random.Random, domain: str) -> tuple[str, str, str, _Behaviour]:
    esp = rng.choice(("sendgrid", "mailchimp", "ses"))
    if esp == "sendgrid":
        ip = f"167.89.{rng.randint(0, 127)}.{rng.randint(1, 254)}"
        rdns = f"o{rng.randint(1, 9)}.ptr{rng.randint(1000, 9999)}.sendgrid.net"
        return ip, "SendGrid", rdns, _Behaviour(
            "em{n}.sendgrid.net", "pass", (("sendgrid.net", "smtpapi", "pass", None),))
    if esp == "mailchimp":
        ip = f"198.2.{rng.randint(128, 191)}.{rng.randint(1, 254)}"
        rdns = f"mail{rng.randint(10, 250)}.suw{rng.randint(10, 99)}.mcdlv.net"
        return ip, "Mailchimp", rdns, _Behaviour(rdns, "pass", (("mcsv.net", "k3", "pass", None),))
    ip = f"54.240.{rng.randint(0, 15)}.{rng.randint(1, 254)}"
    rdns = f"a{ip.split('.')[2]}-{ip.split('.')[3]}.smtp-out.amazonses.com"
    return ip, "Amazon SES", rdns, _Behaviour(
        "eu-west-1.amazonses.com", "pass",
        (("amazonses.com", "ihchhvubuqgjsxyuhssfvqohv7z3u4hn", "pass", None),))


def _unauthorised(rng: random.Random, domain: str) -> tuple[str, str | None, str, _Behaviour]:
    ip = _public_ip(rng)
    rdns = None if rng.random() < 0.5 else f"{ip.replace('.', '-')}.dyn.{rng.choice(('telenet-bb', 'vivo-net', 'vnpt-ip'))}.net"
    dkim = () if rng.random() < 0.5 else (("{hf}", "default", "fail", None),)
    spf = rng.choice(("fail", "softfail", "none", "permerror"))
    return ip, rdns, "unknown", _Behaviour("{hf}", spf, dkim)


_FACTORIES = {"authorised": _authorised, "forwarded": _forwarded,
              "misconfigured": _misconfigured}


def make_source(rng: random.Random, domain: str, klass: str, taken: set[str]) -> _Source:
    while True:
        if klass == "unauthorised":
            ip, rdns, sender, behaviour = _unauthorised(rng, domain)
        else:
            ip, sender, rdns, behaviour = _FACTORIES[klass](rng, domain)
        if ip not in taken:
            taken.add(ip)
            return _Source(SourceTruth(ip, domain, klass, sender, rdns), behaviour)


def make_sources(rng: random.Random, domain: str, n: int,
                 shares: Sequence[float]) -> dict[str, list[_Source]]:
    """At least one source per class with a positive share, the rest by share."""
    total = sum(shares)
    wanted = {k: max(1, round(n * s / total)) for k, s in zip(CLASSES, shares) if s > 0}
    taken: set[str] = set()
    return {k: [make_source(rng, domain, k, taken) for _ in range(c)] for k, c in wanted.items()}


# ------------------------------------------------------------------------- records


_COUNT_RANGE = {"authorised": (1, 400), "forwarded": (1, 30),
                "misconfigured": (1, 120), "unauthorised": (1, 25)}


def make_record(src: _Source, policy: PolicySpec, header_from: str, count: int,
                envelope_to: str | None) -> RecordSpec:
    b = src.behaviour
    fill = {"hf": header_from, "hfdash": header_from.replace(".", "-"),
            "tenant": org_domain(header_from).split(".")[0], "n": sum(map(ord, src.truth.ip)) % 9000}
    envelope = b.envelope.format(**fill)
    dkim = tuple(DkimResult(d.format(**fill), s.format(**fill), r, h) for d, s, r, h in b.dkim)
    spf = (SpfResult(envelope, "mfrom", b.spf_result),)
    dk, sp = evaluate(policy, header_from, dkim, spf)
    disposition, reasons = apply_policy(policy, header_from, "pass" in (dk, sp), b.reasons)
    rec = RecordSpec(src.truth.ip, count, disposition, dk, sp, reasons, header_from,
                     envelope, envelope_to, dkim, spf)
    if classify_record(rec, policy) != src.truth.klass:  # a bug in this module, not in data
        raise AssertionError(f"{src.truth} produced a {classify_record(rec, policy)} record")
    return rec


class RecordStream:
    """Draws records for one policy domain from a fixed pool of sources."""

    def __init__(self, rng: random.Random, domain: DomainSpec, shares: Sequence[float],
                 n_sources: int) -> None:
        self.rng = rng
        self.pool = make_sources(rng, domain.name, n_sources, shares)
        self.klasses = [k for k in CLASSES if k in self.pool]
        self.weights = [shares[CLASSES.index(k)] for k in self.klasses]
        self.hosts = (domain.name, *domain.subdomains)
        self.used: dict[tuple[str, str], SourceTruth] = {}

    def next(self, policy: PolicySpec, envelope_to: str | None) -> RecordSpec:
        rng = self.rng
        klass = rng.choices(self.klasses, self.weights)[0]
        src = rng.choice(self.pool[klass])
        self.used[(src.truth.ip, src.truth.domain)] = src.truth
        low, high = _COUNT_RANGE[klass]
        return make_record(src, policy, rng.choice(self.hosts), rng.randint(low, high),
                           envelope_to)


# ------------------------------------------------------------------------- dataset


class _Tally:
    """Mutable accumulator behind Figures."""

    def __init__(self) -> None:
        self.n = Counter()
        self.dispositions: Counter = Counter()
        self.classes: Counter = Counter()
        self.reports: set[tuple[str, str]] = set()
        self.reporters: set[str] = set()

    def add(self, rec: RecordSpec, klass: str) -> None:
        n = self.n
        n["messages"] += rec.count
        n["records"] += 1
        passed = "pass" in (rec.dkim, rec.spf)
        n["dmarc_pass" if passed else "dmarc_fail"] += rec.count
        n["spf_aligned"] += rec.count if rec.spf == "pass" else 0
        n["dkim_aligned"] += rec.count if rec.dkim == "pass" else 0
        self.dispositions[rec.disposition] += rec.count
        self.classes[klass] += rec.count

    def freeze(self) -> Figures:
        n = self.n
        return Figures(n["messages"], n["records"], n["dmarc_pass"], n["dmarc_fail"],
                       n["spf_aligned"], n["dkim_aligned"], dict(self.dispositions),
                       dict(self.classes), len(self.reports), len(self.reporters))


@dataclass(frozen=True)
class Dataset:
    seed: int
    reports: tuple[ReportSpec, ...]
    sources: tuple[SourceTruth, ...]
    _class_of: Mapping[tuple[str, str], str] = field(repr=False, compare=False, default_factory=dict)

    @property
    def domains(self) -> tuple[str, ...]:
        return tuple(sorted({r.policy.domain for r in self.reports}))

    def source_class(self, ip: str, domain: str) -> str:
        return self._class_of[(ip, domain)]

    def figures(self, domain: str | None = None) -> Figures:
        """Exact expected totals, for one policy domain or for everything."""
        tally = _Tally()
        for rep in self.reports:
            if domain is not None and rep.policy.domain != domain:
                continue
            tally.reports.add((rep.org_name, rep.report_id))
            tally.reporters.add(rep.org_name)
            for rec in rep.records:
                tally.add(rec, self._class_of[(rec.source_ip, rep.policy.domain)])
        return tally.freeze()

    def source_messages(self) -> dict[tuple[str, str], int]:
        """(ip, policy domain) -> messages."""
        out: Counter = Counter()
        for rep in self.reports:
            for rec in rep.records:
                out[(rec.source_ip, rep.policy.domain)] += rec.count
        return dict(out)


def policy_for(domain: DomainSpec, schema: str) -> PolicySpec:
    # RFC 9990 dropped pct and the draft had no np: keep only what the schema can say,
    # so that dispositions stay derivable from the published policy.
    is_9990 = schema.startswith("rfc9990")
    return PolicySpec(domain.name, domain.adkim, domain.aspf, domain.p, domain.sp,
                      domain.np if is_9990 else None, 100 if is_9990 else domain.pct, domain.fo)


def make_report_id(rng: random.Random, reporter: Reporter, domain: str, begin: int, i: int) -> str:
    if reporter.id_style == "google":
        return str(rng.randrange(10**19, 10**20))
    if reporter.id_style == "hex":
        return "%032x" % rng.getrandbits(128)
    if reporter.id_style == "yahoo":
        return f"{begin}.{rng.randrange(10**6, 10**7)}{i}"
    return f"{domain}.{begin}.{i}.{rng.randrange(10**5, 10**6)}"


def report_header(rng: random.Random, reporter: Reporter, policy: PolicySpec, schema: str,
                   begin: int, i: int, quirks: bool) -> ReportSpec:
    return ReportSpec(
        schema=schema, org_name=reporter.org_name, email=reporter.email,
        extra_contact_info=reporter.extra_contact_info,
        report_id=make_report_id(rng, reporter, policy.domain, begin, i),
        begin=begin, end=begin + 86399, policy=policy,
        generator=reporter.generator if schema.startswith("rfc9990") else None,
        quirks=reporter.quirks if quirks else Quirks())


def generate_dataset(seed: int, options: Options = Options()) -> Dataset:
    rng = random.Random(seed)
    domains = options.domains or DEFAULT_DOMAINS
    streams: dict[str, RecordStream] = {}
    reports = []
    for i in range(options.reports):
        reporter = REPORTERS[i % len(REPORTERS)]
        domain = domains[rng.randrange(len(domains))] if i >= len(domains) else domains[i]
        schema = reporter.schema if options.schema == "mixed" else options.schema
        policy = policy_for(domain, schema)
        if domain.name not in streams:
            streams[domain.name] = RecordStream(rng, domain, options.shares,
                                                options.sources_per_domain)
        stream = streams[domain.name]
        begin = options.start + rng.randrange(options.days) * 86400
        header = report_header(rng, reporter, policy, schema, begin, i, options.quirks)
        records = tuple(stream.next(policy, reporter.envelope_to)
                        for _ in range(options.records_per_report))
        reports.append(replace(header, records=records))
    used = {k: v for s in streams.values() for k, v in s.used.items()}
    sources = tuple(sorted(used.values(), key=lambda t: (t.domain, t.ip)))
    return Dataset(seed, tuple(reports), sources, {k: v.klass for k, v in used.items()})


# ------------------------------------------------------------------------ rendering


def _v(value: object, q: Quirks, indent: str) -> str:
    text = str(value)
    return f"\n{indent}  {text}\n{indent}" if q.whitespace else text


def _res(value: str, q: Quirks) -> str:
    return value.capitalize() if q.upper_results else value


def _el(name: str, value: object, q: Quirks, indent: str) -> str:
    return f"{indent}<{name}>{_v(value, q, indent)}</{name}>\n"


def render_header(rep: ReportSpec) -> str:
    q, schema = rep.quirks, rep.schema
    ns = f' xmlns="{NAMESPACE_9990}"' if schema == "rfc9990-ns" else ""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<feedback{ns}>\n"]
    if schema != "draft":
        out.append("  <version>1.0</version>\n")
    out.append("  <report_metadata>\n")
    out.append(_el("org_name", escape(rep.org_name), q, "    "))
    out.append(_el("email", escape(rep.email), q, "    "))
    if rep.extra_contact_info:
        out.append(_el("extra_contact_info", escape(rep.extra_contact_info), q, "    "))
    out.append(_el("report_id", escape(rep.report_id), q, "    "))
    out.append("    <date_range>\n")
    out.append(_el("begin", rep.begin, q, "      ") + _el("end", rep.end, q, "      "))
    out.append("    </date_range>\n")
    out.extend(_el("error", escape(e), q, "    ") for e in rep.errors)
    if rep.generator and schema.startswith("rfc9990"):
        out.append(_el("generator", escape(rep.generator), q, "    "))
    out.append("  </report_metadata>\n")
    out.append(render_policy(rep.policy, schema, q))
    text = "".join(out)
    return _FLAT.sub("", text).replace("?>", "?>\n", 1) + "\n" if q.flat else text


def render_policy(p: PolicySpec, schema: str, q: Quirks) -> str:
    i = "    "
    out = ["  <policy_published>\n", _el("domain", p.domain, q, i)]
    if schema.startswith("rfc9990"):
        out.append(_el("discovery_method", p.discovery_method, q, i))
    # The draft schema left adkim/aspf/pct out when they had their default value.
    if schema != "draft" or p.adkim != "r":
        out.append(_el("adkim", p.adkim, q, i))
    if schema != "draft" or p.aspf != "r":
        out.append(_el("aspf", p.aspf, q, i))
    out.append(_el("p", p.p, q, i))
    if p.sp:
        out.append(_el("sp", p.sp, q, i))
    if schema.startswith("rfc9990"):
        if p.np:
            out.append(_el("np", p.np, q, i))
        out.append(_el("testing", p.testing, q, i))
    elif schema != "draft" or p.pct != 100:
        out.append(_el("pct", p.pct, q, i))
    if schema != "draft":
        out.append(_el("fo", p.fo, q, i))
    out.append("  </policy_published>\n")
    return "".join(out)


def render_record(r: RecordSpec, schema: str, q: Quirks = Quirks()) -> str:
    i3, i4 = "      ", "        "
    out = ["  <record>\n    <row>\n", _el("source_ip", r.source_ip, q, i3), _el("count", r.count, q, i3),
           "      <policy_evaluated>\n", _el("disposition", r.disposition, q, i4),
           _el("dkim", _res(r.dkim, q), q, i4), _el("spf", _res(r.spf, q), q, i4)]
    for reason in r.reasons:
        comment = f"<comment>{escape(reason.comment)}</comment>" if reason.comment else ""
        out.append(f"{i4}<reason><type>{reason.type}</type>{comment}</reason>\n")
    out.append("      </policy_evaluated>\n    </row>\n")
    out.append(render_identifiers(r, schema, q))
    out.append(render_auth_results(r, schema, q))
    out.append("  </record>\n")
    text = "".join(out)
    return _FLAT.sub("", text).lstrip() + "\n" if q.flat else text


def render_identifiers(r: RecordSpec, schema: str, q: Quirks) -> str:
    out = ["    <identifiers>\n"]
    if r.envelope_to:  # Microsoft's order: envelope_to, envelope_from, header_from
        out.append(_el("envelope_to", r.envelope_to, q, "      "))
        if r.envelope_from:
            out.append(_el("envelope_from", r.envelope_from, q, "      "))
        out.append(_el("header_from", r.header_from, q, "      "))
    else:
        out.append(_el("header_from", r.header_from, q, "      "))
        if r.envelope_from and schema != "draft" and not q.no_envelope_from:
            out.append(_el("envelope_from", r.envelope_from, q, "      "))
    out.append("    </identifiers>\n")
    return "".join(out)


def render_auth_results(r: RecordSpec, schema: str, q: Quirks) -> str:
    i = "        "
    out = ["    <auth_results>\n"]
    for d in r.dkim_results:
        out.append("      <dkim>\n" + _el("domain", d.domain, q, i))
        if d.selector and schema != "draft":
            out.append(_el("selector", d.selector, q, i))
        out.append(_el("result", _res(d.result, q), q, i))
        if d.human_result:
            out.append(_el("human_result", escape(d.human_result), q, i))
        out.append("      </dkim>\n")
    for s in r.spf_results:
        out.append("      <spf>\n" + _el("domain", s.domain, q, i))
        if s.scope and schema != "draft":
            out.append(_el("scope", s.scope, q, i))
        out.append(_el("result", _res(s.result, q), q, i) + "      </spf>\n")
    out.append("    </auth_results>\n")
    return "".join(out)


FOOTER = "</feedback>\n"
_FLAT = re.compile(r"\n *")


def render_xml(report: ReportSpec) -> bytes:
    body = "".join(render_record(r, report.schema, report.quirks) for r in report.records)
    return (render_header(report) + body + FOOTER).encode("utf-8")


def stream_report_spec(seed: int = 1, schema: str = "rfc7489",
                       domain: DomainSpec = DEFAULT_DOMAINS[0]) -> ReportSpec:
    """A Google-style report header (no records) for write_report_xml.

    Flat layout without envelope_from, as large receivers send it, which
    keeps a record near 420 bytes.
    """
    rng = random.Random(seed)
    header = report_header(rng, REPORTERS[0], policy_for(domain, schema), schema,
                            Options().start, 0, False)
    return replace(header, quirks=Quirks(flat=True, no_envelope_from=True))


def write_report_xml(target: str | Path | BinaryIO, report: ReportSpec, n_records: int, *,
                     seed: int = 1, shares: Sequence[float] = Options().shares,
                     n_sources: int = 2000, distinct_ips: bool = False) -> Figures:
    """Stream a report with n_records generated records; returns its exact figures.

    The report's own records are ignored: records are drawn on the fly from a
    seeded source pool, so memory stays flat whatever n_records is. With
    distinct_ips every record gets a source IP of its own (the pool's behaviour,
    and so its class, are kept): the worst case for per-IP work.
    """
    if isinstance(target, (str, Path)):
        with open(target, "wb") as fh:
            return write_report_xml(fh, report, n_records, seed=seed, shares=shares,
                                    n_sources=n_sources, distinct_ips=distinct_ips)
    dom = next((d for d in DEFAULT_DOMAINS if d.name == report.policy.domain),
               DomainSpec(report.policy.domain))
    stream = RecordStream(random.Random(seed), dom, shares, n_sources)
    tally = _Tally()
    tally.reports.add((report.org_name, report.report_id))
    tally.reporters.add(report.org_name)
    target.write(render_header(report).encode("utf-8"))
    chunk: list[str] = []
    for i in range(n_records):
        rec = stream.next(report.policy, None)
        tally.add(rec, stream.used[(rec.source_ip, report.policy.domain)].klass)
        if distinct_ips:
            rec = replace(rec, source_ip=distinct_ip(i))
        chunk.append(render_record(rec, report.schema, report.quirks))
        if len(chunk) >= 2000:
            target.write("".join(chunk).encode("utf-8"))
            chunk.clear()
    target.write(("".join(chunk) + FOOTER).encode("utf-8"))
    return tally.freeze()


def distinct_ip(i: int) -> str:
    """The i-th of 34 x 256 x 256 x 254 distinct public-looking IPv4 addresses."""
    first = _PUBLIC_FIRST_OCTETS[i % len(_PUBLIC_FIRST_OCTETS)]
    j = i // len(_PUBLIC_FIRST_OCTETS)
    return f"{first}.{j // (256 * 254) % 256}.{j // 254 % 256}.{j % 254 + 1}"


# ------------------------------------------------------------------------ packaging

FIXED_ZIP_TIME = (2026, 3, 15, 0, 0, 0)


def gzip_bytes(data: bytes, filename: str | None = None) -> bytes:
    """Gzip with mtime 0 (and an optional stored name) so output is reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=filename or "", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def zip_bytes(members: Iterable[tuple[str, bytes]]) -> bytes:
    """Deflated zip with fixed timestamps and attributes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data)
    return buf.getvalue()


def report_filename(report: ReportSpec, ext: str) -> str:
    """Google-style name: receiver!policy-domain!begin!end<ext>."""
    receiver = report.email.split("@", 1)[1]
    return f"{receiver}!{report.policy.domain}!{report.begin}!{report.end}{ext}"


def report_subject(report: ReportSpec) -> str:
    return (f"Report Domain: {report.policy.domain} Submitter: {report.org_name} "
            f"Report-ID: <{report.report_id}>")


def stable_token(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def report_email(attachment: bytes, filename: str, content_type: str, report: ReportSpec,
                 *, to: str | None = None) -> bytes:
    """An RFC 5322 message from the reporter carrying one report attachment.

    Date, Message-ID and the MIME boundary derive from the report, so the
    bytes are reproducible.
    """
    msg = report_email_message(attachment, filename, content_type, report, to=to)
    return msg.as_bytes()


def report_email_message(attachment: bytes, filename: str, content_type: str,
                         report: ReportSpec, *, to: str | None = None) -> EmailMessage:
    msg = EmailMessage(policy=default_policy)
    msg["From"] = f'"{report.org_name}" <{report.email}>'
    msg["To"] = to or f"dmarc@{report.policy.domain}"
    msg["Subject"] = report_subject(report)
    msg["Date"] = formatdate(report.end + 3 * 3600 + 17, usegmt=True)
    msg["Message-ID"] = f"<{stable_token(report.report_id)}@{report.email.split('@', 1)[1]}>"
    msg.set_content(f"This is a DMARC aggregate report from {report.org_name} "
                    f"for {report.policy.domain}.\n")
    maintype, subtype = content_type.split("/", 1)
    if maintype == "text":
        msg.add_attachment(attachment.decode("utf-8"), subtype=subtype, filename=filename,
                           cte="base64")
    else:
        msg.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    msg.set_boundary(f"=_dmarc_{stable_token(report.report_id + filename)}")
    return msg


def mbox_bytes(messages: Iterable[tuple[str, int, bytes]]) -> bytes:
    """mboxrd from (envelope sender, epoch seconds, message bytes) with fixed From_ lines."""
    out = io.BytesIO()
    for sender, when, raw in messages:
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(when))
        out.write(f"From {sender} {stamp}\n".encode())
        for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
            if line.lstrip(b">").startswith(b"From "):
                line = b">" + line
            out.write(line + b"\n")
        out.write(b"\n")
    return out.getvalue()


# ------------------------------------------------------------------------------ CLI


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.generator",
                                 description="Stream one synthetic DMARC aggregate report.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--schema", choices=SCHEMAS, default="rfc7489")
    ap.add_argument("--out", required=True, help="output .xml path")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    figures = write_report_xml(args.out, stream_report_spec(args.seed, args.schema),
                               args.records, seed=args.seed)
    elapsed = time.perf_counter() - started
    size = Path(args.out).stat().st_size
    print(json.dumps({"out": args.out, "records": figures.records, "messages": figures.messages,
                      "bytes": size, "bytes_per_record": round(size / max(1, figures.records), 1),
                      "seconds": round(elapsed, 2), "dispositions": figures.dispositions,
                      "classes": figures.classes}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
