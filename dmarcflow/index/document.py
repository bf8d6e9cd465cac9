"""One stored record -> one ECS document, and its deterministic ``_id``.

Pure functions over ``IndexRow`` (a record joined with its report and IP facts): no I/O here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dmarcflow import verdict
from dmarcflow.utc import iso

ECS_VERSION = "8.11.0"
DATASET = "dmarc.aggregate"


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


# Most of a document repeats: a report's part is the same for all its records, an IP's facts for
# all its records, and a report holds only a few distinct auth-result lists. Building each once
# (bounded caches of immutable inputs) is what makes indexing fast; the dicts are shared and never
# mutated, only serialised.


@lru_cache(maxsize=4096)
def _report_block(r: ReportPart) -> tuple[dict[str, Any], dict[str, Any], str, str]:
    begin, end = iso(r.begin_ts), iso(r.end_ts)
    report = _compact(
        uid=report_uid(r), id=r.report_id, org_name=r.org_name, org_email=r.email,
        extra_contact_info=r.extra_contact_info, begin=begin, end=end, status=r.status, schema=r.schema,
        generator=r.generator, errors=json.loads(r.errors or "[]"),
        defaults_applied=json.loads(r.defaults_applied or "[]"),
    )
    policy = _compact(
        domain=r.domain, p=r.p, sp=r.sp, np=r.np, pct=r.pct, adkim=r.adkim, aspf=r.aspf, fo=r.fo,
        testing=r.testing, discovery_method=r.discovery_method,
    )
    return report, policy, begin, end


@lru_cache(maxsize=65536)
def _source_block(source_ip: str, ip: IpPart) -> dict[str, Any]:
    return _compact(
        ip=source_ip, domain=ip.reverse_dns, registered_domain=ip.base_domain,
        geo=_compact(country_iso_code=ip.country),
        **{"as": _compact(number=ip.asn, organization=_compact(name=ip.as_name))},
    )


@lru_cache(maxsize=8192)
def _auth_results(text: str, scope_key: str) -> tuple[dict[str, Any], ...]:
    """DKIM (selector) or SPF (scope) results as stored in JSON, without nulls."""
    return tuple(
        _compact(domain=d.get("domain"), **{scope_key: d.get(scope_key)}, result=d.get("result"),
                 human_result=d.get("human_result"))
        for d in json.loads(text or "[]")
    )


@lru_cache(maxsize=4096)
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


def to_document(row: IndexRow) -> dict[str, Any]:
    report, policy, begin, end = _report_block(row.report)
    dkim, spf = _auth_results(row.dkim, "selector"), _auth_results(row.spf, "scope")
    event = _drop_none(
        start=begin, end=end, kind="event", category=["email"], type=["info"], dataset=DATASET, module="dmarc",
        ingested=row.ingested_at or None,
        # Store-local order (the SQLite record id): the tie-break that makes "the latest
        # report" unambiguous when two reports begin at the same second, as in SQLite.
        sequence=row.record_id,
    )
    return {
        "@timestamp": begin,
        "ecs": {"version": ECS_VERSION},
        "event": event,
        "source": _source_block(row.source_ip, row.ip),
        "related": {"ip": [row.source_ip],
                    "hosts": _related_hosts(row.ip.reverse_dns, row.header_from, row.envelope_from, row.dkim, row.spf)},
        "dmarc": _dmarc(row, report, policy, dkim, spf),
    }


@lru_cache(maxsize=65536)
def _related_hosts(reverse_dns: str | None, header_from: str, envelope_from: str | None, dkim: str, spf: str) -> list[str]:
    names = [reverse_dns, header_from, envelope_from]
    names += [d.get("domain") for d in _auth_results(dkim, "selector")]
    names += [s.get("domain") for s in _auth_results(spf, "scope")]
    return sorted({n.lower() for n in names if n})


def _dmarc(row: IndexRow, report: dict[str, Any], policy: dict[str, Any], dkim: tuple[dict[str, Any], ...],
           spf: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    reasons, reasons_key = _reasons(row.reasons)
    return _drop_none(
        report=report,
        policy_published=policy,
        policy_evaluated=_drop_none(disposition=row.disposition, dkim=row.dkim_eval, spf=row.spf_eval,
                                    reasons=list(reasons) or None, reasons_key=reasons_key),
        aligned=_drop_none(dkim=row.dkim_aligned, spf=row.spf_aligned, dkim_domain=row.dkim_domain,
                           spf_domain=row.spf_domain),
        identifiers=_drop_none(header_from=row.header_from, envelope_from=row.envelope_from,
                               envelope_to=row.envelope_to),
        auth_results=_drop_none(dkim=list(dkim) or None, spf=list(spf) or None) or None,
        auth_summary={"dkim": _shown(dkim, row.dkim_domain), "spf": _shown(spf, row.spf_domain)},
        count=row.count, position=row.position, sender=row.ip.sender, sender_type=row.ip.sender_type,
        explanation=explanation(row),
        **{"pass": row.dmarc_pass, "class": row.source_class},
    )


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


@lru_cache(maxsize=65536)
def _explanation(row: _Verdict, klass: str, adkim: str | None, aspf: str | None) -> str:
    """The CLI's explanation of the record's verdict (the same function), keyed by exactly what it reads:
    records repeat a few verdicts many times."""
    return verdict.explain_modes(row, klass, adkim or "r", aspf or "r")


def explanation(row: IndexRow) -> str:
    dkim, spf = _auth_results(row.dkim, "selector"), _auth_results(row.spf, "scope")
    v = _Verdict(row.header_from, int(row.dkim_aligned), int(row.spf_aligned), row.dkim_domain or "",
                 row.spf_domain or "", _shown(dkim, row.dkim_domain), _shown(spf, row.spf_domain),
                 _reasons(row.reasons)[1])
    return _explanation(v, row.source_class, row.report.adkim, row.report.aspf)
