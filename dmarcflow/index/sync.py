"""One sync pass over the outbox: pending records -> documents -> bulk requests -> checkpoint.

A pass reads pending records in id order and sends them in chunks (``op_type: create`` and a
deterministic ``_id``: a 409 means "already there", which is fine), and advances the checkpoint
only once a chunk is fully answered. Documents the engine refuses one by one are parked with
their error and retried on the next pass. Retries go through the one retry layer (``retry.py``);
if the engine stays away the pass stops and the records wait in SQLite.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.index import mapping, outbox
from dmarcflow.index.client import Action, BulkOutcome, SearchClient, reason_of
from dmarcflow.index.feed import AggregateFeed, Feed, feeds, index_of
from dmarcflow.index.retry import ClusterUnavailable, Retrier
from dmarcflow.index.templates import ensure_family, ensure_template
from dmarcflow.store import Store

log = logging.getLogger(__name__)

CONFLICT = 409


def target_of(settings: ElasticsearchSettings) -> str:
    return outbox.target_name(settings.url, settings.index_prefix)


@dataclass(frozen=True)
class DocumentFailure:
    record_id: int
    doc_id: str
    status: int
    error: str


@dataclass(frozen=True)
class SyncResult:
    target: str
    sent: int  # documents sent this pass (including retried failures)
    created: int
    existing: int  # 409: already indexed by an earlier pass or another daemon
    skipped: int  # older than the retention: not sent
    failures: tuple[DocumentFailure, ...]  # refused this pass, parked for the next one
    checkpoint: int
    pending: int  # records still after the checkpoint
    parked: int  # records in the failure list after this pass
    error: str | None = None  # set when the pass stopped because the cluster was unreachable

    @property
    def complete(self) -> bool:
        return self.error is None and self.pending == 0 and self.parked == 0


@dataclass
class _Tally:
    sent: int = 0
    created: int = 0
    existing: int = 0
    skipped: int = 0
    failures: list[DocumentFailure] = field(default_factory=list)


@dataclass(frozen=True)
class _Chunk:
    last_record_id: int
    by_id: dict[str, Any]  # document id -> the feed's row it came from
    future: Future[list[BulkOutcome]] | None  # None when every record of the chunk was past the retention


CONCURRENCY = 2  # bulk requests in flight at once: two keep a node busy while the next chunk is mapped


class Syncer:
    """Feeds one target from one store; ``run_once`` is one pass, safe to repeat or run concurrently."""

    def __init__(
        self, client: SearchClient, store: Store, settings: ElasticsearchSettings, *,
        initial_backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC), chunk_retries: int | None = None,
        concurrency: int = CONCURRENCY, feed: Feed | None = None,
    ) -> None:
        self.client, self.store, self.settings = client, store, settings
        self.feed: Feed = (feed or AggregateFeed()).for_pass()  # a Syncer serves one store
        self.target = self.feed.target(target_of(settings))
        self.now = now
        # The daemon passes chunk_retries=0: its next pass is the retry.
        retries = settings.max_retries if chunk_retries is None else chunk_retries
        self.retrier = Retrier(retries, initial_backoff, sleep)
        self.concurrency = max(1, concurrency)
        self._template_seen = False
        self._index_names = mapping.IndexNames()

    def run_once(self, max_records: int | None = None) -> SyncResult:
        """Retry parked failures, then send pending records until none are left (or max_records)."""
        tally, error = _Tally(), None
        try:
            self._ensure_template()
            self._retry_parked(tally)
            self._drain(tally, max_records)
        except ClusterUnavailable as exc:
            error = str(exc)
        backlog = self.feed.backlog(self.store, self.target)
        return SyncResult(
            self.target, tally.sent, tally.created, tally.existing, tally.skipped, tuple(tally.failures),
            backlog.checkpoint, backlog.pending, backlog.failed, error,
        )

    def _ensure_template(self) -> None:
        """Never let a write create an index without the template (it would be mapped dynamically)."""
        if not self._template_seen:
            resume = outbox.checkpoint(self.store, self.target) + 1
            self.retrier.call(lambda: ensure_template(self.client, self.settings), resume)
            if self.feed.mappings() is not None:
                self.retrier.call(lambda: ensure_family(self.client, self.settings, self.feed), resume)
            self._template_seen = True

    def _drain(self, tally: _Tally, max_records: int | None) -> None:
        """Chunks in id order; up to ``concurrency`` bulk requests in flight while the next is mapped.

        The checkpoint still advances one chunk at a time, in id order, after each chunk's answer.
        """
        done = outbox.checkpoint(self.store, self.target)
        budget = max_records if max_records is not None else float("inf")
        in_flight: deque[_Chunk] = deque()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dmarcflow-bulk") as worker:
            try:
                while True:
                    size = int(min(self.settings.batch_size, budget))
                    rows = list(self.feed.pending(self.store, self.target, done, size, self.now())) if size > 0 else []
                    if rows:
                        in_flight.append(self._submit(worker, rows, tally))
                        done, budget = self.feed.seq(rows[-1]), budget - len(rows)
                    if in_flight and (not rows or len(in_flight) > self.concurrency):
                        self._finish(in_flight.popleft(), tally)
                    elif not rows:
                        return
            except ClusterUnavailable:
                for chunk in in_flight:
                    if chunk.future is not None:
                        chunk.future.cancel()
                raise

    def _submit(self, worker: ThreadPoolExecutor, rows: list[Any], tally: _Tally) -> _Chunk:
        live = self._drop_expired(rows, tally)
        actions, by_id = self._actions(live)  # mapped here, in the reading thread, while the worker sends
        future = worker.submit(self._deliver, actions, by_id, self.feed.seq(rows[0])) if actions else None
        return _Chunk(self.feed.seq(rows[-1]), by_id, future)

    def _finish(self, chunk: _Chunk, tally: _Tally) -> None:
        refused = self._tally(chunk.future.result(), chunk.by_id, tally) if chunk.future is not None else []
        with self.store.transaction():
            outbox.park_failures(self.store, self.target, refused)
            outbox.advance(self.store, self.target, chunk.last_record_id)

    def _retry_parked(self, tally: _Tally) -> None:
        parked = [f.record_id for f in outbox.failures(self.store, self.target, self.settings.batch_size)]
        if not parked:
            return
        rows = list(self.feed.rows_by_id(self.store, parked))
        actions, by_id = self._actions(self._drop_expired(rows, tally))
        results = self._deliver(actions, by_id, parked[0]) if by_id else []
        refused = self._tally(results, by_id, tally)
        still = {f.record_id for f in refused}
        with self.store.transaction():
            # Records deleted from the store since (reprocess) have nothing left to send.
            outbox.clear_failures(self.store, self.target, [rid for rid in parked if rid not in still])
            outbox.park_failures(self.store, self.target, refused)

    def _actions(self, rows: list[Any]) -> tuple[list[Action], dict[str, Any]]:
        """The bulk actions for these rows (a row may give several documents), and each document's row."""
        s = self.settings
        actions: list[Action] = []
        by_id: dict[str, Any] = {}
        for row in rows:
            name = index_of(self.feed, row, s.index_prefix, s.index_period, self._index_names)
            for doc_id, index, source in self.feed.documents(row, name):
                actions.append({"_op_type": "create", "_index": index, "_id": doc_id, "_source": source})
                by_id[doc_id] = row
        return actions, by_id

    def _deliver(self, actions: list[Action], by_id: dict[str, Any], first_record: int) -> list[BulkOutcome]:
        """Send one chunk through the retry layer (whole request and pushed-back items alike)."""
        return self.retrier.bulk(self.client, actions, first_record)

    def _drop_expired(self, rows: list[Any], tally: _Tally) -> list[Any]:
        s = self.settings
        if s.retention_days <= 0:
            return rows
        names = {self.feed.seq(row): index_of(self.feed, row, s.index_prefix, s.index_period, self._index_names) for row in rows}
        expired = set(mapping.expired_indices(
            self.feed.family(s.index_prefix), s.index_period, sorted(set(names.values())), s.retention_days, self.now()))
        tally.skipped += sum(1 for name in names.values() if name in expired)
        return [row for row in rows if names[self.feed.seq(row)] not in expired]

    def _tally(self, results: list[BulkOutcome], by_id: dict[str, Any], tally: _Tally) -> list[outbox.Failure]:
        refused = []
        for ok, item in results:
            info: dict[str, Any] = item.get("create", item)
            tally.sent += 1
            if ok:
                tally.created += 1
            elif info.get("status") == CONFLICT:
                tally.existing += 1
            else:
                seq = self.feed.seq(by_id[info["_id"]])
                error = info.get("error")
                text = reason_of({"error": error}) if isinstance(error, dict) else str(error)
                tally.failures.append(DocumentFailure(seq, info["_id"], int(info.get("status", 0)), text))
                refused.append(outbox.Failure(seq, int(info.get("status", 0)), text, 1))
        if refused:
            log.warning("%d document(s) refused by %s; parked for the next pass", len(refused), self.client.url)
        return refused


def sync_all(client: SearchClient, store: Store, settings: ElasticsearchSettings, max_records: int | None = None,
             **options: Any) -> list[SyncResult]:
    """One pass of every kind's feed (aggregate records first); each result names its kind's target."""
    results = []
    for feed in feeds():
        result = Syncer(client, store, settings, feed=feed, **options).run_once(max_records)
        results.append(result)
        if result.error is not None:
            break  # the cluster is away: the other kinds wait too
    return results
