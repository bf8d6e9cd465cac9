"""The seam between dmarcflow and a search engine: the few calls the projection makes.

Elasticsearch and OpenSearch each have their own Python client (the Elasticsearch client
refuses OpenSearch servers), and their errors differ. ``SearchClient`` is what the rest of
``dmarcflow.index`` talks to; ``dmarcflow.index.engines`` has one adapter per engine. Every
adapter raises only the two errors below, so the retry layer (``retry.py``) and the messages
are the same for both engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dmarcflow.errors import IndexingError

Action = dict[str, Any]  # one bulk action: _op_type, _index, _id, _source
# One answered bulk action: (accepted?, the engine's item: _id, status, error...).
BulkOutcome = tuple[bool, dict[str, Any]]


@dataclass(frozen=True)
class EngineInfo:
    engine: str  # elasticsearch | opensearch, as the server says
    version: str


class EngineError(IndexingError):
    """A request to the engine failed; ``description`` says how, in one line."""

    url: str
    description: str


class EngineUnreachable(EngineError):
    """No answer: connection refused or reset, DNS failure, timeout."""

    def __init__(self, url: str, kind: str) -> None:
        super().__init__(f"{url} unreachable ({kind})")
        self.url, self.kind, self.description = url, kind, str(self)


class EngineRefused(EngineError):
    """The engine answered a whole request with an HTTP error (status 0: no HTTP answer to show)."""

    def __init__(self, url: str, status: int, description: str, detail: str) -> None:
        super().__init__(detail)
        self.url, self.status, self.description = url, status, description


class SearchClient(Protocol):
    """What dmarcflow needs from a search engine; its errors are ``EngineUnreachable`` and ``EngineRefused``."""

    engine: str  # the configured engine: elasticsearch | opensearch
    url: str  # without credentials, for messages

    def info(self) -> EngineInfo:
        """The server's product and version (``GET /``)."""

    def put_component_template(self, name: str, body: Mapping[str, Any]) -> None:
        """Create or replace a component template."""

    def put_index_template(self, name: str, body: Mapping[str, Any]) -> None:
        """Create or replace a composable index template."""

    def has_index_template(self, name: str) -> bool:
        """Whether the composable index template exists."""

    def bulk(self, actions: list[Action]) -> list[BulkOutcome]:
        """One bulk request, no retries; one outcome per action, refused ones included."""

    def search(self, index: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A search over ``index`` (a pattern); matching no index yet is an empty answer, not an error."""

    def count(self, index: str) -> int:
        """Searchable documents in ``index`` (a pattern); 0 when nothing matches."""

    def list_indices(self, pattern: str) -> list[str]:
        """Names of the indices (open or closed) matching ``pattern``."""

    def delete_index(self, name: str) -> None:
        """Delete one index."""

    def close(self) -> None:
        """Release the connections."""


def reason_of(info: Any) -> str:
    """The human part of an engine's error body (both engines shape it alike)."""
    if isinstance(info, dict) and isinstance(info.get("error"), dict):
        return str(info["error"].get("reason", ""))
    return str(info)[:300]
