"""SQLite store: open/migrate, write one report per transaction, list what is stored.

Writers take the write lock (BEGIN IMMEDIATE) before looking up a report's
identity, so two processes ingesting the same report cannot both store it.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Self

from dmarcflow.errors import StoreError
from dmarcflow.models import Record, Report
from dmarcflow.store import domain_sources, ipfacts, rejected
from dmarcflow.store.connection import describe, open_reader, open_writer
from dmarcflow.store.groups import CommitGroup
from dmarcflow.store.ipfacts import IpFactsRepository
from dmarcflow.store.outbox import OutboxRepository
from dmarcflow.store.raw_xml import Inflating
from dmarcflow.store.record_writer import RecordWriter, RowEncoder, SharedRecords, Verdicts, fingerprint, hash_records
from dmarcflow.store.rejected import RawInput, RejectedRepository, RejectedRow
from dmarcflow.utc import now_iso

if TYPE_CHECKING:
    from dmarcflow.store.alerts import AlertStore
    from dmarcflow.store.check_cache import CheckCache
    from dmarcflow.store.checks import CheckRepository
    from dmarcflow.store.reports import ReportRepository
    from dmarcflow.store.rollups import RollupRepository
    from dmarcflow.store.series import SeriesRepository

__all__ = ["IDENTITY_LOOKUP", "Existing", "RowEncoder", "Store", "StoredReport", "fingerprint", "hash_records"]

_INLINE_RAW = 1 << 20  # a compressed copy up to this size is bound in the INSERT; larger ones are streamed
# Without statistics the planner takes reports_domain_time (domain, begin_ts) for this, a scan of every report
# of that domain and day (hundreds for a large sender); the identity index holds all five columns.
IDENTITY_LOOKUP = (
    "SELECT id, records_hash, status FROM reports INDEXED BY reports_identity "
    "WHERE org_name=? AND report_id=? AND domain=? AND begin_ts=? AND end_ts=? ORDER BY id"
)


@dataclass(frozen=True)
class StoredReport:
    """What one stored (or compared) report amounted to."""

    status: str  # ingested | duplicate | conflict
    report_pk: int | None
    records: int
    messages: int


@dataclass(frozen=True)
class Existing:
    pk: int
    records_hash: str
    status: str


class Store:
    """One connection to the store. ``open`` for commands that write, ``open_readonly`` for those that only read."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool = False) -> None:
        self.conn = conn  # private to dmarcflow.store: other layers ask the repositories below
        self.path = path
        self.readonly = readonly
        self.ip_facts = IpFactsRepository(conn, path)
        self.rejected = RejectedRepository(conn, path)
        self.outbox = OutboxRepository(conn, path)  # what each search index has not acknowledged yet
        self._group: CommitGroup | None = None
        # One for every report this store writes: reports from one reporter repeat the same auth results,
        # so its bounded JSON cache pays off across reports, not only within one.
        self._encoder = RowEncoder()
        self._verdicts = Verdicts()  # verdict ids, dropped on every rollback (see Verdicts)

    # The repositories that ingest never asks are made (and their modules imported) on first use.
    @cached_property
    def reports(self) -> ReportRepository:
        """Listings, a report's header and records, reporters, arrival."""
        from dmarcflow.store.reports import ReportRepository

        return ReportRepository(self.conn, self.path)

    @cached_property
    def rollups(self) -> RollupRepository:
        """The summary's reads."""
        from dmarcflow.store.rollups import RollupRepository

        return RollupRepository(self.conn, self.path)

    @cached_property
    def series(self) -> SeriesRepository:
        from dmarcflow.store.series import SeriesRepository

        return SeriesRepository(self.conn, self.path)

    @cached_property
    def alerts(self) -> AlertStore:
        from dmarcflow.store.alerts import AlertStore

        return AlertStore(self.conn, self.path)

    @cached_property
    def checks(self) -> CheckRepository:
        """DNS posture checks, and the report facts they read."""
        from dmarcflow.store.checks import CheckRepository

        return CheckRepository(self.conn, self.path)

    @cached_property
    def check_cache(self) -> CheckCache:
        """The cached checks read whole (the DNS posture page, ``check --cached``, the ``dns_changed`` alert)."""
        from dmarcflow.store.check_cache import CheckCache

        return CheckCache(self.conn)

    @classmethod
    def open(cls, path: str | Path, *, create: bool = True) -> Self:
        """Open for writing, migrated to the newest schema; ``create=False``: the store must exist already."""
        path = Path(path)
        return cls(open_writer(path, create=create), path)

    @classmethod
    def open_readonly(cls, path: str | Path, *, migrate_older: bool = True) -> Self:
        """Open without writing and never create: for commands that only read (see ``connection.open_reader``)."""
        path = Path(path)
        return cls(open_reader(path, migrate_older=migrate_older), path, readonly=True)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any SQLite failure inside it (disk full, I/O error) becomes one StoreError."""
        if self.readonly:
            raise StoreError(f"the store at {self.path} was opened read-only")
        if self._group is not None:
            with self._group.savepoint():
                yield self.conn
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(self._write_failure(exc)) from None
        try:
            yield self.conn
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(self._write_failure(exc)) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            domain_sources.fold(self.conn)
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(self._write_failure(exc)) from exc

    @contextmanager
    def group(self) -> Iterator[CommitGroup]:
        """Group commits: inside, each ``transaction()`` is a savepoint of one write transaction, which
        ``commit()`` ends (one commit for many reports) and the next ``transaction()`` begins again.

        A failure inside one ``transaction()`` rolls back only its savepoint. On leaving, what is left is
        committed, also when an exception leaves (what was released is as good as committed one by one);
        ``lost`` then says whether that commit failed, so that callers acknowledge nothing of it.
        """
        if self._group is not None:
            raise StoreError("commit groups do not nest")
        group = CommitGroup(self.conn, self._write_failure, self._verdicts.forget, domain_sources.fold)
        self._group = group
        try:
            yield group
        except BaseException:
            group.close()
            raise
        finally:
            self._group = None
        group.close()
        if group.lost:
            raise StoreError(group.failure or f"cannot write to the store at {self.path}")

    @property
    def grouped(self) -> bool:
        """Whether a commit group is open (``group``)."""
        return self._group is not None

    @contextmanager
    def ungrouped(self) -> Iterator[None]:
        """Outside the group for a while (after its commit): each ``transaction()`` commits on its own again,
        so that slow work between them (reverse DNS) does not hold the write lock."""
        group, self._group = self._group, None
        if group is not None and group.dirty:
            self._group = group
            raise StoreError("commit the group before leaving it")
        try:
            yield
        finally:
            self._group = group

    def _write_failure(self, exc: sqlite3.Error) -> str:
        return f"cannot write to the store at {self.path}: {describe(exc, self.path)}"

    def _rollback(self) -> None:
        """Undo what is left: after disk full or an I/O error SQLite may have rolled back already."""
        self._verdicts.forget()
        if self.conn.in_transaction:
            with suppress(sqlite3.Error):  # the error that brought us here is the one worth reporting
                self.conn.execute("ROLLBACK")

    def find_identity(self, report: Report) -> list[Existing]:
        rows = self.conn.execute(IDENTITY_LOOKUP, report.identity).fetchall()
        return [Existing(*row) for row in rows]

    def known_ips(self, ips: Iterable[str], need_rdns: bool) -> set[str]:
        """Which of these IPs already have facts (and a reverse DNS attempt, if asked)."""
        return ipfacts.known(self.conn, ips, need_rdns)

    def save_ip_facts(self, facts: Iterable[ipfacts.Facts]) -> None:
        """Upsert IP facts and unmark those IPs as pending (inside transaction())."""
        ipfacts.save(self.conn, facts)

    def pending_ips(self, after: str = "", limit: int = 5000, need_rdns: bool = False) -> list[str]:
        """Source IPs still waiting for facts (a crash or a failure interrupted their enrichment)."""
        return ipfacts.pending(self.conn, after, limit, need_rdns)

    def write_report(
        self,
        report: Report,
        records: Iterable[Record] | SharedRecords,
        *,
        status: str,
        conflict_of: int | None,
        source: str,
        raw_xml: Callable[[], IO[bytes]],
        refresh_rdns: bool = False,
        warnings: Callable[[], tuple[str, ...]] = tuple,
    ) -> StoredReport:
        """Insert a report and stream its records; call inside transaction().

        The records hash (and the quirks met while reading) are only known at
        the end, so the row starts with a placeholder that the unique identity
        index cannot collide with. Its IPs without facts (with refresh_rdns,
        also those never looked up in reverse DNS) are marked as pending in the
        same transaction (see ``ipfacts``), and enriched from there after the
        commit: no set of IPs is kept, however many distinct ones the report has.
        """
        conn = self.conn
        placeholder = f"pending:{id(report)}:{now_iso()}"
        writer = self._writer(None, report, status == "active",
                              lambda: self._insert_report_row(report, status, conflict_of, source, (placeholder, 0, 0)))
        if isinstance(records, Iterable):
            for record in records:
                writer.add(record)
        else:  # shared combinations: a report parsed in a worker (``ingest --jobs``)
            writer.add_shared(records)
        stream = raw_xml()
        size = stream.seek(0, 2)
        stream.seek(0)
        inline = stream.read() if size <= _INLINE_RAW else None
        pk = writer.finish(lambda digest: self._insert_report_row(
            report, status, conflict_of, source, (digest, writer.count, writer.messages), inline))
        if writer.started:  # a big report: its row went in before its first batch of records
            conn.execute("UPDATE reports SET records_hash=?, record_count=?, message_count=? WHERE id=?",
                         (writer.hasher.hexdigest(), writer.count, writer.messages, pk))
        if writer.sources is not None:
            self._note_sources(pk, report.policy.domain, writer.sources, refresh_rdns)
        else:
            self._index_sources(pk, report.policy.domain)
            ipfacts.mark_report(conn, pk, refresh_rdns)
        codes = warnings()
        if codes:
            conn.executemany("INSERT OR IGNORE INTO report_warnings (report, code) VALUES (?, ?)",
                             [(pk, code) for code in codes])
        if inline is None or writer.started:
            self._put_raw_xml(pk, stream)
        outcome = "ingested" if status == "active" else "conflict"
        return StoredReport(outcome, pk, writer.count, writer.messages)

    def _writer(self, pk: int | None, report: Report, rollup: bool, begin: Callable[[], int]) -> RecordWriter:
        day = int(report.metadata.begin.timestamp()) // 86400
        return RecordWriter(self.conn, pk, report.policy.domain, day, rollup, self._encoder, self._verdicts, begin)

    def report_warnings(self, pk: int) -> tuple[str, ...]:
        rows = self.conn.execute("SELECT code FROM report_warnings WHERE report = ? ORDER BY code", (pk,))
        return tuple(code for (code,) in rows)

    def _index_sources(self, pk: int, domain: str) -> None:
        """Note which source IPs this report saw (read back from its records, still in the page cache)."""
        self.conn.execute(
            "INSERT INTO report_sources (domain, source_ip, report, messages, records) "
            "SELECT ?, source_ip, report, SUM(count), COUNT(*) FROM record_rows WHERE report = ? GROUP BY source_ip",
            (domain, pk),
        )

    def _note_sources(self, pk: int, domain: str, sources: dict[str, list[int]], refresh_rdns: bool) -> None:
        """``_index_sources`` and ``ipfacts.mark_report`` from the sums the writer kept (a small report)."""
        self.conn.executemany(
            "INSERT INTO report_sources (domain, source_ip, report, messages, records) VALUES (?, ?, ?, ?, ?)",
            [(domain, ip, pk, m, n) for ip, (m, n) in sorted(sources.items())])
        ipfacts.mark_ips(self.conn, sorted(sources), refresh_rdns)

    def _put_raw_xml(self, pk: int, stream: IO[bytes]) -> None:
        """Copy the compressed XML into the row in chunks (incremental blob I/O, no whole copy in memory)."""
        size = stream.seek(0, 2)
        stream.seek(0)
        self.conn.execute("UPDATE reports SET raw_xml = zeroblob(?) WHERE id = ?", (size, pk))
        with self.conn.blobopen("reports", "raw_xml", pk) as blob:
            while chunk := stream.read(1 << 20):
                blob.write(chunk)

    def open_raw_xml(self, pk: int) -> IO[bytes] | None:
        """The kept XML of a report, decompressed as it is read; None if none was kept."""
        row = self.conn.execute("SELECT raw_xml IS NOT NULL FROM reports WHERE id = ?", (pk,)).fetchone()
        if not row or not row[0]:
            return None
        return io.BufferedReader(Inflating(self.conn.blobopen("reports", "raw_xml", pk, readonly=True)), 1 << 16)

    def reprocess_targets(self) -> list[tuple[int, str, str]]:
        """(id, status, org_name) of every aggregate report in id order, with the rollups dropped: a
        reprocess writes them all again (inside transaction())."""
        self.conn.execute("DELETE FROM domain_sources_pending")  # what is noted goes with the rows it would change
        self.conn.execute("DELETE FROM domain_sources")  # first: its triggers then find nothing to subtract
        self.conn.execute("DELETE FROM daily_rollup")  # daily_sources is its view (schema 15)
        return [(int(pk), str(status), str(org))
                for pk, status, org in self.conn.execute("SELECT id, status, org_name FROM reports ORDER BY id")]

    def delete_records(self, pk: int) -> None:
        """Drop a stored report's records, before ``rewrite_records`` writes them again (inside transaction())."""
        self.conn.execute("DELETE FROM record_rows WHERE report = ?", (pk,))

    def rewrite_records(self, pk: int, report: Report, records: Iterable[Record], rollup: bool) -> StoredReport:
        """Replace a stored report's records (``delete_records`` first)."""
        writer = self._writer(pk, report, rollup, lambda: pk)
        for record in records:
            writer.add(record)
        writer.finish(lambda digest: pk)
        self.conn.execute("DELETE FROM report_sources WHERE report = ?", (pk,))
        self._index_sources(pk, report.policy.domain)
        self.conn.execute(
            "UPDATE reports SET records_hash=?, record_count=?, message_count=? WHERE id=?",
            (writer.hasher.hexdigest(), writer.count, writer.messages, pk),
        )
        ipfacts.mark_report(self.conn, pk, need_rdns=False)
        return StoredReport("reprocessed", pk, writer.count, writer.messages)

    def _insert_report_row(self, report: Report, status: str, conflict_of: int | None, source: str,
                           totals: tuple[str, int, int], raw_xml: bytes | None = None) -> int:
        """The report's row: ``totals`` is (records hash, records, messages), or a placeholder the unique
        identity index cannot collide with while the records of a big report are still being written."""
        m, p = report.metadata, report.policy
        cur = self.conn.execute(
            "INSERT INTO reports (org_name, report_id, domain, begin_ts, end_ts, email, extra_contact_info, generator, errors, "
            "schema, version, namespace, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, defaults_applied, "
            "records_hash, record_count, message_count, status, conflict_of, source, ingested_at, raw_xml) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *report.identity, m.email, m.extra_contact_info, m.generator, json.dumps(list(m.errors)),
                report.schema, report.version, report.namespace, p.adkim, p.aspf, p.p, p.sp, p.np, p.pct, p.fo,
                p.testing, p.discovery_method, json.dumps(list(report.defaults_applied)),
                *totals, status, conflict_of, source, now_iso(), raw_xml,
            ),
        )
        assert cur.lastrowid is not None  # an INSERT always sets it
        return cur.lastrowid

    def save_rejected(self, input_name: str, payload: str, reason: str, message: str,
                      raw: RawInput | bytes | None) -> int:
        """Record a rejection (inside transaction()); the same input, reason and bytes again only counts as seen again."""
        return rejected.save(self.conn, input_name, payload, reason, message, raw)

    def rejection_of(self, sha256: str) -> tuple[str, str] | None:
        """(reason, message) of the first rejection of the bytes with this sha256, if any."""
        return rejected.find_by_sha256(self.conn, sha256)

    def has_unread_rejection(self, input_name: str, reason: str) -> bool:
        """Whether this input was rejected for this reason already, without its bytes being read."""
        return rejected.exists(self.conn, input_name, reason)

    def rejected_inputs(self, *, limit: int | None = None, offset: int = 0,
                        newest_first: bool = False) -> list[RejectedRow]:
        return rejected.rows(self.conn, limit=limit, offset=offset, newest_first=newest_first)

    def rejected_count(self) -> int:
        return rejected.count(self.conn)

    def rejected_raw(self, rejected_id: int) -> bytes | None:
        """The kept bytes of a rejected input; None for an unknown id or bytes that were not kept."""
        return rejected.raw_of(self.conn, rejected_id)

    def raw_input(self, sha256: str) -> bytes | None:
        return rejected.raw_by_sha256(self.conn, sha256)
