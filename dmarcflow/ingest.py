"""The pipeline for one input: extract -> parse -> store (+ enrich), with one outcome.

Every input ends as exactly one of ingested, duplicate, conflict or rejected.
Rejected inputs are kept (raw bytes in the store) with a reason code.
"""

from __future__ import annotations


import logging
import mailbox
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import IO

from dmarcflow.config import Limits
from dmarcflow.enrich import Enricher
from dmarcflow.errors import InputError, StoreError
from dmarcflow.extract import Payload, Rejection, detect, payloads_from_bytes, payloads_from_file
from dmarcflow.parse import parse_report
from dmarcflow.store import RawInput
from dmarcflow.store.sqlite import Store, StoredReport, hash_records

log = logging.getLogger(__name__)

_ENRICH_BATCH = 1000  # IPs looked up and committed at a time, so an interrupted run keeps what it did
_STATUS_RANK = {"rejected": 3, "conflict": 2, "ingested": 1, "duplicate": 0}


@dataclass(frozen=True)
class PayloadOutcome:
    name: str
    status: str
    reason: str | None = None
    message: str | None = None
    records: int = 0
    messages: int = 0


@dataclass(frozen=True)
class InputOutcome:
    path: str
    status: str
    reason: str | None
    message: str | None
    reports: int
    records: int
    messages: int
    payloads: tuple[PayloadOutcome, ...] = field(default=())

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "reports": self.reports,
            "records": self.records,
            "messages": self.messages,
        }


def combine(path: str, outcomes: list[PayloadOutcome]) -> InputOutcome:
    """One outcome for the input: the most serious of its payloads'."""
    worst = max(outcomes, key=lambda o: _STATUS_RANK[o.status])
    stored = [o for o in outcomes if o.status in ("ingested", "conflict", "duplicate")]
    return InputOutcome(
        path=path,
        status=worst.status,
        reason=worst.reason,
        message=worst.message,
        reports=len(stored),
        records=sum(o.records for o in stored),
        messages=sum(o.messages for o in stored),
        payloads=tuple(outcomes),
    )


class _CompressingReader:
    """Passes bytes through to the parser and keeps a zlib copy for the store.

    The copy goes to a spooled temporary file, not a list in memory, so that a report's size does
    not show in the process's peak memory; level 3 costs half of level 6's time for 40% more bytes.
    """

    def __init__(self, inner: IO[bytes]) -> None:
        self._inner = inner
        self._zip = zlib.compressobj(3)
        self._spool = tempfile.SpooledTemporaryFile(max_size=1 << 20)

    def read(self, size: int = -1) -> bytes:
        data = self._inner.read(size)
        if data:
            self._spool.write(self._zip.compress(data))
        return data

    def compressed(self) -> IO[bytes]:
        while self.read(1 << 16):
            pass  # anything after the root element still belongs to the raw copy
        self._spool.write(self._zip.flush())
        self._spool.seek(0)
        return self._spool

    def close(self) -> None:
        self._spool.close()


class Ingestor:
    def __init__(self, store: Store, enricher: Enricher, limits: Limits) -> None:
        self.store = store
        self.enricher = enricher
        self.limits = limits

    def ingest_bytes(self, name: str, data: bytes) -> InputOutcome:
        return self._ingest(name, payloads_from_bytes(name, data, self.limits), lambda: RawInput.of_bytes(data))

    def ingest_file(self, path: str) -> Iterator[InputOutcome]:
        """One outcome per file, or per message for an mbox."""
        with open(path, "rb") as fh:
            kind = detect(fh.read(512))
        if kind == "mbox":
            yield from self._ingest_mbox(path)
            return
        yield self._ingest(path, payloads_from_file(path, self.limits), lambda: RawInput.of_file(path))

    def _ingest_mbox(self, path: str) -> Iterator[InputOutcome]:
        box = mailbox.mbox(path, create=False)
        try:
            for index, key in enumerate(box.iterkeys(), start=1):
                yield self.ingest_bytes(f"{path}:{index}", box.get_bytes(key))
        finally:
            box.close()

    def _ingest(self, name: str, items: Iterable[Payload | Rejection], raw) -> InputOutcome:
        outcomes: list[PayloadOutcome] = []
        try:
            for item in items:
                if isinstance(item, Rejection):
                    outcomes.append(PayloadOutcome(item.name, "rejected", item.error.reason, item.error.message))
                else:
                    outcomes.append(self._store_payload(name, item))
        except InputError as exc:  # a container that failed while being walked
            outcomes.append(PayloadOutcome(name, "rejected", exc.reason, exc.message))
        if not outcomes:
            outcomes.append(PayloadOutcome(name, "rejected", "not_a_report", "no report found in the input"))
        result = combine(name, outcomes)
        if result.status == "rejected":
            self._keep_rejected(name, outcomes, raw())
        return result

    def _keep_rejected(self, name: str, outcomes: list[PayloadOutcome], data: RawInput | None) -> None:
        with self.store.transaction():
            for o in outcomes:
                if o.status == "rejected":
                    self.store.save_rejected(name, o.name, o.reason or "", o.message or "", data)

    def _store_payload(self, input_name: str, payload: Payload) -> PayloadOutcome:
        try:
            with self.store.transaction():
                stored, ips = self._store_in_transaction(input_name, payload)
        except InputError as exc:
            return PayloadOutcome(payload.name, "rejected", exc.reason, exc.message)
        self._enrich_after_commit()  # reverse DNS must not hold the store's write lock
        return PayloadOutcome(payload.name, stored.status, None, None, stored.records, stored.messages)

    def _store_in_transaction(self, input_name: str, payload: Payload) -> tuple[StoredReport, set[str]]:
        """The report's outcome and the source IPs it stored (to enrich once committed)."""
        with payload.open() as stream, closing(_CompressingReader(stream)) as tee:
            parsed = parse_report(tee)
            existing = self.store.find_identity(parsed.report)
            if existing:
                digest, count, messages = hash_records(parsed.records)
                if any(e.records_hash == digest for e in existing):
                    return StoredReport("duplicate", None, count, messages), set()
                return self._write(input_name, payload, conflict_of=existing[0].pk)
            return self.store.write_report(
                parsed.report, parsed.records, status="active", conflict_of=None, source=input_name, raw_xml=tee.compressed,
                refresh_rdns=not self.enricher.offline,
            )

    def _write(self, input_name: str, payload: Payload, conflict_of: int) -> tuple[StoredReport, set[str]]:
        """Store a second version of a known report, flagged as a conflict."""
        with payload.open() as stream, closing(_CompressingReader(stream)) as tee:
            parsed = parse_report(tee)
            return self.store.write_report(
                parsed.report, parsed.records, status="conflict", conflict_of=conflict_of, source=input_name, raw_xml=tee.compressed,
                refresh_rdns=not self.enricher.offline,
            )

    def complete_enrichment(self) -> int:
        """Fill in the facts of every source IP still waiting for them: this run's, or what a crash left.

        The store marks a report's IPs in the report's transaction (see ``store.ipfacts``); each batch of
        facts is committed on its own, so a run that is interrupted keeps what it did. Returns the count.
        """
        need_rdns = not self.enricher.offline
        after, done = "", 0
        while batch := self.store.pending_ips(after, _ENRICH_BATCH, need_rdns):
            facts = self.enricher.facts_many(batch)
            with self.store.transaction():
                self.store.save_ip_facts(facts)
            after, done = batch[-1], done + len(batch)
        return done

    def _enrich_after_commit(self) -> None:
        try:
            self.complete_enrichment()
        except StoreError as exc:
            # The report is stored and its IPs stay marked: the next payload or run fills them in.
            log.warning("IP facts not saved yet: %s", exc)


def list_inputs(paths: Iterable[str]) -> list[str]:
    """Files under the given paths, recursively, in a stable order; hidden files skipped in folders."""
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
        else:
            files.append(path)
    return files


