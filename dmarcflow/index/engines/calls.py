"""The requests both engines' Python clients spell the same way, written once for their adapters.

``opensearch-py`` was forked from ``elasticsearch-py``: counting, listing and deleting indices, closing, and
the bulk helper take the same arguments. An adapter supplies its client (``raw``), its bulk helper and how its
client's exceptions become ``EngineUnreachable`` / ``EngineRefused`` (``_errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from dmarcflow.index.client import Action, BulkOutcome


class SharedCalls:
    raw: Any
    _streaming_bulk: Callable[..., Iterable[BulkOutcome]]

    def _errors(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _call(self, request: Callable[[], Any]) -> Any:
        with self._errors():
            return request()

    def bulk(self, actions: list[Action]) -> list[BulkOutcome]:
        # streaming_bulk for its serialisation and per-item results; one chunk, no retries of its own.
        outcomes: list[BulkOutcome] = self._call(lambda: list(self._streaming_bulk(
            self.raw, actions, chunk_size=max(1, len(actions)), raise_on_error=False, raise_on_exception=True,
            max_retries=0,
        )))
        return outcomes

    def count(self, index: str) -> int:
        return int(self._call(lambda: self.raw.count(index=index, ignore_unavailable=True,
                                                     allow_no_indices=True)["count"]))

    def list_indices(self, pattern: str) -> list[str]:
        return list(self._call(lambda: self.raw.indices.get(index=pattern, expand_wildcards="open,closed")))

    def delete_index(self, name: str) -> None:
        self._call(lambda: self.raw.indices.delete(index=name))

    def close(self) -> None:
        self.raw.close()
