"""The pipeline for one input: extract -> parse -> store (+ enrich), with exactly one outcome, whatever it holds.

Every input ends as exactly one of ingested, duplicate, conflict or rejected; files, mbox
messages and IMAP messages all go through ``Ingestor._ingest``, which turns any unexpected
exception into that input's rejection (``internal_error``) so that the run goes on. Rejected
inputs are kept (raw bytes in the store) with a reason code. A failing store is not the
input's fault: its errors propagate, and the caller decides (fetch leaves the mail in place).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from dmarcflow.budget import InputBudget
from dmarcflow.config import EnrichmentSettings, Limits
from dmarcflow.enrich import Enricher
from dmarcflow.errors import InputError, NotAReport, StoreError
from dmarcflow.extract import Item, Rejection, Skipped, internal_error, kind_of, walk
from dmarcflow.ingest_tasks import (
    BATCH_INPUTS,
    MAX_JOBS,
    FileInput,
    MessageInput,
    Task,
    TaskInput,
    Unread,
    batches,
    jobs_for,
    mbox_inputs,
)
from dmarcflow.ingest_worker import (
    Decided,
    InputParser,
    ParsedInput,
    ParsedPayload,
    TaskResult,
    Unopened,
    WorkerResult,
    WorkerSettings,
    WriterTakesIt,
    parse_input,
    parse_task,
    read_error,
    start_task_worker,
)
from dmarcflow.inputs import BytesSource, Source, list_inputs, open_file
from dmarcflow.kinds.base import KindSettings, Payload, Stored
from dmarcflow.kinds.registry import kind_named
from dmarcflow.models import IpFacts
from dmarcflow.outcomes import InputOutcome, PayloadOutcome, combine
from dmarcflow.store import DatabaseError, RawInput
from dmarcflow.store.groups import CommitGroup
from dmarcflow.store.sqlite import Store

if TYPE_CHECKING:
    from dmarcflow.worker_pool import WorkerFailed, WorkerPool

    ParsingPool = WorkerPool[Any, Task, TaskResult]

__all__ = ["MAX_JOBS", "Ingestor", "InputOutcome", "PayloadOutcome", "combine", "jobs_for", "list_inputs"]

log = logging.getLogger(__name__)

_STORE_FAILURES = (StoreError, DatabaseError, MemoryError)
_ENRICH_BATCH = 1000  # IPs looked up and committed at a time, so an interrupted run keeps what it did
# Commit groups (``Ingestor.commit_groups``): a commit after this many inputs, this many records or this long,
# whichever comes first. Records bound what one failed commit takes back (and the write lock's hold): a
# report of 2,000 records or more is committed on its own, as every report was before groups. A commit writes
# every page its reports dirtied, and the indexes by source (report_sources, the rollup's) have a page per
# source seen: 500 records a commit spent 0.13 ms a small report in COMMIT, 2,000 records 0.06 ms.
GROUP_INPUTS = 200
GROUP_RECORDS = 2000
GROUP_SECONDS = 1.0

T = TypeVar("T")


def _raw_of(item: FileInput | MessageInput) -> Callable[[], RawInput]:
    """What a rejection of this input keeps: the file's bytes, or the message's."""
    if isinstance(item, MessageInput):
        return BytesSource(item.data).raw
    path = item.path
    return lambda: RawInput.of_file(path)


class Ingestor:
    def __init__(self, store: Store, enricher: Enricher, limits: Limits, *, keep_failure_samples: bool = False) -> None:
        self.store = store
        self.enricher = enricher
        self.limits = limits
        self.settings = KindSettings(limits, keep_failure_samples, need_rdns=not enricher.offline)
        self._enrich_due = False  # inside a commit group: its reports' IPs wait for the group's commit
        # IpFacts (as tuples) that workers looked up for the reports of the commit group in hand (``--jobs``)
        self._facts_ahead: dict[str, tuple[Any, ...]] = {}

    def ingest_files(self, paths: Iterable[str], on_committed: Callable[[list[InputOutcome]], None], *,
                     jobs: int = 1, group_inputs: int = GROUP_INPUTS, clock: Callable[[], float] = time.monotonic,
                     enrichment: EnrichmentSettings | None = None, parse: InputParser = parse_input,
                     batch_inputs: int = BATCH_INPUTS) -> None:
        """Every input in these files, several per commit (see ``commit_groups``): each outcome goes to
        ``on_committed`` only once the commit that holds it is done, in the order of ``paths``.

        ``jobs`` > 1: that many worker processes read, extract and parse the inputs, ``batch_inputs`` at
        most per task (``ingest_tasks.batches``: files, and the messages of each mbox file), with ``parse``
        for a file (see ``ingest_worker``); this process, the one writer, stores them in order
        (``_ingest_parsed``). ``enrichment``: the settings this ingestor's enricher was made with; when
        offline, workers look up the IP facts of what they parse with an enricher of their own, made from them.
        """
        with self.commit_groups(on_committed, group_inputs=group_inputs, clock=clock) as add:
            if jobs <= 1:
                for path in paths:
                    for outcome in self.ingest_file(path):
                        add(outcome, outcome.records)
                return
            with self.parsing_pool(jobs, enrichment, parse) as pool:
                for _, outcome in self.ingest_in_pool(pool, batches(paths, self.limits.max_message_bytes,
                                                                    inputs=batch_inputs)):
                    add(outcome, outcome.records)

    @contextmanager
    def parsing_pool(self, jobs: int, enrichment: EnrichmentSettings | None,
                     parse: InputParser = parse_input) -> Iterator[ParsingPool]:
        """``jobs`` worker processes that read, extract and parse inputs for ``ingest_in_pool`` (see
        ``ingest_files``); stopped when the block ends (terminated, when an exception ends it)."""
        from dmarcflow.worker_pool import WorkerPool  # here: multiprocessing is not imported for one job

        settings = WorkerSettings(self.settings, enrichment if self.enricher.offline else None)
        with WorkerPool(jobs, parse_task, (parse, settings), setup=start_task_worker,
                        preload=tuple(dict.fromkeys((parse_task.__module__, parse.__module__)))) as pool:
            yield pool

    def ingest_in_pool(self, pool: ParsingPool, tasks: Iterable[Task]) -> Iterator[tuple[TaskInput, InputOutcome]]:
        """Each input of these tasks with its outcome, in order: parsed by the pool's workers, stored here.

        Inside ``commit_groups``; the caller adds each outcome. A run left before its end leaves results in
        the workers' pipes: the pool must then not run again (the callers end its block).
        """
        for task, results in pool.run(tasks):
            each: TaskResult = results if isinstance(results, tuple) else (results,) * len(task)  # it died
            for item, result in zip(task, each, strict=True):
                for outcome in self._ingest_parsed(item, result):
                    yield item, outcome

    def _ingest_parsed(self, item: TaskInput, result: WorkerResult | WorkerFailed | None) -> Iterator[InputOutcome]:
        """Store what a worker made of one input: the outcomes ``ingest_file`` (or ``ingest_bytes``) gives it."""
        if isinstance(item, Unread):
            yield self._reject(item.name, InputError(item.reason, item.message), item.raw)
            return
        name = item.name if isinstance(item, MessageInput) else item.path
        if isinstance(result, WriterTakesIt):
            yield from self._ingest_here(item)
            return
        if isinstance(result, Unopened):
            yield self._reject(name, InputError(result.reason, result.message), None)
            return
        if isinstance(result, ParsedInput):
            self._facts_ahead.update((facts[0], facts) for facts in result.facts)
            outcomes = [self._parsed_item(name, part) for part in result.items]
        else:  # the worker failed on it: a bug, or its process died
            message = result.message if result is not None else "no result"
            outcomes = [PayloadOutcome(name, "rejected", "internal_error",
                                       f"internal error while reading the input: {message}")]
        combined = combine(name, outcomes)
        if combined.status == "rejected":
            self._keep_rejected(name, combined, _raw_of(item))
        yield combined

    def _ingest_here(self, item: FileInput | MessageInput) -> Iterator[InputOutcome]:
        """An input a worker gave back (too large to send, or an mbox it was not sent as one): read here."""
        if isinstance(item, MessageInput):
            yield self.ingest_bytes(item.name, item.data)
        else:
            yield from self.ingest_file(item.path)

    def _parsed_item(self, input_name: str, item: Decided | ParsedPayload) -> PayloadOutcome:
        if isinstance(item, Decided):
            return PayloadOutcome(item.name, item.status, item.reason, item.message, kind=item.kind)
        kind = item.parsed.kind
        return self._stored(item.name, kind, lambda: kind_named(kind).save(self.store, item.parsed, input_name,
                                                                           self.settings))

    @contextmanager
    def commit_groups(self, on_committed: Callable[[list[T]], None], *, group_inputs: int = GROUP_INPUTS,
                      clock: Callable[[], float] = time.monotonic) -> Iterator[Callable[[T, int], None]]:
        """Group commits: the inputs handled inside share write transactions (a savepoint each, so a failing
        input rolls back only its own), committed every ``group_inputs`` inputs, ``GROUP_RECORDS`` records or
        ``GROUP_SECONDS``. Call ``add(item, records)`` once an input is done; ``on_committed`` gets the items
        once the commit holding them is done (the caller then prints them, moves their mail), also when an
        exception ends the group, unless that last commit failed: then none of its items is acknowledged.
        """
        items: list[T] = []
        records, started = 0, clock()
        group: CommitGroup | None = None

        def add(item: T, item_records: int) -> None:
            nonlocal records, started
            items.append(item)
            records += item_records
            if len(items) >= group_inputs or records >= GROUP_RECORDS or clock() - started >= GROUP_SECONDS:
                assert group is not None
                self._commit_group(group)
                done = items[:]
                items.clear()
                records, started = 0, clock()
                on_committed(done)

        try:
            with self.store.group() as group:
                yield add
                self._commit_group(group)
        finally:
            if items and group is not None and not group.lost:
                on_committed(items[:])

    def _commit_group(self, group: CommitGroup) -> None:
        """Commit the group; its reports' IP facts go into the same commit when offline (no DNS to wait
        for under the write lock), else right after it, each batch in a transaction of its own."""
        due, self._enrich_due = self._enrich_due, False
        if due and self.enricher.offline:
            self._enrich_after_commit()
        self._facts_ahead.clear()  # what the group's reports needed is saved: no more memory than a group's IPs
        group.commit()
        if due and not self.enricher.offline:
            with self.store.ungrouped():
                self._enrich_after_commit()

    def ingest_bytes(self, name: str, data: bytes) -> InputOutcome:
        """One input given as bytes (an IMAP message, an mbox message)."""
        return self._ingest(name, BytesSource(data))

    def ingest_file(self, path: str) -> Iterator[InputOutcome]:
        """One outcome per file, or per message for an mbox; a file that cannot be read is one rejection."""
        try:
            source = open_file(path)
        except InputError as exc:
            yield self._reject(path, exc, None)
            return
        with source:
            try:
                is_mbox = kind_of(source) == "mbox"
            except _STORE_FAILURES:
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. an I/O error: the input's outcome
                yield self._reject(path, read_error(exc, path), None)
                return
            if is_mbox:
                yield from self._ingest_mbox(path, source)
            else:
                yield self._ingest(path, source)

    def _ingest_mbox(self, path: str, source: Source) -> Iterator[InputOutcome]:
        """Each message of an mbox file is an input of its own (``path:N``; see ``ingest_tasks.mbox_inputs``)."""
        for item in mbox_inputs(path, source, self.limits.max_message_bytes):
            if isinstance(item, Unread):
                yield self._reject(item.name, InputError(item.reason, item.message), item.raw)
            else:
                yield self.ingest_bytes(item.name, item.data)

    def _ingest(self, name: str, source: Source) -> InputOutcome:
        outcomes: list[PayloadOutcome] = []
        try:
            with closing(walk(name, source, InputBudget(self.limits, source.size))) as items:
                for item in items:
                    outcomes.append(self._item(name, item))
        except _STORE_FAILURES:
            raise
        except InputError as exc:
            outcomes.append(PayloadOutcome(name, "rejected", exc.reason, exc.message))
        except Exception as exc:  # noqa: BLE001 - one poison input must not end the run
            error = internal_error(exc, name)
            outcomes.append(PayloadOutcome(name, "rejected", error.reason, error.message))
        result = combine(name, outcomes)
        if result.status == "rejected":
            self._keep_rejected(name, result, source.raw)
        return result

    def _item(self, input_name: str, item: Item) -> PayloadOutcome:
        if isinstance(item, Rejection):
            return PayloadOutcome(item.name, "rejected", item.error.reason, item.error.message)
        if isinstance(item, Skipped):
            return PayloadOutcome(item.name, "skipped", item.reason, item.message)
        return self._store_payload(input_name, item)

    def _reject(self, name: str, error: InputError, raw: RawInput | None) -> InputOutcome:
        """An input rejected as a whole, before any of it could be walked."""
        with self.store.transaction():
            self.store.save_rejected(name, name, error.reason, error.message, raw)
        only = PayloadOutcome(name, "rejected", error.reason, error.message)
        return InputOutcome(name, "rejected", error.reason, error.message, 0, 0, 0, (only,))

    def _keep_rejected(self, name: str, result: InputOutcome, raw_of: Callable[[], RawInput]) -> None:
        raw = raw_of()
        rejected = [o for o in result.payloads if o.status == "rejected"]
        with self.store.transaction():
            for o in rejected:
                self.store.save_rejected(name, o.name, o.reason or "", o.message or "", raw)
            if not rejected:  # nothing in it was a report
                self.store.save_rejected(name, name, result.reason or "", result.message or "", raw)

    def _store_payload(self, input_name: str, payload: Payload) -> PayloadOutcome:
        """The payload's kind parses and stores it (in its own transaction); one outcome whatever happens."""
        kind = payload.kind
        return self._stored(payload.name, kind, lambda: kind_named(kind).store(self.store, payload, input_name,
                                                                               self.settings))

    def _stored(self, name: str, kind: str, store: Callable[[], Stored]) -> PayloadOutcome:
        try:
            stored = store()
        except NotAReport as exc:
            return PayloadOutcome(name, "skipped", exc.reason, exc.message)
        except InputError as exc:
            return PayloadOutcome(name, "rejected", exc.reason, exc.message, kind=kind)
        except _STORE_FAILURES:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug on one report must not lose the others
            error = internal_error(exc, name)
            return PayloadOutcome(name, "rejected", error.reason, error.message, kind=kind)
        if stored.marked_ips and self.store.grouped:
            self._enrich_due = True  # done when the group commits (see _commit_group)
        elif stored.marked_ips:
            self._enrich_after_commit()  # reverse DNS must not hold the store's write lock
        return PayloadOutcome(name, stored.status, None, None, stored.records, stored.messages, stored.warnings, kind)

    def complete_enrichment(self) -> int:
        """Fill in the facts of every source IP still waiting for them: this run's, or what a crash left.

        The store marks a report's IPs in the report's transaction (see ``store.ipfacts``), so nothing here
        holds them in memory however many distinct IPs a report has; each batch of facts is committed on
        its own, so a run that is interrupted keeps what it did. Returns the count.
        """
        need_rdns = not self.enricher.offline
        after, done = "", 0
        while batch := self.store.pending_ips(after, _ENRICH_BATCH, need_rdns):
            facts = self._facts_of(batch)
            with self.store.transaction():
                self.store.save_ip_facts(facts)
            after, done = batch[-1], done + len(batch)
        return done

    def _facts_of(self, ips: list[str]) -> list[IpFacts]:
        """Facts of these IPs: those a worker looked up already, the rest from the enricher."""
        ahead = self._facts_ahead
        missing = [ip for ip in ips if ip not in ahead]
        found = dict(zip(missing, self.enricher.facts_many(missing), strict=True)) if missing else {}
        return [IpFacts(*ahead[ip]) if ip in ahead else found[ip] for ip in ips]

    def _enrich_after_commit(self) -> None:
        try:
            self.complete_enrichment()
        except StoreError as exc:
            # The report is stored and its IPs stay marked: the next payload or run fills them in.
            log.warning("IP facts not saved yet: %s", exc)
        except (DatabaseError, MemoryError):
            raise
        except Exception:  # the report is stored; its IPs stay marked for the next run
            log.warning("enriching source IPs failed; they stay marked for the next run", exc_info=True)



