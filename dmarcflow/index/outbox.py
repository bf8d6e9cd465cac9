"""The outbox: which stored records a search index has not acknowledged yet.

SQLite is the source of truth; an index is a projection of it. For each target (one cluster +
index prefix) the store keeps a checkpoint, the highest record id whose chunk the cluster
acknowledged, plus the records it refused one by one (``index_failures``), retried each pass.

Record ids only grow and writers are serialised by SQLite, so "id > checkpoint, in id order"
never skips a record that commits later.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from dmarcflow.index.document import IndexRow, IpPart, ReportPart
from dmarcflow.store import Store
from dmarcflow.utc import now_iso, parse_iso

# Ingest enriches a report's IPs just after committing it. A pass stops before a record whose
# IP has no facts yet, unless its report is older than this (enrichment failed: index anyway).
ENRICHMENT_GRACE = timedelta(minutes=5)

_RECORD_SQL = (
    "SELECT r.id, r.position, r.source_ip, r.count, r.disposition, r.dkim_eval, r.spf_eval, r.header_from, "
    "r.envelope_from, r.envelope_to, r.reasons, r.dkim, r.spf, r.dmarc_pass, r.dkim_aligned, r.spf_aligned, "
    "r.dkim_domain, r.spf_domain, r.class, r.report FROM records r "
)
# ReportPart fields, then the two columns IndexRow takes from the report.
_REPORT_SQL = (
    "SELECT id, org_name, report_id, domain, begin_ts, end_ts, email, extra_contact_info, generator, errors, schema, "
    "records_hash, status, adkim, aspf, p, sp, np, pct, fo, testing, discovery_method, defaults_applied, ingested_at "
    "FROM reports WHERE id IN ({marks})"
)
_IP_SQL = (
    "SELECT ip, reverse_dns, base_domain, country, asn, as_name, sender, sender_type FROM ip_info WHERE ip IN ({marks})"
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
    records = store.conn.execute(_RECORD_SQL + "WHERE r.id > ? ORDER BY r.id LIMIT ?", (after, limit)).fetchall()
    reports, ips = _reports(store, records), _ips(store, records)
    out = []
    for record in records:
        report, ingested_at = reports[record[19]]
        if record[2] not in ips and not _enrichment_overdue(ingested_at, now):
            break
        out.append(_index_row(record, report, ingested_at, ips.get(record[2], IpPart())))
    return out


def _enrichment_overdue(ingested_at: str, now: datetime) -> bool:
    stamp = parse_iso(ingested_at)
    return now - stamp > ENRICHMENT_GRACE


def rows_by_id(store: Store, record_ids: list[int]) -> list[IndexRow]:
    marks = ",".join("?" * len(record_ids))
    records = store.conn.execute(_RECORD_SQL + f"WHERE r.id IN ({marks}) ORDER BY r.id", record_ids).fetchall()
    reports, ips = _reports(store, records), _ips(store, records)
    return [_index_row(r, *reports[r[19]], ips.get(r[2], IpPart())) for r in records]


def _reports(store: Store, records: list[tuple]) -> dict[int, tuple[ReportPart, str]]:
    """Each report of the chunk read once (a chunk's records mostly share one or a few reports)."""
    out = {}
    for ids in _batches(sorted({r[19] for r in records})):
        for row in store.conn.execute(_REPORT_SQL.format(marks=",".join("?" * len(ids))), ids):
            out[row[0]] = (ReportPart(*row[1:23]), row[23])
    return out


def _ips(store: Store, records: list[tuple]) -> dict[str, IpPart]:
    out = {}
    for ips in _batches(sorted({r[2] for r in records})):
        for row in store.conn.execute(_IP_SQL.format(marks=",".join("?" * len(ips))), ips):
            out[row[0]] = IpPart(*row[1:])
    return out


def _batches(values: list, size: int = 500) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _index_row(record: tuple, report: ReportPart, ingested_at: str, ip: IpPart) -> IndexRow:
    return IndexRow(
        *record[:13], bool(record[13]), bool(record[14]), bool(record[15]), *record[16:19],
        report=report, ip=ip, ingested_at=ingested_at,
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
