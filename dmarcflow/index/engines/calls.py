"""The requests both engines' Python clients spell the same way, written once for their adapters.

``opensearch-py`` was forked from ``elasticsearch-py``: counting, listing and deleting indices, closing, and
the bulk helper take the same arguments. An adapter supplies its client (``raw``), its bulk helper and how its
client's exceptions become ``EngineUnreachable`` / ``EngineRefused`` (``_errors``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any

from dmarcflow.index.client import Action, BulkOutcome

# Of each bulk item, what the sync and the retry layer read: its id, its status, the engine's error.
BULK_FILTER = "items.*._id,items.*.status,items.*.error"


def _status(item: Mapping[str, Any]) -> int:
    """An item's HTTP status (its only key is the operation); 500 when the engine gave none."""
    for info in item.values():
        return int(info.get("status", 500))
    return 500


class SharedCalls:
    raw: Any

    def _errors(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _call(self, request: Callable[[], Any]) -> Any:
        with self._errors():
            return request()

    def _line(self, value: Any) -> bytes:
        """One NDJSON line by the client's own JSON serialiser (what its bulk helper would send)."""
        raise NotImplementedError

    def _send_bulk(self, body: bytes, filter_path: str) -> Mapping[str, Any]:
        """POST _bulk with this NDJSON body; the answer's body."""
        raise NotImplementedError

    def bulk(self, actions: list[Action]) -> list[BulkOutcome]:
        # The body is written here rather than by the clients' bulk helpers (a copy and two calls per
        # action), and the answer is cut to what an outcome needs: less for the engine to encode on the
        # same cores, and less to decode here. Lines and outcomes are the helpers' own.
        line, lines = self._line, []
        for action in actions:
            lines.append(line({action["_op_type"]: {"_id": action["_id"], "_index": action["_index"]}}))
            lines.append(line(action["_source"]))
        body = b"\n".join(lines) + b"\n"
        answer = self._call(lambda: self._send_bulk(body, BULK_FILTER))
        return [(200 <= _status(item) < 300, item) for item in answer["items"]]

    def count(self, index: str) -> int:
        return int(self._call(lambda: self.raw.count(index=index, ignore_unavailable=True,
                                                     allow_no_indices=True)["count"]))

    def list_indices(self, pattern: str) -> list[str]:
        return list(self._call(lambda: self.raw.indices.get(index=pattern, expand_wildcards="open,closed")))

    def delete_index(self, name: str) -> None:
        self._call(lambda: self.raw.indices.delete(index=name))

    def close(self) -> None:
        self.raw.close()
