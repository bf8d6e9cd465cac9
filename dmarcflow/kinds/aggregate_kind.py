"""DMARC aggregate reports behind the report-kind seam: the streaming XML path, as it always was.

One transaction per report: the identity is looked up under the write lock; a known identity with the
same records is a duplicate, with other records a conflict (kept); the raw XML is kept zlib-compressed
(through a spooled file, so memory stays flat) for ``reprocess``.

``parse`` and ``save`` are the two halves of ``store`` for ``ingest --jobs`` (a worker parses, the writer
saves), with the same outcomes, warnings and stored rows as ``store``; a report of more than
``WORKER_MAX_RECORDS`` records, or whose compressed copy passes ``WORKER_MAX_RAW``, is left to ``store``.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from dmarcflow.errors import InputError, StoreError, TooLargeForWorker, Warnings
from dmarcflow.kinds.base import KindSettings, Parsed, Payload, Reprocessed, Stored
from dmarcflow.models import Report
from dmarcflow.parse import parse_report
from dmarcflow.store.raw_xml import compressor
from dmarcflow.store.sqlite import Store, StoredReport, hash_records

if TYPE_CHECKING:
    from email.message import Message

    from dmarcflow.index.feed import Feed
    from dmarcflow.kinds.compact_records import CompactRecords
    from dmarcflow.store.browse import ReportFilter, ReportRow

WORKER_MAX_RECORDS = 50_000  # a parsed report in flight between processes holds ~100 B a record
WORKER_MAX_RAW = 16 << 20  # bytes of the compressed raw copy


@dataclass(frozen=True)
class ParsedAggregate:
    """One aggregate report parsed in a worker: what ``AggregateKind.save`` stores."""

    report: Report
    records: CompactRecords
    raw_xml: bytes  # zlib-compressed, as the store keeps it
    # ``store`` writes the quirks met up to the end of the records, and reports those met reading the
    # rest of the bytes (after the root element) only for a report it stored: the same split here.
    head_warnings: tuple[str, ...]
    warnings: tuple[str, ...]
    kind: str = "aggregate"

    def source_ips(self) -> tuple[str, ...]:
        return tuple(set(self.records.ips))


class AggregateKind:
    name = "aggregate"
    shapes = ("xml",)
    mail_headers: tuple[str, ...] = ()

    @property
    def feed(self) -> Feed:
        from dmarcflow.index.feed import AggregateFeed  # here: only what indexes needs the index modules

        return AggregateFeed()

    def claims_mail(self, msg: Message) -> str | None:
        return None  # an aggregate report is a part of its mail, found by its bytes

    def store(self, store: Store, payload: Payload, source: str, settings: KindSettings) -> Stored:
        warnings = Warnings(payload.warnings)
        with store.transaction():
            stored = _store_in_transaction(store, source, payload, warnings, settings.need_rdns)
        return Stored(stored.status, stored.records, stored.messages, warnings.codes(),
                      marked_ips=stored.report_pk is not None)

    def parse(self, payload: Payload, settings: KindSettings) -> Parsed:
        from dmarcflow.kinds.compact_records import compact  # here: only worker processes parse without storing

        warnings = Warnings(payload.warnings)
        with payload.open(warnings) as stream, _compressing(stream) as tee:
            parsed = parse_report(tee, warnings, payload.sender_domain)
            records = compact(parsed.records, WORKER_MAX_RECORDS)
            head = warnings.codes()
            raw = tee.compressed(WORKER_MAX_RAW).read()
        return ParsedAggregate(parsed.report, records, raw, head, warnings.codes())

    def save(self, store: Store, parsed: Parsed, source: str, settings: KindSettings) -> Stored:
        assert isinstance(parsed, ParsedAggregate)
        with store.transaction():
            stored = _save_in_transaction(store, source, parsed, settings.need_rdns)
        codes = parsed.head_warnings if stored.status == "duplicate" else parsed.warnings
        return Stored(stored.status, stored.records, stored.messages, codes, marked_ips=stored.report_pk is not None)

    def reprocess(self, store: Store) -> Reprocessed:
        """Rewrite records and rollups of every aggregate report (the caller holds the transaction)."""
        reports = records = messages = skipped = 0
        for pk, status, org in store.reprocess_targets():
            stream = store.open_raw_xml(pk)
            if stream is None:
                skipped += 1
                continue
            with stream:
                try:
                    # The stored org_name stands in again for a report that had none of its own.
                    parsed = parse_report(stream, sender_domain=org)
                    store.delete_records(pk)
                    stored = store.rewrite_records(pk, parsed.report, parsed.records, rollup=(status == "active"))
                except InputError as exc:
                    raise StoreError(f"reprocess: report {pk} no longer reads ({exc.reason}: {exc.message}); "
                                     "nothing was changed") from None
            reports += 1
            records += stored.records
            messages += stored.messages
        text = f"reprocessed {reports} report(s): {records} records, {messages} messages" + (
            f"; {skipped} without raw XML skipped" if skipped else "")
        return Reprocessed(reports, records, messages, skipped, text)

    def list_reports(self, store: Store, where: ReportFilter, *, limit: int | None = None,
                     offset: int = 0) -> list[ReportRow]:
        from dmarcflow.store import browse  # here: the listings' module is not imported to ingest

        return browse.list_reports(store, where, limit=limit, offset=offset)


def _store_in_transaction(store: Store, source: str, payload: Payload, warnings: Warnings, refresh_rdns: bool) -> StoredReport:
    with payload.open(warnings) as stream, _compressing(stream) as tee:
        parsed = parse_report(tee, warnings, payload.sender_domain)
        existing = store.find_identity(parsed.report)
        if existing:
            digest, count, messages = hash_records(parsed.records)
            if any(e.records_hash == digest for e in existing):
                return StoredReport("duplicate", None, count, messages)
            return _write_conflict(store, source, payload, existing[0].pk, warnings, refresh_rdns)
        return store.write_report(
            parsed.report, parsed.records, status="active", conflict_of=None, source=source,
            raw_xml=tee.compressed, refresh_rdns=refresh_rdns, warnings=warnings.codes,
        )


def _save_in_transaction(store: Store, source: str, parsed: ParsedAggregate, refresh_rdns: bool) -> StoredReport:
    """``_store_in_transaction`` for a report parsed already."""
    existing = store.find_identity(parsed.report)
    conflict_of = None
    if existing:
        digest, count, messages = hash_records(parsed.records.records())
        if any(e.records_hash == digest for e in existing):
            return StoredReport("duplicate", None, count, messages)
        conflict_of = existing[0].pk
    return store.write_report(
        parsed.report, parsed.records, status="active" if conflict_of is None else "conflict",
        conflict_of=conflict_of, source=source, raw_xml=lambda: io.BytesIO(parsed.raw_xml),
        refresh_rdns=refresh_rdns, warnings=lambda: parsed.head_warnings,
    )


def _write_conflict(store: Store, source: str, payload: Payload, conflict_of: int, warnings: Warnings,
                    refresh_rdns: bool) -> StoredReport:
    """Store a second version of a known report, flagged as a conflict."""
    with payload.open(warnings) as stream, _compressing(stream) as tee:
        parsed = parse_report(tee, warnings, payload.sender_domain)
        return store.write_report(
            parsed.report, parsed.records, status="conflict", conflict_of=conflict_of, source=source,
            raw_xml=tee.compressed, refresh_rdns=refresh_rdns, warnings=warnings.codes,
        )


@contextmanager
def _compressing(stream: IO[bytes]) -> Iterator[_CompressingReader]:
    """A compressing reader over the stream, its spool removed when the block ends."""
    with tempfile.SpooledTemporaryFile(max_size=1 << 20) as spool:
        yield _CompressingReader(stream, spool)


class _CompressingReader:
    """Passes bytes through to the parser and keeps a zlib copy for the store.

    The copy goes to a spooled temporary file, not a list in memory, so that a report's size does
    not show in the process's peak memory; ``store.raw_xml`` says how it is compressed.
    """

    def __init__(self, inner: IO[bytes], spool: IO[bytes]) -> None:
        self._inner = inner
        self._zip = compressor()
        self._spool = spool

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if data:
            self._spool.write(self._zip.compress(data))
        return data

    def compressed(self, limit: int | None = None) -> IO[bytes]:
        """The compressed copy; past ``limit`` compressed bytes, ``TooLargeForWorker``."""
        while self.read(1 << 16):  # anything after the root element still belongs to the raw copy
            if limit is not None and self._spool.tell() > limit:
                raise TooLargeForWorker(f"its compressed copy passes {limit} bytes")
        self._spool.write(self._zip.flush())
        self._spool.seek(0)
        return self._spool
