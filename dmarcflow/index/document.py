"""One stored record -> one ECS document, and its deterministic ``_id``.

Pure functions over ``IndexRow`` (a record joined with its report and IP facts): no I/O here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dmarcflow import verdict
from dmarcflow.utc import iso

ECS_VERSION = "8.11.0"
DATASET = "dmarc.aggregate"
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class ReportPart:
    """The report columns a document carries (shared by all records of one report)."""

    org_name: str
    report_id: str
    domain: str
    begin_ts: int
    end_ts: int
    email: str | None
    extra_contact_info: str | None
    generator: str | None
    errors: str  # JSON list
    schema: str
    records_hash: str
    status: str
    adkim: str | None
    aspf: str | None
    p: str | None
    sp: str | None
    np: str | None
    pct: int | None
    fo: str | None
    testing: str | None
    discovery_method: str | None
    defaults_applied: str = "[]"  # JSON list: optional fields the report left out (RFC defaults filled in)


@dataclass(frozen=True)
class IpPart:
    reverse_dns: str | None = None
    base_domain: str | None = None
    country: str | None = None
    asn: int | None = None
    as_name: str | None = None
    sender: str | None = None
    sender_type: str | None = None


@dataclass(frozen=True)
class IndexRow:
    """A record as stored (JSON columns still text), with its report and the facts on its IP."""

    record_id: int
    position: int
    source_ip: str
    count: int
    disposition: str
    dkim_eval: str
    spf_eval: str
    header_from: str
    envelope_from: str | None
    envelope_to: str | None
    reasons: str
    dkim: str
    spf: str
    dmarc_pass: bool
    dkim_aligned: bool
    spf_aligned: bool
    dkim_domain: str | None
    spf_domain: str | None
    source_class: str
    report: ReportPart
    ip: IpPart
    ingested_at: str = ""  # when the report was stored (ISO 8601 Z)
    verdict_id: int | None = None  # the store's id of the verdict columns (None: not read from a store)


def report_uid(report: ReportPart) -> str:
    """One report version: its identity plus its records hash (conflicting versions differ)."""
    r = report
    key = "\x1f".join(map(str, (r.org_name, r.report_id, r.domain, r.begin_ts, r.end_ts, r.records_hash)))
    return hashlib.sha256(key.encode()).hexdigest()


def document_id(row: IndexRow) -> str:
    """sha256 of the report identity, its records hash and the record position.

    The records hash tells the versions of a conflicting report apart (they share the identity),
    and nothing store-local (row ids) goes in: two daemons with their own stores that ingest the
    same report produce the same ids, so the cluster keeps one copy.
    """
    return hashlib.sha256(f"{report_uid(row.report)}:{row.position}".encode()).hexdigest()




def _compact(**fields: Any) -> dict[str, Any]:
    """Absent facts are absent fields, not nulls (and empty objects and lists are left out)."""
    return {k: v for k, v in fields.items() if v is not None and v not in ({}, [])}


def _drop_none(**fields: Any) -> dict[str, Any]:
    """``_compact`` for the per-record hot path: the callers pass None, never empty containers."""
    return {k: v for k, v in fields.items() if v is not None}


# Most of a document repeats: a report's part is the same for all its records, an IP's facts for all
# its records, and a few hundred verdicts (everything of a record but its IP and count) cover 100,000
# records. A ``DocumentBuilder`` builds each of those parts once (its memos, bounded) and shares them
# between documents: the dicts are never mutated, only serialised.

_MEMO_MAX = 65536  # entries per memo; a store with more distinct parts rebuilds them (same documents)


@dataclass(frozen=True)
class _ReportBlock:
    uid: str
    report: dict[str, Any]
    policy: dict[str, Any]
    begin: str
    end: str
    adkim: str
    aspf: str


@dataclass(frozen=True)
class _VerdictBlock:
    """A verdict's share of a document: the dmarc fields between the policy and the count, then pass and class."""

    head: dict[str, Any]  # policy_evaluated, aligned, identifiers, auth_results, auth_summary (their order)
    tail: dict[str, Any]  # pass, class
    verdict: _Verdict  # what the explanation reads
    klass: str
    hosts: tuple[str, ...]  # the lower-cased names of related.hosts but the reverse DNS


def _report_block(r: ReportPart) -> _ReportBlock:
    begin, end = iso(r.begin_ts), iso(r.end_ts)
    uid = report_uid(r)
    report = _compact(
        uid=uid, id=r.report_id, org_name=r.org_name, org_email=r.email,
        extra_contact_info=r.extra_contact_info, begin=begin, end=end, status=r.status, schema=r.schema,
        generator=r.generator, errors=json.loads(r.errors or "[]"),
        defaults_applied=json.loads(r.defaults_applied or "[]"),
    )
    policy = _compact(
        domain=r.domain, p=r.p, sp=r.sp, np=r.np, pct=r.pct, adkim=r.adkim, aspf=r.aspf, fo=r.fo,
        testing=r.testing, discovery_method=r.discovery_method,
    )
    return _ReportBlock(uid, report, policy, begin, end, r.adkim or "r", r.aspf or "r")


def _source_block(source_ip: str, ip: IpPart) -> dict[str, Any]:
    return _compact(
        ip=source_ip, domain=ip.reverse_dns, registered_domain=ip.base_domain,
        geo=_compact(country_iso_code=ip.country),
        **{"as": _compact(number=ip.asn, organization=_compact(name=ip.as_name))},
    )


def _auth_results(text: str, scope_key: str) -> tuple[dict[str, Any], ...]:
    """DKIM (selector) or SPF (scope) results as stored in JSON, without nulls."""
    return tuple(
        _compact(domain=d.get("domain"), **{scope_key: d.get(scope_key)}, result=d.get("result"),
                 human_result=d.get("human_result"))
        for d in json.loads(text or "[]")
    )


def _reasons(text: str) -> tuple[tuple[dict[str, Any], ...], str]:
    """(override reasons without nulls, their sorted types joined as one grouping key)."""
    reasons = tuple(_compact(**r) for r in parse_reasons(text))
    return reasons, ",".join(sorted({r["type"] for r in reasons if r.get("type")}))


def parse_reasons(text: str) -> list[dict[str, Any]]:
    """Override reasons; stored as [[type, comment]] or [{"type", "comment"}] (both are read)."""
    out = []
    for item in json.loads(text or "[]"):
        if isinstance(item, dict):
            out.append({"type": item.get("type"), "comment": item.get("comment")})
        else:
            out.append({"type": item[0], "comment": item[1] if len(item) > 1 else None})
    return out


def _verdict_block(row: IndexRow) -> _VerdictBlock:
    dkim, spf = _auth_results(row.dkim, "selector"), _auth_results(row.spf, "scope")
    reasons, reasons_key = _reasons(row.reasons)
    shown_dkim, shown_spf = _shown(dkim, row.dkim_domain), _shown(spf, row.spf_domain)
    head = _drop_none(
        policy_evaluated=_drop_none(disposition=row.disposition, dkim=row.dkim_eval, spf=row.spf_eval,
                                    reasons=list(reasons) or None, reasons_key=reasons_key),
        aligned=_drop_none(dkim=row.dkim_aligned, spf=row.spf_aligned, dkim_domain=row.dkim_domain,
                           spf_domain=row.spf_domain),
        identifiers=_drop_none(header_from=row.header_from, envelope_from=row.envelope_from,
                               envelope_to=row.envelope_to),
        auth_results=_drop_none(dkim=list(dkim) or None, spf=list(spf) or None) or None,
        auth_summary={"dkim": shown_dkim, "spf": shown_spf},
    )
    verdict_row = _Verdict(row.header_from, int(row.dkim_aligned), int(row.spf_aligned), row.dkim_domain or "",
                           row.spf_domain or "", shown_dkim, shown_spf, reasons_key)
    names = [row.header_from, row.envelope_from] + [d.get("domain") for d in dkim] + [s.get("domain") for s in spf]
    return _VerdictBlock(head, _drop_none(**{"pass": row.dmarc_pass, "class": row.source_class}), verdict_row,
                         row.source_class, tuple(n.lower() for n in names if n))


def _verdict_key(row: IndexRow) -> Hashable:
    """The store's verdict id when the row has one (rows sharing it share every verdict field), else the fields."""
    if row.verdict_id is not None:
        return row.verdict_id
    return (row.disposition, row.dkim_eval, row.spf_eval, row.header_from, row.envelope_from, row.envelope_to,
            row.reasons, row.dkim, row.spf, row.dmarc_pass, row.dkim_aligned, row.spf_aligned, row.dkim_domain,
            row.spf_domain, row.source_class)


def _remember(memo: dict[K, V], key: K, value: V) -> V:
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


class DocumentBuilder:
    """Documents and ids of index rows, each shared part built once (one builder per sync pass).

    Verdict ids name verdicts of one store: a builder serves the rows of one store only.
    """

    def __init__(self) -> None:
        self._reports: dict[ReportPart, _ReportBlock] = {}
        self._sources: dict[tuple[str, IpPart], dict[str, Any]] = {}
        self._verdicts: dict[Hashable, _VerdictBlock] = {}
        self._explanations: dict[tuple[Hashable, str, str], str] = {}
        self._hosts: dict[tuple[Hashable, str | None], list[str]] = {}
        self._events: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._last: tuple[ReportPart, _ReportBlock] | None = None  # a chunk's rows mostly share one report

    def _report(self, r: ReportPart) -> _ReportBlock:
        last = self._last
        if last is not None and last[0] is r:
            return last[1]
        block = self._reports.get(r) or _remember(self._reports, r, _report_block(r))
        self._last = (r, block)
        return block

    def document_id(self, row: IndexRow) -> str:
        """As ``document_id``."""
        return hashlib.sha256(f"{self._report(row.report).uid}:{row.position}".encode()).hexdigest()

    def document(self, row: IndexRow) -> dict[str, Any]:
        """As ``to_document``."""
        rb, key = self._report(row.report), _verdict_key(row)
        vb = self._verdicts.get(key) or _remember(self._verdicts, key, _verdict_block(row))
        ip = row.ip
        source = self._sources.get((row.source_ip, ip)) or _remember(
            self._sources, (row.source_ip, ip), _source_block(row.source_ip, ip))
        hosts = self._hosts.get((key, ip.reverse_dns)) or _remember(
            self._hosts, (key, ip.reverse_dns), _related_hosts(ip.reverse_dns, vb.hosts))
        mode = (key, rb.adkim, rb.aspf)
        explained = self._explanations.get(mode) or _remember(
            self._explanations, mode, verdict.explain_modes(vb.verdict, vb.klass, rb.adkim, rb.aspf))
        dmarc = {"report": rb.report, "policy_published": rb.policy, **vb.head, "count": row.count,
                 "position": row.position}
        if ip.sender is not None:
            dmarc["sender"] = ip.sender
        if ip.sender_type is not None:
            dmarc["sender_type"] = ip.sender_type
        dmarc["explanation"] = explained
        dmarc.update(vb.tail)
        return {
            "@timestamp": rb.begin, "ecs": _ECS, "event": self._event(rb, row),
            "source": source, "related": {"ip": [row.source_ip], "hosts": hosts}, "dmarc": dmarc,
        }

    def _event(self, rb: _ReportBlock, row: IndexRow) -> dict[str, Any]:
        key = (rb.begin, rb.end, row.ingested_at)
        base = self._events.get(key) or _remember(self._events, key, _drop_none(
            start=rb.begin, end=rb.end, kind="event", category=["email"], type=["info"], dataset=DATASET,
            module="dmarc", ingested=row.ingested_at or None))
        # Store-local order (the SQLite record id): the tie-break that makes "the latest
        # report" unambiguous when two reports begin at the same second, as in SQLite.
        return {**base, "sequence": row.record_id}


_ECS = {"version": ECS_VERSION}


def _related_hosts(reverse_dns: str | None, names: tuple[str, ...]) -> list[str]:
    return sorted({reverse_dns.lower(), *names} if reverse_dns else set(names))


def to_document(row: IndexRow) -> dict[str, Any]:
    """One record's ECS document (a sync builds many through one ``DocumentBuilder``)."""
    return DocumentBuilder().document(row)


def _shown(results: Sequence[dict[str, Any]], aligned_domain: str | None) -> str:
    return verdict.shown_result([_Outcome(d.get("domain") or "", d.get("result") or "") for d in results],
                                aligned_domain)


@dataclass(frozen=True)
class _Outcome:
    """A DKIM or SPF result as a document holds it, in the shape the verdict rules read."""

    domain: str
    result: str


@dataclass(frozen=True)
class _Verdict:
    """What ``verdict.explain`` reads of a record (``verdict.VerdictRow``): the summary's own fields."""

    header_from: str
    dkim_aligned: int
    spf_aligned: int
    dkim_domain: str
    spf_domain: str
    dkim_result: str
    spf_result: str
    reasons: str


def explanation(row: IndexRow) -> str:
    """The CLI's explanation of the record's verdict (the same function), as its document carries it."""
    return str(to_document(row)["dmarc"]["explanation"])
