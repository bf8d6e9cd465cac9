"""The search-index outbox's SQL: each target's checkpoint, the records it refused, and the rows a sync sends.

``dmarcflow.index.outbox`` turns these rows into index rows; this module only reads and writes the
``index_checkpoint`` and ``index_failures`` tables and reads records with their reports and IP facts.
Writes run inside ``Store.transaction()``. SQLite errors pass through as they are: the sync and the
daemon already tell a failing store from a failing cluster by them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dmarcflow.store.repository import Repository

Row = tuple[Any, ...]

# A record's own columns (id, position, IP, count, verdict id, report id) straight from ``record_rows``: the
# ``records`` view joins every row with its verdict, while a sync reads each of the few verdicts once (``verdicts``).
_RECORD_SQL = "SELECT id, position, source_ip, count, verdict, report FROM record_rows "
# The verdict's id, then its columns in IndexRow's order.
_VERDICT_SQL = (
    "SELECT id, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf, "
    "dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, class FROM verdicts WHERE id IN ({marks})"
)
# The report's id, ReportPart's fields, then ingested_at.
_REPORT_SQL = (
    "SELECT id, org_name, report_id, domain, begin_ts, end_ts, email, extra_contact_info, generator, errors, schema, "
    "records_hash, status, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, defaults_applied, ingested_at "
    "FROM reports WHERE id IN ({marks})"
)
# The IP, then IpPart's fields.
_IP_SQL = (
    "SELECT ip, reverse_dns, base_domain, country, asn, as_name, sender, sender_type FROM ip_info WHERE ip IN ({marks})"
)


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


class OutboxRepository(Repository):
    def checkpoint(self, target: str) -> int:
        row = self._conn.execute("SELECT last_record_id FROM index_checkpoint WHERE target=?", (target,)).fetchone()
        return int(row[0]) if row else 0

    def advance(self, target: str, last_record_id: int, updated_at: str) -> None:
        """Move the checkpoint forward, never back (two syncs of one target may overlap)."""
        self._conn.execute(
            "INSERT INTO index_checkpoint (target, last_record_id, updated_at) VALUES (?,?,?) "
            "ON CONFLICT(target) DO UPDATE SET last_record_id=max(last_record_id, excluded.last_record_id), "
            "updated_at=excluded.updated_at",
            (target, last_record_id, updated_at),
        )

    def forget(self, target: str) -> None:
        """Drop the target's checkpoint and parked failures (inside a transaction)."""
        self._conn.execute("DELETE FROM index_checkpoint WHERE target=?", (target,))
        self._conn.execute("DELETE FROM index_failures WHERE target=?", (target,))

    def records_after(self, after: int, limit: int) -> list[Row]:
        """(id, position, source_ip, count, verdict id, report id) of up to ``limit`` records after ``after``."""
        rows: list[Row] = self._conn.execute(_RECORD_SQL + "WHERE id > ? ORDER BY id LIMIT ?",
                                             (after, limit)).fetchall()
        return rows

    def records_by_id(self, record_ids: Sequence[int]) -> list[Row]:
        rows: list[Row] = self._conn.execute(_RECORD_SQL + f"WHERE id IN ({_marks(record_ids)}) ORDER BY id",
                                             list(record_ids)).fetchall()
        return rows

    def verdicts(self, verdict_ids: Sequence[int]) -> list[Row]:
        """The verdicts' rows (at most a batch of ids): id, then the verdict columns of the ``records`` view."""
        rows: list[Row] = self._conn.execute(_VERDICT_SQL.format(marks=_marks(verdict_ids)),
                                             list(verdict_ids)).fetchall()
        return rows

    def reports(self, report_ids: Sequence[int]) -> list[Row]:
        """The reports' rows (at most a batch of ids: SQLite bounds the parameters)."""
        rows: list[Row] = self._conn.execute(_REPORT_SQL.format(marks=_marks(report_ids)), list(report_ids)).fetchall()
        return rows

    def ip_facts(self, ips: Sequence[str]) -> list[Row]:
        """The IPs' facts (at most a batch of IPs)."""
        rows: list[Row] = self._conn.execute(_IP_SQL.format(marks=_marks(ips)), list(ips)).fetchall()
        return rows

    def park(self, failures: Iterable[tuple[str, int, int, str, str]]) -> None:
        """(target, record_id, status, error, failed_at) of each refusal; a record refused again counts an attempt."""
        self._conn.executemany(
            "INSERT INTO index_failures (target, record_id, status, error, attempts, failed_at) VALUES (?,?,?,?,1,?) "
            "ON CONFLICT(target, record_id) DO UPDATE SET status=excluded.status, error=excluded.error, "
            "attempts=attempts+1, failed_at=excluded.failed_at",
            failures,
        )

    def clear(self, target: str, record_ids: Iterable[int]) -> None:
        self._conn.executemany("DELETE FROM index_failures WHERE target=? AND record_id=?",
                               [(target, rid) for rid in record_ids])

    def failures(self, target: str, limit: int) -> list[tuple[int, int, str, int]]:
        """(record_id, status, error, attempts) of the parked records, in id order."""
        rows: list[tuple[int, int, str, int]] = self._conn.execute(
            "SELECT record_id, status, error, attempts FROM index_failures WHERE target=? ORDER BY record_id LIMIT ?",
            (target, limit),
        ).fetchall()
        return rows

    def counts(self, target: str, after: int) -> tuple[int, int, int]:
        """The highest record id, the records after ``after`` and the target's parked records."""
        last = self._conn.execute("SELECT coalesce(max(id), 0) FROM record_rows").fetchone()[0]
        waiting = self._conn.execute("SELECT count(*) FROM record_rows WHERE id > ?", (after,)).fetchone()[0]
        failed = self._conn.execute("SELECT count(*) FROM index_failures WHERE target=?", (target,)).fetchone()[0]
        return int(last), int(waiting), int(failed)
