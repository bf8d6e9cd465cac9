"""The Elasticsearch side: client, ``es setup``, one sync pass over the outbox, retention.

A sync pass reads pending records in id order, sends them in chunks with ``streaming_bulk``
(``op_type: create`` and a deterministic ``_id``: a 409 means "already there", which is fine),
and advances the checkpoint only once a chunk is fully answered. Documents the cluster refuses
one by one are parked with their error and retried on the next pass. If the cluster cannot be
reached, the pass retries with backoff and then stops: the records wait in SQLite.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from elasticsearch import ApiError, ConnectionError, ConnectionTimeout, Elasticsearch, TransportError
from elasticsearch.helpers import streaming_bulk

try:
    from elasticsearch.serializer import OrjsonSerializer
except ImportError:  # orjson is optional
    OrjsonSerializer = None  # type: ignore[assignment,misc]

from dmarcflow.config import ElasticsearchSettings, Settings
from dmarcflow.errors import ConfigError, IndexingError
from dmarcflow.index import mapping, outbox
from dmarcflow.index.document import IndexRow, document_id, to_document
from dmarcflow.index.urls import redact
from dmarcflow.store import Store

log = logging.getLogger(__name__)

_T = TypeVar("_T")
CONFLICT = 409
MAX_BACKOFF_S = 60.0
# Whole-request failures worth waiting out: unreachable, overloaded, or not ready yet.
_RETRYABLE_STATUS = (429, 502, 503, 504)


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """A client for the configured cluster; our own loop does retries, with backoff, so the client does not."""
    if not settings.url:
        raise ConfigError("[elasticsearch] url is not set: indexing is off")
    mapping.check_prefix(settings.index_prefix)
    options: dict[str, Any] = {
        "request_timeout": settings.timeout, "max_retries": 0, "retry_on_timeout": False,
        "verify_certs": settings.verify,
    }
    if settings.ca_file:
        options["ca_certs"] = settings.ca_file
    if not settings.verify:
        options["ssl_show_warn"] = False
    if settings.api_key:
        options["api_key"] = settings.api_key
    elif settings.username:
        options["basic_auth"] = (settings.username, settings.password)
    if OrjsonSerializer is not None:  # several times faster at serialising bulk bodies
        options["serializers"] = {"application/json": OrjsonSerializer()}
    return Elasticsearch(settings.url, **options)


def target_of(settings: ElasticsearchSettings) -> str:
    return outbox.target_name(settings.url, settings.index_prefix)


# ----------------------------------------------------------------------------- setup


@dataclass(frozen=True)
class SetupResult:
    index_template: str
    component_templates: tuple[str, ...]
    index_pattern: str


def setup(client: Elasticsearch, settings: ElasticsearchSettings) -> SetupResult:
    """Install (or update to the same content) the component and index templates: idempotent."""
    prefix = mapping.check_prefix(settings.index_prefix)
    template, mappings_name, settings_name = mapping.template_names(prefix)
    bodies = mapping.component_templates(settings.shards, settings.replicas)
    try:
        client.cluster.put_component_template(name=mappings_name, **bodies["mappings"])
        client.cluster.put_component_template(name=settings_name, **bodies["settings"])
        client.indices.put_index_template(name=template, **mapping.index_template(prefix))
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"cannot install the index templates on {redact(settings.url)} (run `dmarcflow es setup` "
                            f"as a user with manage_index_templates): {_describe(exc)}") from None
    return SetupResult(template, (mappings_name, settings_name), mapping.index_pattern(prefix))


def ensure_template(client: Elasticsearch, settings: ElasticsearchSettings) -> bool:
    """Install the templates if the index template is missing; True if it had to.

    Transport errors and API errors of the existence check propagate (the caller retries them).
    """
    if client.indices.exists_index_template(name=settings.index_prefix):
        return False
    log.warning("index template %s missing on %s: installing it", settings.index_prefix, redact(settings.url))
    setup(client, settings)
    return True


def _describe(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status_code} {exc.error}: {_reason(exc.info)}"
    return f"{type(exc).__name__}: {exc}"


def _reason(info: Any) -> str:
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        return str(info["error"].get("reason", ""))
    return str(info)[:300]


# ------------------------------------------------------------------------------ sync


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
    by_id: dict[str, IndexRow]
    future: Future | None  # None when every record of the chunk was past the retention


class ClusterUnavailable(IndexingError):
    """The cluster did not answer (or answered 429/5xx) after every retry."""


class Syncer:
    """Feeds one target from one store; ``run_once`` is one pass, safe to repeat or run concurrently."""

    def __init__(
        self, client: Elasticsearch, store: Store, settings: ElasticsearchSettings, *,
        initial_backoff: float = 1.0, sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc), chunk_retries: int | None = None,
        concurrency: int = 2,
    ) -> None:
        self.client, self.store, self.settings = client, store, settings
        self.target = target_of(settings)
        self.initial_backoff, self.sleep, self.now = initial_backoff, sleep, now
        # Whole-chunk retries on connection errors; the daemon passes 0: its next pass is the retry.
        self.chunk_retries = settings.max_retries if chunk_retries is None else chunk_retries
        # Bulk requests in flight at once: two keep a node busy while the next chunk is mapped.
        self.concurrency = max(1, concurrency)
        self._template_seen = False

    def run_once(self, max_records: int | None = None) -> SyncResult:
        """Retry parked failures, then send pending records until none are left (or max_records)."""
        tally, error = _Tally(), None
        try:
            self._ensure_template()
            self._retry_parked(tally)
            self._drain(tally, max_records)
        except ClusterUnavailable as exc:
            error = str(exc)
        backlog = outbox.backlog(self.store, self.target)
        return SyncResult(
            self.target, tally.sent, tally.created, tally.existing, tally.skipped, tuple(tally.failures),
            backlog.checkpoint, backlog.pending, backlog.failed, error,
        )

    def _ensure_template(self) -> None:
        """Never let a write create an index without the template (it would be mapped dynamically)."""
        if not self._template_seen:
            resume = outbox.checkpoint(self.store, self.target) + 1
            self._retrying(lambda: ensure_template(self.client, self.settings), resume)
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
                    rows = outbox.pending(self.store, self.target, done, size, self.now()) if size > 0 else []
                    if rows:
                        in_flight.append(self._submit(worker, rows, tally))
                        done, budget = rows[-1].record_id, budget - len(rows)
                    if in_flight and (not rows or len(in_flight) > self.concurrency):
                        self._finish(in_flight.popleft(), tally)
                    elif not rows:
                        return
            except ClusterUnavailable:
                for chunk in in_flight:
                    if chunk.future is not None:
                        chunk.future.cancel()
                raise

    def _submit(self, worker: ThreadPoolExecutor, rows: list[IndexRow], tally: _Tally) -> _Chunk:
        live = self._drop_expired(rows, tally)
        by_id = {document_id(row): row for row in live}
        actions = self._actions(by_id)  # mapped here, in the reading thread, while the worker sends
        future = worker.submit(self._deliver, actions, by_id, rows[0].record_id) if actions else None
        return _Chunk(rows[-1].record_id, by_id, future)

    def _finish(self, chunk: _Chunk, tally: _Tally) -> None:
        refused = self._tally(chunk.future.result(), chunk.by_id, tally) if chunk.future is not None else []
        with self.store.transaction():
            outbox.park_failures(self.store, self.target, refused)
            outbox.advance(self.store, self.target, chunk.last_record_id)

    def _retry_parked(self, tally: _Tally) -> None:
        parked = [f.record_id for f in outbox.failures(self.store, self.target, self.settings.batch_size)]
        if not parked:
            return
        rows = outbox.rows_by_id(self.store, parked)
        by_id = {document_id(row): row for row in self._drop_expired(rows, tally)}
        results = self._deliver(self._actions(by_id), by_id, parked[0]) if by_id else []
        refused = self._tally(results, by_id, tally)
        still = {f.record_id for f in refused}
        with self.store.transaction():
            # Records deleted from the store since (reprocess) have nothing left to send.
            outbox.clear_failures(self.store, self.target, [rid for rid in parked if rid not in still])
            outbox.park_failures(self.store, self.target, refused)

    def _actions(self, by_id: dict[str, IndexRow]) -> list[dict[str, Any]]:
        s = self.settings
        return [
            {"_op_type": "create", "_index": mapping.index_name(s.index_prefix, s.index_period, row.report.begin_ts),
             "_id": doc_id, "_source": to_document(row)}
            for doc_id, row in by_id.items()
        ]

    def _deliver(self, actions: list[dict], by_id: dict[str, IndexRow], first_record: int) -> list[tuple[bool, dict]]:
        """Send one chunk, retrying it whole on connection errors and 429/5xx answers, with backoff."""
        return self._retrying(lambda: list(self._bulk(actions)), first_record)

    def _retrying(self, call: Callable[[], _T], resume_from: int) -> _T:
        for attempt in range(self.chunk_retries + 1):
            if attempt:
                self.sleep(min(MAX_BACKOFF_S, self.initial_backoff * 2 ** (attempt - 1)))
            try:
                return call()
            except (ConnectionError, ConnectionTimeout) as exc:
                last = f"{redact(self.settings.url)} unreachable ({type(exc).__name__})"
            except ApiError as exc:
                if exc.status_code not in _RETRYABLE_STATUS:
                    raise IndexingError(f"request refused by {redact(self.settings.url)}: {_describe(exc)}") from None
                last = f"{redact(self.settings.url)} answered {_describe(exc)}"
        raise ClusterUnavailable(
            f"{last}; records wait in the store and the next sync resumes from record {resume_from}")

    def _drop_expired(self, rows: list[IndexRow], tally: _Tally) -> list[IndexRow]:
        s = self.settings
        if s.retention_days <= 0:
            return rows
        names = {row.record_id: mapping.index_name(s.index_prefix, s.index_period, row.report.begin_ts) for row in rows}
        expired = set(mapping.expired_indices(
            s.index_prefix, s.index_period, sorted(set(names.values())), s.retention_days, self.now()))
        tally.skipped += sum(1 for name in names.values() if name in expired)
        return [row for row in rows if names[row.record_id] not in expired]

    def _bulk(self, actions: list[dict]) -> Iterable[tuple[bool, dict]]:
        return streaming_bulk(
            self.client, actions, chunk_size=max(1, len(actions)), raise_on_error=False, raise_on_exception=True,
            max_retries=self.settings.max_retries, initial_backoff=self.initial_backoff, max_backoff=MAX_BACKOFF_S,
        )

    def _tally(
        self, results: list[tuple[bool, dict]], by_id: dict[str, IndexRow], tally: _Tally,
    ) -> list[outbox.Failure]:
        refused = []
        for ok, item in results:
            info = item.get("create", item)
            tally.sent += 1
            if ok:
                tally.created += 1
            elif info.get("status") == CONFLICT:
                tally.existing += 1
            else:
                row = by_id[info["_id"]]
                error = info.get("error")
                text = _reason({"error": error}) if isinstance(error, dict) else str(error)
                tally.failures.append(DocumentFailure(row.record_id, info["_id"], int(info.get("status", 0)), text))
                refused.append(outbox.Failure(row.record_id, int(info.get("status", 0)), text, 1))
        if refused:
            log.warning("%d document(s) refused by %s; parked for the next pass", len(refused), redact(self.settings.url))
        return refused


# ---------------------------------------------------------------------------- status


@dataclass(frozen=True)
class ClusterView:
    template_installed: bool
    indices: tuple[str, ...]
    # Searchable documents (records and conflicting versions alike, as in the records table);
    # new ones become searchable within the template's refresh interval.
    documents: int


def cluster_view(client: Elasticsearch, settings: ElasticsearchSettings) -> ClusterView:
    """What the cluster holds for this prefix, to compare with the store's backlog."""
    pattern = mapping.index_pattern(settings.index_prefix)
    try:
        installed = bool(client.indices.exists_index_template(name=settings.index_prefix))
        names = tuple(sorted(_our_index_names(client, settings)))
        count = client.count(index=pattern, ignore_unavailable=True, allow_no_indices=True)["count"] if names else 0
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"cannot read the state of {redact(settings.url)}: {_describe(exc)}") from None
    return ClusterView(installed, names, int(count))


# ------------------------------------------------------------------------- retention


def prune(client: Elasticsearch, settings: ElasticsearchSettings, now: datetime | None = None) -> list[str]:
    """Delete our indices whose whole period is older than ``retention_days``; returns their names."""
    now = now or datetime.now(timezone.utc)
    try:
        names = _our_index_names(client, settings)
        expired = mapping.expired_indices(
            settings.index_prefix, settings.index_period, names, settings.retention_days, now)
        for name in expired:
            client.indices.delete(index=name)
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"cannot apply the retention on {redact(settings.url)}: {_describe(exc)}") from None
    return expired


def _our_index_names(client: Elasticsearch, settings: ElasticsearchSettings) -> list[str]:
    pattern = mapping.index_pattern(settings.index_prefix)
    return list(client.indices.get(index=pattern, expand_wildcards="open,closed"))


def rebuild(client: Elasticsearch, store: Store, settings: ElasticsearchSettings) -> list[str]:
    """Delete our indices and the checkpoint, so that the next pass re-sends everything.

    Needed after ``dmarcflow reprocess``, which rewrites records (new ids, maybe new content).
    """
    try:
        ours = [n for n in _our_index_names(client, settings)
                if mapping.period_end(settings.index_prefix, settings.index_period, n) is not None]
        for name in ours:
            client.indices.delete(index=name)
    except (ApiError, TransportError) as exc:
        raise IndexingError(f"cannot delete the indices on {redact(settings.url)}: {_describe(exc)}") from None
    outbox.reset(store, target_of(settings))
    return sorted(ours)


# ---------------------------------------------------------------------------- daemon


def after_pass_hook(settings: Settings) -> Callable[[], None] | None:
    """For ``dmarcflow watch``: a sync pass after every mailbox pass, when [elasticsearch] is configured.

    An unreachable cluster is logged and left for the next pass (no blocking retries here: the
    records wait in the store). One client for the daemon's life; a store connection per pass
    because hooks run in whichever worker thread finished a pass.
    """
    if not settings.elasticsearch.url:
        return None
    es_settings = settings.elasticsearch
    client = make_client(es_settings)

    def sync_after_pass() -> None:
        with Store.open(settings.store.resolved_path()) as store:
            result = Syncer(client, store, es_settings, chunk_retries=0).run_once()
        if result.error:
            log.warning("index sync stopped: %s", result.error)
        elif result.created or result.failures:
            log.info("indexed %d record(s), %d refused, %d waiting",
                     result.created, len(result.failures), result.pending)
        if result.error is None and es_settings.retention_days > 0:
            prune(client, es_settings)

    return sync_after_pass
