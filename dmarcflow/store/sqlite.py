"""SQLite store: open/migrate, write one report per transaction, list what is stored.

Writers take the write lock (BEGIN IMMEDIATE) before looking up a report's
identity, so two processes ingesting the same report cannot both store it.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from dmarcflow.errors import StoreError
from dmarcflow.models import Record, Report
from dmarcflow.store.schema import migrate
from dmarcflow.utc import now_iso

_BATCH = 5000
_BUSY_TIMEOUT_MS = 300_000  # a concurrent writer may be storing a very large report


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


def fingerprint(row: tuple) -> bytes:
    """Stable bytes for a record row (without report id and position), for duplicate-versus-conflict."""
    return repr(row[2:]).encode()


def hash_records(records: Iterable[Record]) -> tuple[str, int, int]:
    hasher = hashlib.sha256()
    encoder = RowEncoder()
    count = messages = 0
    for record in records:
        hasher.update(fingerprint(encoder.row(0, count, record)))
        count += 1
        messages += record.count
    return hasher.hexdigest(), count, messages


class RowEncoder:
    """Record -> records-table row. JSON of auth results is cached: a report repeats the same few."""

    def __init__(self) -> None:
        self._json: dict[tuple, str] = {}

    def _auth(self, results: tuple) -> str:
        text = self._json.get(results)
        if text is None:
            text = json.dumps([{k: getattr(r, k) for k in r.__slots__} for r in results], separators=(",", ":"))
            if len(self._json) < 50_000:
                self._json[results] = text
        return text

    def row(self, pk: int, position: int, r: Record) -> tuple:
        a = r.alignment
        return (
            pk, position, r.source_ip, r.count, r.disposition, r.dkim_evaluated, r.spf_evaluated,
            r.header_from, r.envelope_from, r.envelope_to,
            self._auth(r.reasons) if r.reasons else "[]",
            self._auth(r.dkim), self._auth(r.spf), int(r.dmarc_pass), int(a.dkim), int(a.spf),
            a.dkim_domain, a.spf_domain, r.source_class,
        )


class Store:
    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn = conn
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> "Store":
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            migrate(conn)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from None
        return cls(conn, path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot start a write transaction on {self.path}: {exc}") from None
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot commit to {self.path}: {exc}") from None

    def find_identity(self, report: Report) -> list[Existing]:
        rows = self.conn.execute(
            "SELECT id, records_hash, status FROM reports WHERE org_name=? AND report_id=? AND domain=? AND begin_ts=? AND end_ts=? ORDER BY id",
            report.identity,
        ).fetchall()
        return [Existing(*row) for row in rows]

    def known_ips(self, ips: Iterable[str], need_rdns: bool) -> set[str]:
        """Which of these IPs already have facts (and a reverse DNS attempt, if asked)."""
        ips = list(ips)
        known: set[str] = set()
        sql = "SELECT ip FROM ip_info WHERE ip IN (%s)" + (" AND rdns_checked=1" if need_rdns else "")
        for start in range(0, len(ips), 500):
            chunk = ips[start : start + 500]
            known.update(r[0] for r in self.conn.execute(sql % ",".join("?" * len(chunk)), chunk))
        return known

    def save_ip_facts(self, facts: Iterable) -> None:
        self.conn.executemany(
            "INSERT INTO ip_info (ip, reverse_dns, base_domain, country, asn, as_name, as_domain, sender, sender_type, rdns_checked, updated_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(ip) DO UPDATE SET reverse_dns=excluded.reverse_dns, base_domain=excluded.base_domain, "
            "country=excluded.country, asn=excluded.asn, as_name=excluded.as_name, as_domain=excluded.as_domain, sender=excluded.sender, "
            "sender_type=excluded.sender_type, rdns_checked=excluded.rdns_checked, updated_at=excluded.updated_at",
            [
                (f.ip, f.reverse_dns, f.base_domain, f.country, f.asn, f.as_name, f.as_domain, f.sender, f.sender_type, int(f.rdns_checked), now_iso())
                for f in facts
            ],
        )

    def write_report(
        self,
        report: Report,
        records: Iterable[Record],
        *,
        status: str,
        conflict_of: int | None,
        source: str,
        raw_xml: Callable[[], IO[bytes]],
    ) -> tuple[StoredReport, set[str]]:
        """Insert a report and stream its records; call inside transaction().

        Returns the outcome and the set of source IPs seen. The records hash is
        only known at the end, so the row starts with a placeholder that the
        unique identity index cannot collide with.
        """
        pk = self._insert_report_row(report, status, conflict_of, source)
        writer = _RecordWriter(self.conn, pk, report, rollup=(status == "active"))
        for record in records:
            writer.add(record)
        writer.finish()
        digest = writer.hasher.hexdigest()
        self.conn.execute(
            "UPDATE reports SET records_hash=?, record_count=?, message_count=? WHERE id=?",
            (digest, writer.count, writer.messages, pk),
        )
        self._put_raw_xml(pk, raw_xml())
        outcome = "ingested" if status == "active" else "conflict"
        return StoredReport(outcome, pk, writer.count, writer.messages), writer.ips

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
        return io.BufferedReader(_Inflating(self.conn.blobopen("reports", "raw_xml", pk, readonly=True)), 1 << 16)

    def rewrite_records(self, pk: int, report: Report, records: Iterable[Record], rollup: bool) -> StoredReport:
        """Replace a stored report's records (its rows must be deleted first)."""
        writer = _RecordWriter(self.conn, pk, report, rollup=rollup)
        for record in records:
            writer.add(record)
        writer.finish()
        self.conn.execute(
            "UPDATE reports SET records_hash=?, record_count=?, message_count=? WHERE id=?",
            (writer.hasher.hexdigest(), writer.count, writer.messages, pk),
        )
        return StoredReport("reprocessed", pk, writer.count, writer.messages)

    def _insert_report_row(self, report: Report, status: str, conflict_of: int | None, source: str) -> int:
        m, p = report.metadata, report.policy
        cur = self.conn.execute(
            "INSERT INTO reports (org_name, report_id, domain, begin_ts, end_ts, email, extra_contact_info, generator, errors, "
            "schema, version, namespace, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, defaults_applied, "
            "records_hash, status, conflict_of, source, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                *report.identity, m.email, m.extra_contact_info, m.generator, json.dumps(list(m.errors)),
                report.schema, report.version, report.namespace, p.adkim, p.aspf, p.p, p.sp, p.np, p.pct, p.fo,
                p.testing, p.discovery_method, json.dumps(list(report.defaults_applied)),
                f"pending:{id(report)}:{now_iso()}", status, conflict_of, source, now_iso(),
            ),
        )
        return int(cur.lastrowid)

    def save_rejected(self, input_name: str, payload: str, reason: str, message: str, raw: bytes | None) -> int:
        sha = None
        if raw is not None:
            sha = hashlib.sha256(raw).hexdigest()
            self.conn.execute(
                "INSERT OR IGNORE INTO raw_inputs (sha256, size, data) VALUES (?,?,?)",
                (sha, len(raw), zlib.compress(raw, 6)),
            )
        cur = self.conn.execute(
            "INSERT INTO rejected (input, payload, reason, message, raw_sha256, rejected_at) VALUES (?,?,?,?,?,?)",
            (input_name, payload, reason, message, sha, now_iso()),
        )
        return int(cur.lastrowid)

    def raw_input(self, sha256: str) -> bytes | None:
        row = self.conn.execute("SELECT data FROM raw_inputs WHERE sha256=?", (sha256,)).fetchone()
        return zlib.decompress(row[0]) if row else None


def _dims(record: Record) -> tuple:
    a = record.alignment
    return (
        record.source_ip,
        record.header_from,
        record.source_class,
        record.disposition,
        int(record.dmarc_pass),
        record.dkim_evaluated,
        record.spf_evaluated,
        int(a.dkim),
        int(a.spf),
        a.dkim_domain or "",
        a.spf_domain or "",
        _first_result(record.dkim, a.dkim_domain),
        _first_result(record.spf, a.spf_domain),
        ",".join(sorted({r.type for r in record.reasons})),
    )


def _first_result(results: tuple, domain: str | None) -> str:
    for r in results:
        if r.domain == domain:
            return r.result
    return results[0].result if results else ""


class _RecordWriter:
    """Buffers record rows and rollup sums for one report."""

    def __init__(self, conn: sqlite3.Connection, pk: int, report: Report, rollup: bool) -> None:
        self.conn, self.pk, self.rollup = conn, pk, rollup
        self.domain = report.policy.domain
        self.day = int(report.metadata.begin.timestamp()) // 86400
        self.hasher = hashlib.sha256()
        self.encoder = RowEncoder()
        self.count = self.messages = 0
        self.rows: list[tuple] = []
        self.sums: dict[tuple, list[int]] = {}
        self.ips: set[str] = set()

    def add(self, r: Record) -> None:
        row = self.encoder.row(self.pk, self.count, r)
        self.hasher.update(fingerprint(row))
        self.rows.append(row)
        self.count += 1
        self.messages += r.count
        self.ips.add(r.source_ip)
        if self.rollup:
            sums = self.sums.setdefault(_dims(r), [0, 0])
            sums[0] += r.count
            sums[1] += 1
        if len(self.rows) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        self.conn.executemany(
            "INSERT INTO records (report, position, source_ip, count, disposition, dkim_eval, spf_eval, header_from, "
            "envelope_from, envelope_to, reasons, dkim, spf, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, "
            "spf_domain, class) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            self.rows,
        )
        self.rows.clear()

    def finish(self) -> None:
        self._flush()
        self.conn.executemany(
            "INSERT INTO daily_sources (domain, day, source_ip, header_from, class, disposition, dmarc_pass, dkim_eval, "
            "spf_eval, dkim_aligned, spf_aligned, dkim_domain, spf_domain, dkim_result, spf_result, reasons, messages, records) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
            "messages = messages + excluded.messages, records = records + excluded.records",
            [(self.domain, self.day, *dims, m, n) for dims, (m, n) in self.sums.items()],
        )


class _Inflating(io.RawIOBase):
    """Reads a zlib-compressed blob as the bytes it holds, a chunk at a time."""

    def __init__(self, blob) -> None:
        self._blob = blob
        self._zip = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._blob.read(1 << 16)
            if not chunk:
                self._pending = self._zip.flush()
                break
            self._pending = self._zip.decompress(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._blob.close()
        super().close()

