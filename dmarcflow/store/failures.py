"""DMARC failure reports in the store: metadata and original headers; the sample only when asked.

Writes run inside ``Store.transaction()``. A report whose identity is known is a duplicate (a
failure report describes one message: a second copy adds nothing). Every SQL statement about
failure reports is here.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dmarcflow.kinds.failure import identity
from dmarcflow.models import FailureReport
from dmarcflow.store import ipfacts
from dmarcflow.store.sqlite import Store
from dmarcflow.utc import now_iso

# Columns in FailureRow order; the JSON ones are decoded by _row().
_COLUMNS = (
    "id, arrival_ts, source_ip, reported_domain, reporter, feedback_type, auth_failure, identity_alignment, "
    "delivery_result, authentication_results, auth_results, dkim_domain, dkim_selector, spf_domain, "
    "original_envelope_id, original_mail_from, original_rcpt_to, header_from, header_to, subject, message_id, "
    "user_agent, reporting_mta, submitter, incidents, original_headers, body_omitted, sample IS NOT NULL, warnings, source"
)


@dataclass(frozen=True)
class StoredFailure:
    status: str  # ingested | duplicate
    report_pk: int | None
    marked_ips: bool = False  # its source IP waits for facts (ip_pending), in the same transaction


@dataclass(frozen=True)
class FailureRow:
    """A stored failure report as listings show it (no sample: that stays in the store)."""

    id: int
    arrival_ts: int
    source_ip: str
    reported_domain: str
    reporter: str
    feedback_type: str
    auth_failure: tuple[str, ...]
    identity_alignment: tuple[str, ...] | None
    delivery_result: str | None
    authentication_results: str | None
    auth_results: tuple[tuple[str, str], ...]
    dkim_domain: str | None
    dkim_selector: str | None
    spf_domain: str | None
    original_envelope_id: str | None
    original_mail_from: str | None
    original_rcpt_to: str | None
    header_from: str | None
    header_to: str | None
    subject: str | None
    message_id: str | None
    user_agent: str | None
    reporting_mta: str | None
    submitter: str | None
    incidents: int | None
    original_headers: str
    body_omitted: bool
    sample_kept: bool
    warnings: tuple[str, ...]
    source: str | None


@dataclass(frozen=True)
class FailureSourceCount:
    """The failure reports of one reported domain naming one source IP in a window."""

    reported_domain: str
    source_ip: str
    reports: int
    first_ts: int
    last_ts: int
    reporters: tuple[str, ...]
    seen_before: bool  # a failure report before the window named this IP for this domain


@dataclass(frozen=True)
class KeptFailure:
    """What reprocess reads back: the sample when one was kept, else the kept fields and headers."""

    id: int
    sample: bytes | None
    feedback_fields: str
    original_headers: str
    submitter: str | None
    mail_date: datetime | None
    body_omitted: bool


class FailureReports:
    """The failure-report table of one store."""

    def __init__(self, store: Store) -> None:
        self._conn: sqlite3.Connection = store.conn

    def save(self, report: FailureReport, *, source: str, sample: bytes | None, need_rdns: bool = False,
             warnings: tuple[str, ...] | None = None) -> StoredFailure:
        """Store the report unless its identity is known; ``sample`` (the raw mail) only if configured.

        Its source IP is marked for enrichment in the same transaction (see ``store.ipfacts``).
        """
        key = identity(report)
        if self._conn.execute("SELECT 1 FROM failure_reports WHERE identity = ?", (key,)).fetchone():
            return StoredFailure("duplicate", None)
        cur = self._conn.execute(
            "INSERT INTO failure_reports (identity, reporter, arrival_ts, source_ip, reported_domain, feedback_type, "
            "auth_failure, identity_alignment, delivery_result, authentication_results, auth_results, dkim_domain, "
            "dkim_selector, dkim_identity, spf_domain, original_envelope_id, original_mail_from, original_rcpt_to, "
            "header_from, header_to, subject, message_id, user_agent, reporting_mta, submitter, mail_date_ts, "
            "incidents, original_headers, feedback_fields, body_omitted, warnings, source, ingested_at, sample) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (key, *_values(report, warnings), source, now_iso(), zlib.compress(sample, 6) if sample is not None else None),
        )
        marked = ipfacts.mark_ips(self._conn, [report.source_ip], need_rdns) > 0
        return StoredFailure("ingested", int(cur.lastrowid or 0), marked)

    def replace(self, pk: int, report: FailureReport) -> None:
        """Rewrite a stored report's fields from a new parse (reprocess); its identity and sample stay."""
        self._conn.execute(
            "UPDATE failure_reports SET reporter=?, arrival_ts=?, source_ip=?, reported_domain=?, feedback_type=?, "
            "auth_failure=?, identity_alignment=?, delivery_result=?, authentication_results=?, auth_results=?, "
            "dkim_domain=?, dkim_selector=?, dkim_identity=?, spf_domain=?, original_envelope_id=?, original_mail_from=?, "
            "original_rcpt_to=?, header_from=?, header_to=?, subject=?, message_id=?, user_agent=?, reporting_mta=?, "
            "submitter=?, mail_date_ts=?, incidents=?, original_headers=?, feedback_fields=?, body_omitted=?, warnings=? "
            "WHERE id=?",
            (*_values(report), pk),
        )

    def kept(self) -> Iterator[KeptFailure]:
        """Every report's kept material, in id order (for reprocess)."""
        for row in self._conn.execute(
            "SELECT id, sample, feedback_fields, original_headers, submitter, mail_date_ts, body_omitted "
            "FROM failure_reports ORDER BY id"
        ).fetchall():
            date = datetime.fromtimestamp(row[5], tz=UTC) if row[5] is not None else None
            sample = zlib.decompress(row[1]) if row[1] is not None else None
            yield KeptFailure(row[0], sample, row[2], row[3], row[4], date, bool(row[6]))

    def reports(self, domain: str | None = None, begin_ts: int = 0, end_ts: int = 2**32, limit: int = 0,
                offset: int = 0) -> list[FailureRow]:
        """Failure reports arriving in [begin_ts, end_ts), newest first; ``limit`` 0: all, after ``offset``."""
        where, args = _window(domain, begin_ts, end_ts)
        sql = f"SELECT {_COLUMNS} FROM failure_reports WHERE {where} ORDER BY arrival_ts DESC, id DESC"
        if limit > 0 or offset > 0:
            sql += " LIMIT ? OFFSET ?"
            args += [limit if limit > 0 else -1, offset]
        return [_row(r) for r in self._conn.execute(sql, args).fetchall()]

    def count(self, domain: str | None = None, begin_ts: int = 0, end_ts: int = 2**32) -> int:
        """How many failure reports ``reports`` would list without a limit."""
        where, args = _window(domain, begin_ts, end_ts)
        return int(self._conn.execute(f"SELECT count(*) FROM failure_reports WHERE {where}", args).fetchone()[0])

    def get(self, pk: int) -> FailureRow | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM failure_reports WHERE id = ?", (pk,)).fetchone()
        return _row(row) if row else None

    def domains(self) -> list[str]:
        """Every reported domain with a stored failure report, in name order."""
        rows = self._conn.execute("SELECT DISTINCT reported_domain FROM failure_reports ORDER BY reported_domain")
        return [str(r[0]) for r in rows]

    def source_counts(self, begin_ts: int, end_ts: int) -> list[FailureSourceCount]:
        """Per reported domain and source IP: the failure reports arriving in [begin_ts, end_ts), and whether
        an earlier one (arriving before ``begin_ts``) named the same IP for the same domain."""
        rows = self._conn.execute(
            "SELECT f.reported_domain, f.source_ip, count(*), min(f.arrival_ts), max(f.arrival_ts), "
            "json_group_array(DISTINCT f.reporter), "
            "EXISTS (SELECT 1 FROM failure_reports o WHERE o.reported_domain = f.reported_domain "
            "AND o.source_ip = f.source_ip AND o.arrival_ts < ?) "
            "FROM failure_reports f WHERE f.arrival_ts >= ? AND f.arrival_ts < ? "
            "GROUP BY f.reported_domain, f.source_ip ORDER BY f.reported_domain, f.source_ip",
            (begin_ts, begin_ts, end_ts),
        ).fetchall()
        return [FailureSourceCount(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]),
                                   tuple(sorted(json.loads(r[5]))), bool(r[6])) for r in rows]

    def sample(self, pk: int) -> bytes | None:
        row = self._conn.execute("SELECT sample FROM failure_reports WHERE id = ?", (pk,)).fetchone()
        return zlib.decompress(row[0]) if row and row[0] is not None else None


def _window(domain: str | None, begin_ts: int, end_ts: int) -> tuple[str, list[object]]:
    where, args = "arrival_ts >= ? AND arrival_ts < ?", list[object]([begin_ts, end_ts])
    if domain:
        where += " AND reported_domain = ?"
        args.append(domain)
    return where, args


def _values(r: FailureReport, warnings: tuple[str, ...] | None = None) -> tuple[object, ...]:
    """The columns after ``identity`` up to ``warnings``, in the INSERT's order (the report's warnings by default)."""
    return (
        r.reporter, int(r.arrival.timestamp()), r.source_ip, r.reported_domain, r.feedback_type,
        json.dumps(list(r.auth_failure)), json.dumps(list(r.identity_alignment)) if r.identity_alignment is not None else None,
        r.delivery_result, r.authentication_results, json.dumps([list(p) for p in r.auth_results]),
        r.dkim_domain, r.dkim_selector, r.dkim_identity, r.spf_domain, r.original_envelope_id, r.original_mail_from,
        r.original_rcpt_to, r.header_from, r.header_to, r.subject, r.message_id, r.user_agent, r.reporting_mta,
        r.submitter, int(r.mail_date.timestamp()) if r.mail_date else None, r.incidents, r.original_headers,
        r.feedback_fields, int(r.body_omitted), json.dumps(list(r.warnings if warnings is None else warnings)),
    )


def _row(r: tuple[object, ...]) -> FailureRow:
    values = list(r)
    values[6] = tuple(json.loads(str(r[6])))
    values[7] = tuple(json.loads(str(r[7]))) if r[7] is not None else None
    values[10] = tuple(tuple(p) for p in json.loads(str(r[10])))
    values[26] = bool(r[26])
    values[27] = bool(r[27])
    values[28] = tuple(json.loads(str(r[28])))
    return FailureRow(*values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class FailureIndexRow:
    """A stored failure report with what its search document needs beyond the listing row."""

    identity: str
    ingested_at: str
    report: FailureRow


def failure_index_rows(store: Store, after: int, limit: int) -> list[FailureIndexRow]:
    """Up to ``limit`` failure reports with an id above ``after``, in id order (the failure outbox reads these)."""
    rows = store.conn.execute(
        f"SELECT identity, ingested_at, {_COLUMNS} FROM failure_reports WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
    ).fetchall()
    return [FailureIndexRow(r[0], r[1], _row(r[2:])) for r in rows]


def last_failure_id(store: Store) -> int:
    return int(store.conn.execute("SELECT coalesce(max(id), 0) FROM failure_reports").fetchone()[0])


def failures_after(store: Store, after: int) -> int:
    """How many failure reports have an id above ``after`` (the failure outbox's backlog)."""
    return int(store.conn.execute("SELECT count(*) FROM failure_reports WHERE id > ?", (after,)).fetchone()[0])


def failure_index_rows_by_id(store: Store, ids: list[int]) -> list[FailureIndexRow]:
    rows = store.conn.execute(
        f"SELECT identity, ingested_at, {_COLUMNS} FROM failure_reports WHERE id IN (SELECT value FROM json_each(?)) "
        "ORDER BY id", (json.dumps(sorted(set(ids))),)
    ).fetchall()
    return [FailureIndexRow(r[0], r[1], _row(r[2:])) for r in rows]
