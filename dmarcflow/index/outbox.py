"""The outbox: which stored records a search index has not acknowledged yet.

SQLite is the source of truth; an index is a projection of it. For each target (one cluster +
index prefix) the store keeps a checkpoint, the highest record id whose chunk the cluster
acknowledged, plus the records it refused one by one (``index_failures``), retried each pass.

Record ids only grow and writers are serialised by SQLite, so "id > checkpoint, in id order"
never skips a record that commits later.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from dmarcflow.index.document import IndexRow, IpPart, ReportPart
from dmarcflow.store import Store
from dmarcflow.store.sqlite import now_iso

# Ingest enriches a report's IPs just after committing it. A pass stops before a record whose
# IP has no facts yet, unless its report is older than this (enrichment failed: index anyway).
ENRICHMENT_GRACE = timedelta(minutes=5)

_REPORT_COLUMNS = (
    "p.org_name, p.report_id, p.domain, p.begin_ts, p.end_ts, p.email, p.extra_contact_info, p.generator, p.errors, "
    "p.schema, p.records_hash, p.status, p.adkim, p.aspf, p.p, p.sp, p.np, p.pct, p.fo, p.testing, p.discovery_method"
)
_ROW_SQL = (
    "SELECT r.id, r.position, r.source_ip, r.count, r.disposition, r.dkim_eval, r.spf_eval, r.header_from, "
    "r.envelope_from, r.envelope_to, r.reasons, r.dkim, r.spf, r.dmarc_pass, r.dkim_aligned, r.spf_aligned, "
    f"r.dkim_domain, r.spf_domain, r.class, {_REPORT_COLUMNS}, "
    "i.ip IS NOT NULL, i.reverse_dns, i.base_domain, i.country, i.asn, i.as_name, i.sender, i.sender_type, p.ingested_at, "
    "p.defaults_applied "
    "FROM records r JOIN reports p ON p.id = r.report LEFT JOIN ip_info i ON i.ip = r.source_ip "
)


@dataclass(frozen=True)
class Backlog:
    target: str
    checkpoint: int
    last_record_id: int
    pending: int  # records after the checkpoint
    failed: int  # records parked after a per-document refusal


@dataclass(frozen=True)
class Failure:
    record_id: int
    status: int
    error: str
    attempts: int


def target_name(url: str, prefix: str) -> str:
    """Checkpoint key: host, port and index prefix (never the credentials a URL may carry)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    port = parts.port or (443 if parts.scheme == "https" else 9200)
    return f"{parts.hostname}:{port}/{prefix}"


def checkpoint(store: Store, target: str) -> int:
    row = store.conn.execute("SELECT last_record_id FROM index_checkpoint WHERE target=?", (target,)).fetchone()
    return int(row[0]) if row else 0


def advance(store: Store, target: str, last_record_id: int) -> None:
    """Move the checkpoint forward (never back: two syncs of one target may overlap)."""
    store.conn.execute(
        "INSERT INTO index_checkpoint (target, last_record_id, updated_at) VALUES (?,?,?) "
        "ON CONFLICT(target) DO UPDATE SET last_record_id=max(last_record_id, excluded.last_record_id), "
        "updated_at=excluded.updated_at",
        (target, last_record_id, now_iso()),
    )


def reset(store: Store, target: str) -> None:
    """Forget what was sent to this target (for a rebuild of the index)."""
    with store.transaction() as conn:
        conn.execute("DELETE FROM index_checkpoint WHERE target=?", (target,))
        conn.execute("DELETE FROM index_failures WHERE target=?", (target,))


def pending(store: Store, target: str, after: int, limit: int, now: datetime | None = None) -> list[IndexRow]:
    """Up to ``limit`` records after ``after``, in id order, stopping before one still being enriched."""
    now = now or datetime.now(timezone.utc)
    rows = store.conn.execute(_ROW_SQL + "WHERE r.id > ? ORDER BY r.id LIMIT ?", (after, limit)).fetchall()
    out = []
    for row in rows:
        if not row[40] and not _enrichment_overdue(row[48], now):
            break
        out.append(_index_row(row))
    return out


def _enrichment_overdue(ingested_at: str, now: datetime) -> bool:
    stamp = datetime.strptime(ingested_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return now - stamp > ENRICHMENT_GRACE


def rows_by_id(store: Store, record_ids: list[int]) -> list[IndexRow]:
    marks = ",".join("?" * len(record_ids))
    rows = store.conn.execute(_ROW_SQL + f"WHERE r.id IN ({marks}) ORDER BY r.id", record_ids).fetchall()
    return [_index_row(row) for row in rows]


def _index_row(row: sqlite3.Row | tuple) -> IndexRow:
    return IndexRow(
        *row[:13], bool(row[13]), bool(row[14]), bool(row[15]), *row[16:19],
        report=ReportPart(*row[19:40], defaults_applied=row[49]),
        ip=IpPart(*row[41:48]),
        ingested_at=row[48],
    )


def park_failures(store: Store, target: str, failures: list[Failure]) -> None:
    store.conn.executemany(
        "INSERT INTO index_failures (target, record_id, status, error, attempts, failed_at) VALUES (?,?,?,?,1,?) "
        "ON CONFLICT(target, record_id) DO UPDATE SET status=excluded.status, error=excluded.error, "
        "attempts=attempts+1, failed_at=excluded.failed_at",
        [(target, f.record_id, f.status, f.error, now_iso()) for f in failures],
    )


def clear_failures(store: Store, target: str, record_ids: list[int]) -> None:
    store.conn.executemany(
        "DELETE FROM index_failures WHERE target=? AND record_id=?", [(target, rid) for rid in record_ids]
    )


def failures(store: Store, target: str, limit: int = 1000) -> list[Failure]:
    rows = store.conn.execute(
        "SELECT record_id, status, error, attempts FROM index_failures WHERE target=? ORDER BY record_id LIMIT ?",
        (target, limit),
    ).fetchall()
    return [Failure(*row) for row in rows]


def backlog(store: Store, target: str) -> Backlog:
    done = checkpoint(store, target)
    last = store.conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0]
    waiting = store.conn.execute("SELECT count(*) FROM records WHERE id > ?", (done,)).fetchone()[0]
    failed = store.conn.execute("SELECT count(*) FROM index_failures WHERE target=?", (target,)).fetchone()[0]
    return Backlog(target, done, int(last), int(waiting), int(failed))
