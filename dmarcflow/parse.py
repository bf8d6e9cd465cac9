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
from dmarcflow.models import PolicyPublished, Record, Report, ReportMetadata
from dmarcflow.record_xml import Memos, RecordBuilder
from dmarcflow.xml_events import MAX_ELEMENT_BYTES, Element, Events

__all__ = ["MAX_ELEMENT_BYTES", "NotAReport", "ParsedReport", "ReportParser", "parse_report"]
from dmarcflow.xml_input import Readable, xml_chunks

NS_RFC9990 = "urn:ietf:params:xml:ns:dmarc-2.0"
_CACHE_MAX = 4096


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
    """Parses one payload. Its caches (tag names, registrable domains, records' shapes) are bounded and die with it."""

    def __init__(self, warnings: Warnings | None = None, sender_domain: str | None = None) -> None:
        self.warnings = warnings if warnings is not None else Warnings()
        self._sender = sender_domain
        self._memos = Memos(_CACHE_MAX)
        self._names = self._memos.names

    def parse(self, stream: Readable) -> ParsedReport:
        events = Events(xml_chunks(stream, self.warnings.add))
        it = iter(events)
        header = self._read_header(events, it)
        return ParsedReport(header.report, self._records(header, events, it))

    def _read_header(self, events: Events, it: Iterator[tuple[str, Element]]) -> _Header:
        seen: dict[str, Element] = {}
        first_record = None
        for _, el in it:
            if events.root is None:
                events.root = el.getroottree().getroot()  # <feedback>: the root check came first
            if el.getparent() is not events.root:
                continue  # only the report's own elements, not look-alikes nested in extensions
            name = self._names(el.tag)
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
        meta_f = self._names.fields(meta)
        pol_f = self._names.fields(seen["policy_published"])
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
        dr = self._names.fields(f["date_range"]) if "date_range" in f else {}
        begin = n.epoch_to_utc(_txt(dr, "begin"), "date_range/begin")
        end = n.epoch_to_utc(_txt(dr, "end"), "date_range/end")
        if begin > end:
            raise ParseError("invalid_value",
                             f"date_range begins after it ends ({begin:%Y-%m-%dT%H:%M:%SZ} > {end:%Y-%m-%dT%H:%M:%SZ})")
        errors = tuple(t for t in (n.text(c.text) for c in el if self._names(c.tag) == "error") if t)
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
        build = RecordBuilder(header.report.policy, self.warnings, self._memos).build
        root = events.root
        names, cached = self._names, self._names.cached
        yield build(header.first_record)
        # A record built is emptied at once; the shells left go with the chunk they came in (Events._tidy).
        header.first_record.clear()
        for _, el in it:
            if (cached(el.tag) or names(el.tag)) == "record" and el.getparent() is root:
                yield build(el)
                el.clear()


def _txt(fields: dict[str, Element], name: str) -> str | None:
    el = fields.get(name)
    return el.text if el is not None else None


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
