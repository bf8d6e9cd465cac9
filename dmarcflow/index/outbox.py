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
from datetime import UTC, datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from dmarcflow.index.document import IndexRow, IpPart, ReportPart
from dmarcflow.store import Store
from dmarcflow.store.outbox import Row
from dmarcflow.utc import now_iso, parse_iso

T = TypeVar("T")
# A verdict's columns as IndexRow holds them, between the record's count and its report.
VerdictFields = tuple[str, str, str, str, str | None, str | None, str, str, str, bool, bool, bool, str | None,
                      str | None, str]

# Ingest enriches a report's IPs just after committing it. A pass stops before a record whose
# IP has no facts yet, unless its report is older than this (enrichment failed: index anyway).
ENRICHMENT_GRACE = timedelta(minutes=5)

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
    return store.outbox.checkpoint(target)


def advance(store: Store, target: str, last_record_id: int) -> None:
    """Move the checkpoint forward (never back: two syncs of one target may overlap)."""
    store.outbox.advance(target, last_record_id, now_iso())


def reset(store: Store, target: str) -> None:
    """Forget what was sent to this target (for a rebuild of the index)."""
    with store.transaction():
        store.outbox.forget(target)


class RecordReader:
    """Index rows of one store for one sync pass; each verdict is read from ``verdicts`` once per reader.

    Verdict rows are never changed or deleted once committed, so a verdict read once holds for the pass.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._verdicts: dict[int, VerdictFields] = {}

    def pending(self, target: str, after: int, limit: int, now: datetime | None = None) -> list[IndexRow]:
        """Up to ``limit`` records after ``after``, in id order, stopping before one still being enriched."""
        now = now or datetime.now(UTC)
        records = self.store.outbox.records_after(after, limit)
        reports, ips, verdicts = self._parts(records)
        out = []
        for record in records:
            report, ingested_at = reports[record[5]]
            ip = ips.get(record[2])
            if ip is None:
                if not _enrichment_overdue(ingested_at, now):
                    break
                ip = IpPart()
            out.append(_index_row(record, verdicts[record[4]], report, ingested_at, ip))
        return out

    def by_id(self, record_ids: list[int]) -> list[IndexRow]:
        records = self.store.outbox.records_by_id(record_ids)
        reports, ips, verdicts = self._parts(records)
        return [_index_row(r, verdicts[r[4]], *reports[r[5]], ips.get(r[2], IpPart())) for r in records]

    def _parts(self, records: list[Row]) -> tuple[dict[int, tuple[ReportPart, str]], dict[str, IpPart],
                                                   dict[int, VerdictFields]]:
        return _reports(self.store, records), _ips(self.store, records), self._verdicts_of(records)

    def _verdicts_of(self, records: list[Row]) -> dict[int, VerdictFields]:
        known = self._verdicts
        missing = sorted({int(r[4]) for r in records} - known.keys())
        if len(known) + len(missing) > _VERDICTS_KEPT:
            known.clear()  # a store of very many verdicts: keep only this chunk's
            missing = sorted({int(r[4]) for r in records})
        for ids in _batches(missing):
            for row in self.store.outbox.verdicts(ids):
                known[int(row[0])] = _verdict_fields(row[1:])
        return known


_VERDICTS_KEPT = 65536


def _verdict_fields(row: Row) -> VerdictFields:
    """The verdict columns as IndexRow holds them (alignment and pass as booleans)."""
    (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf, dmarc_pass,
     dkim_aligned, spf_aligned, dkim_domain, spf_domain, source_class) = row
    return (disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf,
            bool(dmarc_pass), bool(dkim_aligned), bool(spf_aligned), dkim_domain, spf_domain, source_class)


def pending(store: Store, target: str, after: int, limit: int, now: datetime | None = None) -> list[IndexRow]:
    """Up to ``limit`` records after ``after``, in id order, stopping before one still being enriched."""
    return RecordReader(store).pending(target, after, limit, now)


def _enrichment_overdue(ingested_at: str, now: datetime) -> bool:
    stamp = parse_iso(ingested_at)
    return now - stamp > ENRICHMENT_GRACE


def rows_by_id(store: Store, record_ids: list[int]) -> list[IndexRow]:
    return RecordReader(store).by_id(record_ids)


def _reports(store: Store, records: list[Row]) -> dict[int, tuple[ReportPart, str]]:
    """Each report of the chunk read once (a chunk's records mostly share one or a few reports)."""
    out = {}
    for ids in _batches(sorted({int(r[5]) for r in records})):
        for row in store.outbox.reports(ids):
            out[int(row[0])] = (ReportPart(*row[1:23]), str(row[23]))
    return out


def _ips(store: Store, records: list[Row]) -> dict[str, IpPart]:
    out = {}
    for ips in _batches(sorted({str(r[2]) for r in records})):
        for row in store.outbox.ip_facts(ips):
            out[str(row[0])] = IpPart(*row[1:])
    return out


def _batches(values: list[T], size: int = 500) -> Iterator[list[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _index_row(record: Row, verdict: VerdictFields, report: ReportPart, ingested_at: str, ip: IpPart) -> IndexRow:
    record_id, position, source_ip, count, verdict_id, _ = record
    return IndexRow(record_id, position, source_ip, count, *verdict, report=report, ip=ip, ingested_at=ingested_at,
                    verdict_id=verdict_id)


def park_failures(store: Store, target: str, failures: list[Failure]) -> None:
    stamp = now_iso()
    store.outbox.park([(target, f.record_id, f.status, f.error, stamp) for f in failures])


def clear_failures(store: Store, target: str, record_ids: list[int]) -> None:
    store.outbox.clear(target, record_ids)


def failures(store: Store, target: str, limit: int = 1000) -> list[Failure]:
    return [Failure(*row) for row in store.outbox.failures(target, limit)]


def backlog(store: Store, target: str) -> Backlog:
    done = checkpoint(store, target)
    last, waiting, failed = store.outbox.counts(target, done)
    return Backlog(target, done, last, waiting, failed)
