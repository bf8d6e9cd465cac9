"""Payload -> (Report, iterator of Records), streaming with lxml, in bounded memory whatever the shape.

Each <record> is turned into a Record and freed; the event source (xml_events) frees everything
else and judges the root element first (it must be <feedback>; a DTD is refused). Caches belong
to one ReportParser, so nothing outlives the report it was made for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from dmarcflow import normalise as n
from dmarcflow.errors import NotAReport, ParseError, Warnings
from dmarcflow.models import DkimResult, OverrideReason, PolicyPublished, Record, Report, ReportMetadata, SpfResult
from dmarcflow.xml_events import MAX_ELEMENT_BYTES, Element, Events

__all__ = ["MAX_ELEMENT_BYTES", "NotAReport", "ParsedReport", "ReportParser", "parse_report"]
from dmarcflow.xml_input import Readable, xml_chunks

NS_RFC9990 = "urn:ietf:params:xml:ns:dmarc-2.0"
_CACHE_MAX = 4096
_MEMO_TEXT_MAX = 512  # auth results with longer texts are built each time rather than kept

AuthKey = tuple[object, ...]


@dataclass
class ParsedReport:
    report: Report
    records: Iterator[Record]


def parse_report(stream: Readable, warnings: Warnings | None = None, sender_domain: str | None = None) -> ParsedReport:
    """Read the report header eagerly; records follow lazily from the same parse."""
    return ReportParser(warnings, sender_domain).parse(stream)


@dataclass
class _Header:
    report: Report
    first_record: Element


class ReportParser:
    """Parses one payload. Its caches (tag names, auth results) are bounded and die with it."""

    def __init__(self, warnings: Warnings | None = None, sender_domain: str | None = None) -> None:
        self.warnings = warnings if warnings is not None else Warnings()
        self._sender = sender_domain
        self._names: dict[object, str] = {}
        self._auth: dict[AuthKey, DkimResult | SpfResult] = {}
        self._org = n.OrgDomains(_CACHE_MAX)

    def parse(self, stream: Readable) -> ParsedReport:
        events = Events(xml_chunks(stream, self.warnings.add))
        it = iter(events)
        header = self._read_header(events, it)
        return ParsedReport(header.report, self._records(header, events, it))

    def _local(self, tag: object) -> str:
        """Local name of a tag, namespace dropped; cached because tags repeat in every record."""
        name = self._names.get(tag)
        if name is None:
            name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
            if isinstance(tag, str) and len(self._names) < _CACHE_MAX:
                self._names[tag] = name
        return name

    def _fields(self, el: Element) -> dict[str, Element]:
        """Direct children by local name (the first of each name)."""
        out: dict[str, Element] = {}
        for child in el:
            name = self._local(child.tag)
            if name and name not in out:
                out[name] = child
        return out

    def _read_header(self, events: Events, it: Iterator[tuple[str, Element]]) -> _Header:
        seen: dict[str, Element] = {}
        first_record = None
        for _, el in it:
            if events.root is None:
                events.root = el.getroottree().getroot()  # <feedback>: the root check came first
            if el.getparent() is not events.root:
                continue  # only the report's own elements, not look-alikes nested in extensions
            name = self._local(el.tag)
            if name == "record":
                first_record = el
                break
            if name not in seen:
                seen[name] = el
                events.root.remove(el)  # finished: kept here, out of the tree that is freed between chunks
        if first_record is None:
            raise ParseError("missing_field", "the report has no <record>")
        return _Header(self._build_report(seen, etree.QName(events.root).namespace or ""), first_record)

    def _build_report(self, seen: dict[str, Element], ns: str) -> Report:
        if "report_metadata" not in seen:
            raise ParseError("missing_field", "<report_metadata> is missing")
        if "policy_published" not in seen:
            raise ParseError("missing_field", "<policy_published> is missing")
        meta = seen["report_metadata"]
        meta_f = self._fields(meta)
        pol_f = self._fields(seen["policy_published"])
        version = n.text(seen["version"].text) if "version" in seen else None
        is_9990 = ns == NS_RFC9990 or any(k in pol_f for k in ("np", "testing", "discovery_method")) or "generator" in meta_f
        schema = "rfc9990" if is_9990 else ("rfc7489" if version else "draft")
        policy, defaults = _build_policy(pol_f, schema)
        return Report(
            metadata=self._build_metadata(meta, meta_f),
            policy=policy,
            schema=schema,
            version=version,
            namespace=ns or None,
            defaults_applied=defaults,
        )

    def _build_metadata(self, el: Element, f: dict[str, Element]) -> ReportMetadata:
        email = n.text(_txt(f, "email"))
        report_id = n.text(_txt(f, "report_id"))
        if not report_id:
            raise ParseError("missing_field", "report_metadata/report_id is missing")
        dr = self._fields(f["date_range"]) if "date_range" in f else {}
        begin = n.epoch_to_utc(_txt(dr, "begin"), "date_range/begin")
        end = n.epoch_to_utc(_txt(dr, "end"), "date_range/end")
        if begin > end:
            raise ParseError("invalid_value",
                             f"date_range begins after it ends ({begin:%Y-%m-%dT%H:%M:%SZ} > {end:%Y-%m-%dT%H:%M:%SZ})")
        errors = tuple(t for t in (n.text(c.text) for c in el if self._local(c.tag) == "error") if t)
        return ReportMetadata(
            org_name=self._org_name(n.text(_txt(f, "org_name")), email),
            email=email,
            extra_contact_info=n.text(_txt(f, "extra_contact_info")),
            report_id=report_id,
            begin=begin,
            end=end,
            errors=errors,
            generator=n.text(_txt(f, "generator")),
        )

    def _org_name(self, org: str | None, email: str | None) -> str:
        """The reporter's name; when it is missing, the reporter's domain stands in (and says so)."""
        if org:
            return org
        domain = n.email_domain(email)
        if domain:
            self.warnings.add("org_name_from_email")
            return domain
        if self._sender:
            self.warnings.add("org_name_from_sender")
            return self._sender
        raise ParseError("missing_field", "report_metadata/org_name is missing")

    def _records(self, header: _Header, events: Events, it: Iterator[tuple[str, Element]]) -> Iterator[Record]:
        policy = header.report.policy
        root = events.root
        cached, local = self._names.get, self._local
        yield self._build_record(header.first_record, policy)
        _free(header.first_record)
        for _, el in it:
            if (cached(el.tag) or local(el.tag)) == "record" and el.getparent() is root:
                yield self._build_record(el, policy)
                _free(el)

    def _build_record(self, el: Element, policy: PolicyPublished) -> Record:
        """One pass over the record's children; a hot path, hence the flat loops and the inlined name cache."""
        cached = self._names.get
        local = self._local
        row: dict[str, str | None] = {}
        pe: dict[str, str | None] = {}
        ident: dict[str, str | None] = {}
        reasons: list[OverrideReason] = []
        dkim: tuple[DkimResult, ...] = ()
        spf: tuple[SpfResult, ...] = ()
        for part in el:
            name = cached(part.tag) or local(part.tag)
            if name == "row":
                for c in part:
                    cname = cached(c.tag) or local(c.tag)
                    if cname == "policy_evaluated":
                        self._policy_evaluated(c, pe, reasons)
                    else:
                        row.setdefault(cname, c.text)
            elif name == "identifiers":
                for c in part:
                    ident.setdefault(cached(c.tag) or local(c.tag), c.text)
            elif name == "auth_results":
                dkim, spf = self._auth_results(part)
        return self._make_record(row, pe, ident, tuple(reasons), dkim, spf, policy)

    def _policy_evaluated(self, el: Element, pe: dict[str, str | None], reasons: list[OverrideReason]) -> None:
        for c in el:
            cname = self._local(c.tag)
            if cname == "reason":
                f = self._fields(c)
                reasons.append(OverrideReason(type=n.word(_txt(f, "type")) or "other", comment=n.text(_txt(f, "comment"))))
            else:
                pe.setdefault(cname, c.text)

    def _make_record(
        self,
        row: dict[str, str | None],
        pe: dict[str, str | None],
        ident: dict[str, str | None],
        reasons: tuple[OverrideReason, ...],
        dkim: tuple[DkimResult, ...],
        spf: tuple[SpfResult, ...],
        policy: PolicyPublished,
    ) -> Record:
        source_ip = n.source_ip(row.get("source_ip"))
        header_from = n.domain(ident.get("header_from")) or policy.domain
        alignment = n.compute_alignment(header_from, dkim, spf, policy.adkim, policy.aspf, self._org)
        dkim_eval = n.choice(pe.get("dkim"), n.EVALUATED, "policy_evaluated/dkim")
        spf_eval = n.choice(pe.get("spf"), n.EVALUATED, "policy_evaluated/spf")
        if dkim_eval is None or spf_eval is None:
            # Old reporters sent only the disposition: the verdict DMARC defines, from our own alignment.
            self.warnings.add("policy_evaluated_computed")
            dkim_eval = dkim_eval or ("pass" if alignment.dkim else "fail")
            spf_eval = spf_eval or ("pass" if alignment.spf else "fail")
        dmarc_pass = dkim_eval == "pass" or spf_eval == "pass"
        return Record(
            source_ip=source_ip,
            count=n.count(row.get("count")),
            disposition=n.choice(pe.get("disposition"), n.DISPOSITIONS, "policy_evaluated/disposition", "none") or "none",
            dkim_evaluated=dkim_eval,
            spf_evaluated=spf_eval,
            header_from=header_from,
            envelope_from=n.domain(ident.get("envelope_from")),
            envelope_to=n.domain(ident.get("envelope_to")),
            reasons=reasons,
            dkim=dkim,
            spf=spf,
            alignment=alignment,
            source_class=n.classify(dmarc_pass, reasons, alignment, dkim, spf),
        )

    def _auth_results(self, el: Element) -> tuple[tuple[DkimResult, ...], tuple[SpfResult, ...]]:
        """Auth results repeat across records (same domains, selectors, results): each distinct one is built once."""
        memo = self._auth
        dkim: list[DkimResult] = []
        spf: list[SpfResult] = []
        for child in el:
            key: AuthKey = (child.tag, *[x for c in child for x in (c.tag, c.text)])
            entry = memo.get(key)
            if entry is None:
                entry = self._auth_entry(child)
                if entry is None:
                    continue
                if len(memo) < _CACHE_MAX and _text_size(key) <= _MEMO_TEXT_MAX:
                    memo[key] = entry
            (dkim if type(entry) is DkimResult else spf).append(entry)  # type: ignore[arg-type]
        return tuple(dkim), tuple(spf)

    def _auth_entry(self, child: Element) -> DkimResult | SpfResult | None:
        name = self._local(child.tag)
        if name not in ("dkim", "spf"):
            return None
        f: dict[str, str | None] = {}
        for c in child:
            f.setdefault(self._local(c.tag), c.text)
        dom = n.domain(f.get("domain")) or ""
        result = n.word(f.get("result")) or "none"
        human = n.text(f.get("human_result"))
        if name == "dkim":
            return DkimResult(dom, n.text(f.get("selector")), result, human)
        return SpfResult(dom, n.word(f.get("scope")) or "mfrom", result, human)


def _txt(fields: dict[str, Element], name: str) -> str | None:
    el = fields.get(name)
    return el.text if el is not None else None


def _text_size(key: AuthKey) -> int:
    return sum(len(x) for x in key if isinstance(x, str))


def _free(el: Element) -> None:
    """Drop the finished record and everything before it."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _build_policy(f: dict[str, Element], schema: str) -> tuple[PolicyPublished, tuple[str, ...]]:
    dom = n.domain(_txt(f, "domain"))
    if not dom:
        raise ParseError("missing_field", "policy_published/domain is missing")
    p = n.choice(_txt(f, "p"), n.POLICIES, "policy_published/p")
    if p is None:
        raise ParseError("missing_field", "policy_published/p is missing")
    defaults: list[str] = []

    def opt(name: str, allowed: set[str] | None, default: str | None) -> str | None:
        raw = _txt(f, name)
        value = n.choice(raw, allowed, f"policy_published/{name}") if allowed else n.word(raw)
        if value is None and default is not None:
            defaults.append(name)
            return default
        return value

    adkim = opt("adkim", {"r", "s"}, "r") or "r"
    aspf = opt("aspf", {"r", "s"}, "r") or "r"
    sp = opt("sp", n.POLICIES, p)
    np_ = opt("np", n.POLICIES, sp) if schema == "rfc9990" else n.choice(_txt(f, "np"), n.POLICIES, "policy_published/np")
    fo = opt("fo", None, "0")
    pct = n.pct(_txt(f, "pct"), schema, defaults)
    return (
        PolicyPublished(
            domain=dom, adkim=adkim, aspf=aspf, p=p, sp=sp, np=np_, pct=pct, fo=fo,
            testing=n.choice(_txt(f, "testing"), {"y", "n"}, "policy_published/testing"),
            discovery_method=n.word(_txt(f, "discovery_method")),
        ),
        tuple(defaults),
    )
