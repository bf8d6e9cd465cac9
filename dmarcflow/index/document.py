"""One stored record -> one ECS document, and its deterministic ``_id``.

Pure functions over ``IndexRow`` (a record joined with its report and IP facts): no I/O here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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


def iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prune(value: Any) -> Any:
    """Drop None and empty containers so that absent facts are absent fields, not nulls."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value if v is not None]
    return value


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
    r, ip = row.report, row.ip
    dkim, spf = json.loads(row.dkim), json.loads(row.spf)
    begin, end = iso(r.begin_ts), iso(r.end_ts)
    doc = {
        "@timestamp": begin,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "start": begin, "end": end, "kind": "event", "category": ["email"], "type": ["info"],
            "dataset": DATASET, "module": "dmarc", "ingested": row.ingested_at or None,
            # Store-local order (the SQLite record id): the tie-break that makes "the latest
            # report" unambiguous when two reports begin at the same second, as in SQLite.
            "sequence": row.record_id,
        },
        "source": {
            "ip": row.source_ip, "domain": ip.reverse_dns, "registered_domain": ip.base_domain,
            "geo": {"country_iso_code": ip.country},
            "as": {"number": ip.asn, "organization": {"name": ip.as_name}},
        },
        "related": {"ip": [row.source_ip], "hosts": _related_hosts(row, dkim, spf)},
        "dmarc": _dmarc(row, dkim, spf),
    }
    return _prune(doc)


def _related_hosts(row: IndexRow, dkim: list[dict], spf: list[dict]) -> list[str]:
    names = [row.ip.reverse_dns, row.header_from, row.envelope_from]
    names += [d.get("domain") for d in dkim] + [s.get("domain") for s in spf]
    return sorted({n.lower() for n in names if n})


def _dmarc(row: IndexRow, dkim: list[dict], spf: list[dict]) -> dict[str, Any]:
    r = row.report
    reasons = parse_reasons(row.reasons)
    return {
        "report": {
            "uid": report_uid(r), "id": r.report_id, "org_name": r.org_name, "org_email": r.email, "extra_contact_info": r.extra_contact_info,
            "begin": iso(r.begin_ts), "end": iso(r.end_ts), "status": r.status, "schema": r.schema,
            "generator": r.generator, "errors": json.loads(r.errors or "[]"),
            "defaults_applied": json.loads(r.defaults_applied or "[]"),
        },
        "policy_published": {
            "domain": r.domain, "p": r.p, "sp": r.sp, "np": r.np, "pct": r.pct, "adkim": r.adkim, "aspf": r.aspf,
            "fo": r.fo, "testing": r.testing, "discovery_method": r.discovery_method,
        },
        "policy_evaluated": {
            "disposition": row.disposition, "dkim": row.dkim_eval, "spf": row.spf_eval,
            "reasons": reasons,
            # The sorted reason types as one key, to group records by their set of reasons.
            "reasons_key": ",".join(sorted({x["type"] for x in reasons if x.get("type")})),
        },
        "pass": row.dmarc_pass,
        "aligned": {"dkim": row.dkim_aligned, "spf": row.spf_aligned, "dkim_domain": row.dkim_domain, "spf_domain": row.spf_domain},
        "identifiers": {"header_from": row.header_from, "envelope_from": row.envelope_from, "envelope_to": row.envelope_to},
        "auth_results": {"dkim": [_pick(d, "domain", "selector", "result", "human_result") for d in dkim],
                         "spf": [_pick(s, "domain", "scope", "result", "human_result") for s in spf]},
        "auth_summary": {"dkim": shown_result(dkim, row.dkim_domain), "spf": shown_result(spf, row.spf_domain)},
        "count": row.count,
        "position": row.position,
        "sender": row.ip.sender,
        "sender_type": row.ip.sender_type,
        "class": row.source_class,
        "explanation": explain(row, dkim, spf),
    }


def shown_result(results: list[dict], aligned_domain: str | None) -> str:
    """The one result a summary shows: the aligned domain's, else the first; '' without results."""
    for item in results:
        if item.get("domain") == aligned_domain:
            return item.get("result") or ""
    return (results[0].get("result") or "") if results else ""


def _pick(item: dict, *keys: str) -> dict[str, Any]:
    return {k: item.get(k) for k in keys}


def explain(row: IndexRow, dkim: list[dict], spf: list[dict]) -> str:
    """One sentence a person can read in a table: why this record has its verdict."""
    reasons = ", ".join(r["type"] for r in parse_reasons(row.reasons) if r.get("type"))
    parts = [f"DMARC {'pass' if row.dmarc_pass else 'fail'} for {row.header_from}"]
    parts.append(_auth_clause("DKIM", row.dkim_aligned, row.dkim_domain, dkim))
    parts.append(_auth_clause("SPF", row.spf_aligned, row.spf_domain, spf))
    if reasons:
        parts.append(f"override: {reasons}")
    parts.append(f"disposition {row.disposition}")
    return "; ".join(parts) + "."


def _auth_clause(name: str, aligned: bool, aligned_domain: str | None, results: list[dict]) -> str:
    if aligned:
        return f"{name} aligned ({aligned_domain})"
    passed = sorted({r.get("domain") or "?" for r in results if r.get("result") == "pass"})
    if passed:
        return f"{name} pass for {', '.join(passed)} but not aligned"
    if not results:
        return f"no {name} result"
    return f"{name} {results[0].get('result')} for {results[0].get('domain')}"
