"""Stored reports: filtered, paged listings, one report's header and records, who reports and when.

Reads the ``reports`` table (its (domain, begin_ts) index), ``report_warnings``, ``report_sources`` (which
report saw which source IP) and one report's ``records`` (their (report, position) index). Conflicting
second versions are listed, but not counted in what reporters said.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from dmarcflow.models import PolicyPublished, Record, Report, ReportMetadata
from dmarcflow.store import records
from dmarcflow.store.repository import Repository
from dmarcflow.utc import iso


@dataclass(frozen=True)
class ReportRow:
    """One stored report in a listing: its identity, size and status."""

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


_POLICY_TAGS = ("adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing", "discovery_method")


@dataclass(frozen=True)
class ReportDetail:
    """A stored report: its header (the ``Report`` as parsed) and what the store knows of it."""

    row: ReportRow
    report: Report
    ingested_at: str
    has_raw_xml: bool
    conflicts: tuple[int, ...]  # the later versions flagged as conflicting with this one

    @property
    def email(self) -> str | None:
        return self.report.metadata.email

    @property
    def extra_contact_info(self) -> str | None:
        return self.report.metadata.extra_contact_info

    @property
    def generator(self) -> str | None:
        return self.report.metadata.generator

    @property
    def errors(self) -> tuple[str, ...]:
        return self.report.metadata.errors

    @property
    def version(self) -> str | None:
        return self.report.version

    @property
    def defaults_applied(self) -> tuple[str, ...]:
        return self.report.defaults_applied

    @property
    def policy(self) -> dict[str, Any]:
        """The policy tags as stored (RFC defaults filled in), in the report's order."""
        return {tag: getattr(self.report.policy, tag) for tag in _POLICY_TAGS}


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record of a stored report, at its position in the report (0-based)."""

    position: int
    record: Record


@dataclass(frozen=True)
class ReporterActivity:
    domain: str
    reporter: str  # org_name
    last_end_ts: int  # the end of its latest report's interval
    recent_days: int  # distinct UTC days with a report in the `days` days up to its latest report


@dataclass(frozen=True)
class ReporterUse:
    """What one reporting organisation said about a domain or a source in a period."""

    org_name: str
    reports: int
    messages: int
    first_begin_ts: int
    last_end_ts: int


_REPORT_COLUMNS = ("id, org_name, report_id, domain, begin_ts, end_ts, schema, record_count, message_count, status, "
                   "conflict_of, source")
_WARNINGS = "(SELECT group_concat(code, ' ') FROM report_warnings w WHERE w.report = reports.id)"
_HEADER_COLUMNS = (f"{_REPORT_COLUMNS}, {_WARNINGS}, email, extra_contact_info, generator, errors, version, namespace, "
                   f"{', '.join(_POLICY_TAGS)}, defaults_applied, ingested_at, raw_xml IS NOT NULL")


def _report_row(r: Sequence[Any]) -> ReportRow:
    """A row of _REPORT_COLUMNS and _WARNINGS."""
    return ReportRow(id=r[0], org_name=r[1], report_id=r[2], domain=r[3], begin=iso(r[4]), end=iso(r[5]),
                     schema=r[6], records=r[7], messages=r[8], status=r[9], conflict_of=r[10], source=r[11],
                     warnings=tuple(sorted((r[12] or "").split())))


def _header(r: Sequence[Any]) -> Report:
    """The report header from a row of _HEADER_COLUMNS."""
    meta = ReportMetadata(
        org_name=r[1], email=r[13], extra_contact_info=r[14], report_id=r[2],
        begin=datetime.fromtimestamp(r[4], UTC), end=datetime.fromtimestamp(r[5], UTC),
        errors=tuple(_json_list(r[16])), generator=r[15],
    )
    policy = PolicyPublished(r[3], **dict(zip(_POLICY_TAGS, r[19:28], strict=True)))
    return Report(meta, policy, schema=r[6], version=r[17], namespace=r[18], defaults_applied=tuple(_json_list(r[28])))


def _json_list(text: str | None) -> list[Any]:
    value = json.loads(text or "[]")
    return value if isinstance(value, list) else []


class ReportRepository(Repository):
    def listing(self, where: ReportFilter = ReportFilter(), *, limit: int | None = None, offset: int = 0,
                newest_first: bool = False) -> list[ReportRow]:
        """Reports in begin order (oldest first unless asked), at most ``limit`` from ``offset``."""
        clause, args = where.where()
        order = " ORDER BY begin_ts DESC, id DESC" if newest_first else " ORDER BY begin_ts, id"
        page = " LIMIT ? OFFSET ?" if limit is not None or offset else ""
        args += (-1 if limit is None else limit, offset) if page else ()
        rows = self._rows(f"SELECT {_REPORT_COLUMNS}, {_WARNINGS} FROM reports{clause}{order}{page}", args)
        return [_report_row(r) for r in rows]

    def count(self, where: ReportFilter = ReportFilter()) -> int:
        clause, args = where.where()
        return int(self._value(f"SELECT COUNT(*) FROM reports{clause}", args))

    def domains(self) -> list[str]:
        """Every policy domain with a stored report (the index on domain, begin: no table scan)."""
        return [r[0] for r in self._rows("SELECT DISTINCT domain FROM reports ORDER BY domain")]

    def detail(self, pk: int) -> ReportDetail | None:
        row = self._row(f"SELECT {_HEADER_COLUMNS} FROM reports WHERE id = ?", (pk,))
        if row is None:
            return None
        conflicts = tuple(r[0] for r in self._rows("SELECT id FROM reports WHERE conflict_of = ? ORDER BY id", (pk,)))
        return ReportDetail(row=_report_row(row), report=_header(row), ingested_at=row[29], has_raw_xml=bool(row[30]),
                            conflicts=conflicts)

    def records(self, pk: int, first_position: int, limit: int) -> list[StoredRecord]:
        """A page of a report's records in their order in the report (the index on report, position)."""
        rows = self._rows(f"SELECT position, {records.COLUMNS} FROM records WHERE report = ? AND position >= ? "
                          "ORDER BY position LIMIT ?", (pk, first_position, limit))
        return [StoredRecord(r[0], records.decode(r[1:])) for r in rows]

    def warnings(self, pk: int) -> tuple[str, ...]:
        """The quirks read with this report (warning codes, sorted)."""
        return tuple(r[0] for r in self._rows("SELECT code FROM report_warnings WHERE report = ? ORDER BY code", (pk,)))

    def latest_id(self) -> int:
        """The highest report row id: it grows with every report stored, so a change means new data."""
        return int(self._value("SELECT COALESCE(MAX(id), 0) FROM reports"))

    def reporter_activity(self, days: int) -> list[ReporterActivity]:
        """Per policy domain and reporter: the latest report's end and on how many of the ``days`` days up to
        its latest report it reported (active reports only)."""
        rows = self._rows(
            "WITH last AS (SELECT domain, org_name, MAX(begin_ts) AS last_begin, MAX(end_ts) AS last_end "
            "FROM reports WHERE status = 'active' GROUP BY domain, org_name) "
            "SELECT l.domain, l.org_name, l.last_end, COUNT(DISTINCT r.begin_ts / 86400) FROM last l "
            "JOIN reports r ON r.domain = l.domain AND r.org_name = l.org_name AND r.status = 'active' "
            "AND r.begin_ts / 86400 > l.last_begin / 86400 - ? "
            "GROUP BY l.domain, l.org_name ORDER BY l.domain, l.org_name",
            (days,),
        )
        return [ReporterActivity(str(d), str(o), int(e), int(n)) for d, o, e, n in rows]

    def domain_reporters(self, domain: str, begin_ts: int, end_ts: int, limit: int) -> list[ReporterUse]:
        """The organisations that reported most messages for the domain (active reports), biggest first."""
        rows = self._rows(
            "SELECT org_name, COUNT(*), SUM(message_count) AS n, MIN(begin_ts), MAX(end_ts) FROM reports "
            "WHERE domain = ? AND status = 'active' AND begin_ts >= ? AND begin_ts < ? "
            "GROUP BY org_name ORDER BY n DESC, org_name LIMIT ?",
            (domain, begin_ts, end_ts, limit),
        )
        return [ReporterUse(*r) for r in rows]

    def source_reporters(self, domain: str, ips: Sequence[str], begin_ts: int, end_ts: int) -> list[ReporterUse]:
        """The organisations whose active reports (beginning in [begin_ts, end_ts)) saw these IPs."""
        rows = self._rows(
            "SELECT r.org_name, COUNT(DISTINCT r.id), SUM(s.messages) AS n, MIN(r.begin_ts), MAX(r.end_ts) "
            "FROM report_sources s JOIN reports r ON r.id = s.report "
            "WHERE s.domain = ? AND s.source_ip IN (SELECT value FROM json_each(?)) "
            "AND r.status = 'active' AND r.begin_ts >= ? AND r.begin_ts < ? "
            "GROUP BY r.org_name ORDER BY n DESC, r.org_name",
            (domain, json.dumps(list(ips)), begin_ts, end_ts),
        )
        return [ReporterUse(*r) for r in rows]
