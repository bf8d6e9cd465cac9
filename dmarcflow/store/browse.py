"""Stored reports and their records: filtered, paged listings and one report's detail (rejected inputs: rejected.py)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from dmarcflow.store.sqlite import Store
from dmarcflow.utc import iso


@dataclass(frozen=True)
class ReportRow:
    id: int
    org_name: str
    report_id: str
    domain: str
    begin: str
    end: str
    schema: str
    records: int
    messages: int
    status: str
    conflict_of: int | None
    source: str | None
    warnings: tuple[str, ...] = ()  # quirks read with this report (warning codes, sorted)
    kind: str = "aggregate"  # the report kind (kinds.registry); ids are unique within a kind

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["warnings"]  # warnings stay the last key (and CSV column), after kind
        out["warnings"] = list(self.warnings)
        return out


@dataclass(frozen=True)
class ReportFilter:
    """Which reports a listing shows; begin_ts/end_ts bound the report's begin (end exclusive)."""

    domain: str | None = None
    status: str | None = None  # active | conflict
    begin_ts: int | None = None
    end_ts: int | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        terms: list[str] = []
        args: list[Any] = []
        for sql, value in (("domain = ?", self.domain), ("status = ?", self.status),
                           ("begin_ts >= ?", self.begin_ts), ("begin_ts < ?", self.end_ts)):
            if value is not None:
                terms.append(sql)
                args.append(value)
        return (" WHERE " + " AND ".join(terms) if terms else ""), tuple(args)


@dataclass(frozen=True)
class ReportDetail:
    row: ReportRow
    email: str | None
    extra_contact_info: str | None
    generator: str | None
    errors: tuple[str, ...]
    version: str | None
    policy: dict[str, Any]
    defaults_applied: tuple[str, ...]
    ingested_at: str
    has_raw_xml: bool
    conflicts: tuple[int, ...]  # the later versions flagged as conflicting with this one


@dataclass(frozen=True)
class RecordRow:
    position: int
    source_ip: str
    count: int
    disposition: str
    dkim_eval: str
    spf_eval: str
    header_from: str
    envelope_from: str | None
    envelope_to: str | None
    reasons: tuple[dict[str, Any], ...]
    dkim: tuple[dict[str, Any], ...]
    spf: tuple[dict[str, Any], ...]
    dmarc_pass: bool
    dkim_aligned: bool
    spf_aligned: bool
    klass: str


_REPORT_COLUMNS = ("id, org_name, report_id, domain, begin_ts, end_ts, schema, record_count, message_count, status, "
                   "conflict_of, source")
_WARNINGS = "(SELECT group_concat(code, ' ') FROM report_warnings w WHERE w.report = reports.id)"


def _report_row(r: tuple[Any, ...], warnings: str | None = None) -> ReportRow:
    return ReportRow(r[0], r[1], r[2], r[3], iso(r[4]), iso(r[5]), *r[6:12], tuple(sorted((warnings or "").split())))


def list_reports(store: Store, where: ReportFilter = ReportFilter(), *, limit: int | None = None, offset: int = 0,
                 newest_first: bool = False) -> list[ReportRow]:
    """Reports in begin order (oldest first unless asked), at most ``limit`` from ``offset``."""
    clause, args = where.where()
    order = " ORDER BY begin_ts DESC, id DESC" if newest_first else " ORDER BY begin_ts, id"
    page = " LIMIT ? OFFSET ?" if limit is not None or offset else ""
    args += (-1 if limit is None else limit, offset) if page else ()
    rows = store.conn.execute(f"SELECT {_REPORT_COLUMNS}, {_WARNINGS} FROM reports{clause}{order}{page}", args)
    return [_report_row(r, r[12]) for r in rows]


def count_reports(store: Store, where: ReportFilter = ReportFilter()) -> int:
    clause, args = where.where()
    return int(store.conn.execute(f"SELECT COUNT(*) FROM reports{clause}", args).fetchone()[0])


def report_domains(store: Store) -> list[str]:
    """Every policy domain with a stored report (the index on domain, begin: no table scan)."""
    return [r[0] for r in store.conn.execute("SELECT DISTINCT domain FROM reports ORDER BY domain")]


def report_detail(store: Store, pk: int) -> ReportDetail | None:
    row = store.conn.execute(
        f"SELECT {_REPORT_COLUMNS}, email, extra_contact_info, generator, errors, version, adkim, aspf, p, sp, np, "
        f"pct, fo, testing, discovery_method, defaults_applied, ingested_at, raw_xml IS NOT NULL, {_WARNINGS} "
        "FROM reports WHERE id = ?", (pk,),
    ).fetchone()
    if row is None:
        return None
    policy = dict(zip(("adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing", "discovery_method"), row[17:26]))
    conflicts = tuple(r[0] for r in store.conn.execute(
        "SELECT id FROM reports WHERE conflict_of = ? ORDER BY id", (pk,)))
    return ReportDetail(
        row=_report_row(row[:12], row[29]), email=row[12], extra_contact_info=row[13], generator=row[14],
        errors=tuple(_json_list(row[15])), version=row[16], policy=policy,
        defaults_applied=tuple(_json_list(row[26])), ingested_at=row[27], has_raw_xml=bool(row[28]),
        conflicts=conflicts,
    )


def _json_list(text: str | None) -> list[Any]:
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []


def report_records(store: Store, pk: int, first_position: int, limit: int) -> list[RecordRow]:
    """A page of a report's records in their order in the report (the index on report, position)."""
    rows = store.conn.execute(
        "SELECT position, source_ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, "
        "envelope_to, reasons, dkim, spf, dmarc_pass, dkim_aligned, spf_aligned, class FROM records "
        "WHERE report = ? AND position >= ? ORDER BY position LIMIT ?",
        (pk, first_position, limit),
    )
    return [RecordRow(position=r[0], source_ip=r[1], count=r[2], disposition=r[3], dkim_eval=r[4], spf_eval=r[5],
                      header_from=r[6], envelope_from=r[7], envelope_to=r[8], reasons=tuple(_json_list(r[9])),
                      dkim=tuple(_json_list(r[10])), spf=tuple(_json_list(r[11])), dmarc_pass=bool(r[12]),
                      dkim_aligned=bool(r[13]), spf_aligned=bool(r[14]), klass=r[15]) for r in rows]
