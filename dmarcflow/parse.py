"""Payload -> (Report, iterator of Records), streaming with lxml.iterparse.

The XML is read element by element; each <record> is turned into a Record and
then freed, so memory stays flat whatever the report size. DTDs are refused
before parsing starts and entities are never expanded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from lxml import etree

from dmarcflow import normalise as n
from dmarcflow.errors import ParseError
from dmarcflow.models import (
    DkimResult,
    OverrideReason,
    PolicyPublished,
    Record,
    Report,
    ReportMetadata,
    SpfResult,
)

NS_RFC9990 = "urn:ietf:params:xml:ns:dmarc-2.0"
_TOP = ("{*}version", "{*}report_metadata", "{*}policy_published", "{*}record")
_PROLOG_PEEK = 65536


@dataclass
class ParsedReport:
    report: Report
    records: Iterator[Record]


_LOCAL_NAMES: dict[object, str] = {}


def _local(tag: object) -> str:
    """Local name of a tag, namespace dropped; cached because tags repeat in every record."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if isinstance(tag, str) and len(_LOCAL_NAMES) < 4096:
            _LOCAL_NAMES[tag] = name
    return name


def _fields(el: etree._Element) -> dict[str, etree._Element]:
    """Direct children by local name (the first of each name)."""
    out: dict[str, etree._Element] = {}
    for child in el:
        name = _local(child.tag)
        if name and name not in out:
            out[name] = child
    return out


def _txt(fields: dict[str, etree._Element], name: str) -> str | None:
    el = fields.get(name)
    return el.text if el is not None else None


class _PrologGuard:
    """A file wrapper that refuses documents declaring a DTD.

    A DOCTYPE must come before the root element, so looking at the first block
    is enough to refuse billion-laughs and external-entity documents outright.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        head = stream.read(_PROLOG_PEEK)
        if not head.strip():
            raise ParseError("empty", "the payload is empty")
        if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
            raise ParseError("forbidden_xml", "the XML declares a DTD or entities; they are refused for safety")
        self._head = head

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._stream.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


def parse_report(stream: IO[bytes]) -> ParsedReport:
    """Read the report header eagerly; records follow lazily from the same parse."""
    events = etree.iterparse(
        _PrologGuard(stream),
        events=("start", "end"),
        tag=("{*}feedback",) + _TOP,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        header = _read_header(events)
    except etree.XMLSyntaxError as exc:
        raise _malformed(exc) from None
    return ParsedReport(header.report, _records(header, events))


def _malformed(exc: etree.XMLSyntaxError) -> ParseError:
    return ParseError("malformed_xml", f"the XML is not well-formed: {exc}")


@dataclass
class _Header:
    report: Report
    first_record: etree._Element | None


def _read_header(it: Iterator[tuple[str, etree._Element]]) -> _Header:
    seen: dict[str, etree._Element] = {}
    root_ns: str | None = None
    first_record = None
    for event, el in it:
        name = _local(el.tag)
        if event == "start":
            if name == "feedback" and root_ns is None:
                root_ns = etree.QName(el).namespace or ""
            elif root_ns is None:
                raise ParseError("not_a_report", f"the root element is <{name}>, not <feedback>")
            continue
        if name == "record":
            first_record = el
            break
        if name != "feedback" and name not in seen:
            seen[name] = el
    if root_ns is None:
        raise ParseError("not_a_report", "no <feedback> element: not a DMARC aggregate report")
    if first_record is None:
        raise ParseError("missing_field", "the report has no <record>")
    return _Header(_build_report(seen, root_ns), first_record)


def _build_report(seen: dict[str, etree._Element], ns: str) -> Report:
    if "report_metadata" not in seen:
        raise ParseError("missing_field", "<report_metadata> is missing")
    if "policy_published" not in seen:
        raise ParseError("missing_field", "<policy_published> is missing")
    meta = seen["report_metadata"]
    meta_f = _fields(meta)
    pol_f = _fields(seen["policy_published"])
    version = n.text(seen["version"].text) if "version" in seen else None
    is_9990 = ns == NS_RFC9990 or any(k in pol_f for k in ("np", "testing", "discovery_method")) or "generator" in meta_f
    schema = "rfc9990" if is_9990 else ("rfc7489" if version else "draft")
    policy, defaults = _build_policy(pol_f, schema)
    return Report(
        metadata=_build_metadata(meta),
        policy=policy,
        schema=schema,
        version=version,
        namespace=ns or None,
        defaults_applied=defaults,
    )


def _build_metadata(el: etree._Element) -> ReportMetadata:
    f = _fields(el)
    org = n.text(_txt(f, "org_name"))
    report_id = n.text(_txt(f, "report_id"))
    if not org:
        raise ParseError("missing_field", "report_metadata/org_name is missing")
    if not report_id:
        raise ParseError("missing_field", "report_metadata/report_id is missing")
    dr = _fields(f["date_range"]) if "date_range" in f else {}
    begin = n.epoch_to_utc(_txt(dr, "begin"), "date_range/begin")
    end = n.epoch_to_utc(_txt(dr, "end"), "date_range/end")
    if begin > end:
        raise ParseError("invalid_value", f"date_range begins after it ends ({begin:%Y-%m-%dT%H:%M:%SZ} > {end:%Y-%m-%dT%H:%M:%SZ})")
    errors = tuple(t for t in (n.text(c.text) for c in el if _local(c.tag) == "error") if t)
    return ReportMetadata(
        org_name=org,
        email=n.text(_txt(f, "email")),
        extra_contact_info=n.text(_txt(f, "extra_contact_info")),
        report_id=report_id,
        begin=begin,
        end=end,
        errors=errors,
        generator=n.text(_txt(f, "generator")),
    )


def _build_policy(f: dict[str, etree._Element], schema: str) -> tuple[PolicyPublished, tuple[str, ...]]:
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

    adkim = opt("adkim", {"r", "s"}, "r")
    aspf = opt("aspf", {"r", "s"}, "r")
    sp = opt("sp", n.POLICIES, p)
    np_ = opt("np", n.POLICIES, sp) if schema == "rfc9990" else n.choice(_txt(f, "np"), n.POLICIES, "policy_published/np")
    fo = opt("fo", None, "0")
    pct = _pct(_txt(f, "pct"), schema, defaults)
    return (
        PolicyPublished(
            domain=dom, adkim=adkim, aspf=aspf, p=p, sp=sp, np=np_, pct=pct, fo=fo,
            testing=n.choice(_txt(f, "testing"), {"y", "n"}, "policy_published/testing"),
            discovery_method=n.word(_txt(f, "discovery_method")),
        ),
        tuple(defaults),
    )


def _pct(raw: str | None, schema: str, defaults: list[str]) -> int | None:
    value = n.text(raw)
    if value is None:
        if schema == "rfc9990":
            return None  # RFC 9990 dropped pct
        defaults.append("pct")
        return 100
    if not value.isdigit() or int(value) > 100:
        raise ParseError("invalid_value", f"policy_published/pct is not 0-100: {value[:20]!r}")
    return int(value)


def _records(header: _Header, events: Iterator[tuple[str, etree._Element]]) -> Iterator[Record]:
    policy = header.report.policy
    yield _build_record(header.first_record, policy)
    _free(header.first_record)
    try:
        for event, el in events:
            if event == "end" and (_LOCAL_NAMES.get(el.tag) or _local(el.tag)) == "record":
                yield _build_record(el, policy)
                _free(el)
    except etree.XMLSyntaxError as exc:
        raise _malformed(exc) from None


def _free(el: etree._Element) -> None:
    """Drop the finished record and everything before it."""
    el.clear()
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _build_record(el: etree._Element, policy: PolicyPublished) -> Record:
    """One pass over the record's children; a hot path, hence the flat loops and the inlined name cache."""
    cached = _LOCAL_NAMES.get
    row: dict[str, str | None] = {}
    pe: dict[str, str | None] = {}
    ident: dict[str, str | None] = {}
    reasons: list[OverrideReason] = []
    dkim: tuple[DkimResult, ...] = ()
    spf: tuple[SpfResult, ...] = ()
    for part in el:
        name = cached(part.tag) or _local(part.tag)
        if name == "row":
            for c in part:
                cname = cached(c.tag) or _local(c.tag)
                if cname == "policy_evaluated":
                    _policy_evaluated(c, pe, reasons)
                else:
                    row.setdefault(cname, c.text)
        elif name == "identifiers":
            for c in part:
                ident.setdefault(cached(c.tag) or _local(c.tag), c.text)
        elif name == "auth_results":
            dkim, spf = _auth_results(part)
    return _make_record(row, pe, ident, tuple(reasons), dkim, spf, policy)


def _policy_evaluated(el: etree._Element, pe: dict[str, str | None], reasons: list[OverrideReason]) -> None:
    for c in el:
        cname = _local(c.tag)
        if cname == "reason":
            f = _fields(c)
            reasons.append(OverrideReason(type=n.word(_txt(f, "type")) or "other", comment=n.text(_txt(f, "comment"))))
        else:
            pe.setdefault(cname, c.text)


def _make_record(row, pe, ident, reasons, dkim, spf, policy: PolicyPublished) -> Record:
    source_ip = n.text(row.get("source_ip"))
    if not source_ip:
        raise ParseError("missing_field", "record/row/source_ip is missing")
    header_from = n.domain(ident.get("header_from")) or policy.domain
    dkim_eval = n.choice(pe.get("dkim"), n.EVALUATED, "policy_evaluated/dkim", "fail")
    spf_eval = n.choice(pe.get("spf"), n.EVALUATED, "policy_evaluated/spf", "fail")
    alignment = n.compute_alignment(header_from, dkim, spf, policy.adkim, policy.aspf)
    dmarc_pass = dkim_eval == "pass" or spf_eval == "pass"
    return Record(
        source_ip=source_ip,
        count=n.count(row.get("count")),
        disposition=n.choice(pe.get("disposition"), n.DISPOSITIONS, "policy_evaluated/disposition", "none"),
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


# Auth results repeat across records (same domains, selectors, results): build each distinct one once.
_AUTH_MEMO: dict[tuple, DkimResult | SpfResult] = {}


def _auth_results(el: etree._Element) -> tuple[tuple[DkimResult, ...], tuple[SpfResult, ...]]:
    dkim: list[DkimResult] = []
    spf: list[SpfResult] = []
    for child in el:
        key = (child.tag, *[x for c in child for x in (c.tag, c.text)])
        entry = _AUTH_MEMO.get(key)
        if entry is None:
            entry = _auth_entry(child)
            if entry is None:
                continue
            if len(_AUTH_MEMO) < 100_000:
                _AUTH_MEMO[key] = entry
        (dkim if type(entry) is DkimResult else spf).append(entry)
    return tuple(dkim), tuple(spf)


def _auth_entry(child: etree._Element) -> DkimResult | SpfResult | None:
    name = _local(child.tag)
    if name != "dkim" and name != "spf":
        return None
    f: dict[str, str | None] = {}
    for c in child:
        f.setdefault(_local(c.tag), c.text)
    dom = n.domain(f.get("domain")) or ""
    result = n.word(f.get("result")) or "none"
    human = n.text(f.get("human_result"))
    if name == "dkim":
        return DkimResult(dom, n.text(f.get("selector")), result, human)
    return SpfResult(dom, n.word(f.get("scope")) or "mfrom", result, human)
