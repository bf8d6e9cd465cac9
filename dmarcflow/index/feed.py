"""What the sync needs from each report kind: its pending rows, their documents, its index family.

Every kind has its own index family (``<prefix>-YYYY.MM`` for aggregate records, ``<prefix>-tls-...``
and ``<prefix>-failure-...`` for the others), its own strict template, and its own checkpoint in the one
outbox (``index_checkpoint``/``index_failures``, keyed by target + kind). ``sync.Syncer`` runs one feed;
``sync.sync_all`` runs every kind's (``kinds.registry``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from dmarcflow.index import mapping, outbox
from dmarcflow.index.document import DocumentBuilder, IndexRow
from dmarcflow.store import Store

Document = tuple[str, str, dict[str, Any]]  # (_id, index, source)


class Feed(Protocol):
    """One kind's side of the outbox. Rows are whatever the kind reads from the store."""

    @property
    def kind(self) -> str:
        ...

    def target(self, base: str) -> str:
        """The checkpoint key of this kind at one target (cluster + prefix)."""
        ...

    def family(self, prefix: str) -> str:
        """The prefix of this kind's index names, templates and retention."""
        ...

    def mappings(self) -> dict[str, Any] | None:
        """The strict mapping of the family's template; None for the aggregate family's own templates."""
        ...

    def for_pass(self) -> Feed:
        """The feed for one sync pass over one store (it may keep what its chunks share)."""
        ...

    def pending(self, store: Store, target: str, after: int, limit: int, now: datetime) -> Sequence[Any]:
        ...

    def rows_by_id(self, store: Store, ids: list[int]) -> Sequence[Any]:
        ...

    def seq(self, row: Any) -> int:
        """The row's id in the outbox's order (what checkpoints and parked failures name)."""
        ...

    def begin_ts(self, row: Any) -> int:
        """The time that picks the row's index (its period)."""
        ...

    def documents(self, row: Any, index: str) -> list[Document]:
        ...

    def backlog(self, store: Store, target: str) -> outbox.Backlog:
        ...


class _Pass:
    """What one pass keeps between its chunks: the verdicts read, the documents' shared parts (one store's)."""

    def __init__(self) -> None:
        self.reader: outbox.RecordReader | None = None
        self.builder = DocumentBuilder()

    def reader_of(self, store: Store) -> outbox.RecordReader:
        if self.reader is None or self.reader.store is not store:
            self.reader, self.builder = outbox.RecordReader(store), DocumentBuilder()
        return self.reader


@dataclass(frozen=True)
class AggregateFeed:
    """Aggregate records: the outbox and documents as they always were."""

    kind: str = "aggregate"
    pass_state: _Pass | None = field(default=None, compare=False, repr=False)

    def for_pass(self) -> AggregateFeed:
        return AggregateFeed(self.kind, _Pass())

    def target(self, base: str) -> str:
        return base  # unchanged, so existing checkpoints stay valid

    def family(self, prefix: str) -> str:
        return prefix

    def mappings(self) -> dict[str, Any] | None:
        return None

    def _reader(self, store: Store) -> outbox.RecordReader:
        return self.pass_state.reader_of(store) if self.pass_state is not None else outbox.RecordReader(store)

    def pending(self, store: Store, target: str, after: int, limit: int, now: datetime) -> Sequence[Any]:
        return self._reader(store).pending(target, after, limit, now)

    def rows_by_id(self, store: Store, ids: list[int]) -> Sequence[Any]:
        return self._reader(store).by_id(ids)

    def seq(self, row: Any) -> int:
        return int(row.record_id)

    def begin_ts(self, row: Any) -> int:
        return int(row.report.begin_ts)

    def documents(self, row: Any, index: str) -> list[Document]:
        assert isinstance(row, IndexRow)
        builder = self.pass_state.builder if self.pass_state is not None else DocumentBuilder()
        return [(builder.document_id(row), index, builder.document(row))]

    def backlog(self, store: Store, target: str) -> outbox.Backlog:
        return outbox.backlog(store, target)


def kind_target(base: str, kind: str) -> str:
    return f"{base}#{kind}"


def index_of(feed: Feed, row: Any, prefix: str, period: str,
             names: Callable[[str, str, int], str] = mapping.index_name) -> str:
    """The index a row goes to; ``names`` may be its owner's memo (``mapping.IndexNames``)."""
    return names(feed.family(prefix), period, feed.begin_ts(row))


def feeds() -> list[Feed]:
    """Every kind's feed, aggregate first (the registry says which kinds exist)."""
    from dmarcflow.kinds.registry import kinds

    return [kind.feed for kind in kinds()]
