"""``index status --cluster``: what the engine holds for one index prefix."""

from __future__ import annotations

from dataclasses import dataclass

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping
from dmarcflow.index.client import EngineError, SearchClient


@dataclass(frozen=True)
class ClusterView:
    template_installed: bool
    indices: tuple[str, ...]
    # Searchable documents (records and conflicting versions alike, as in the records table);
    # new ones become searchable within the template's refresh interval.
    documents: int


def cluster_view(client: SearchClient, settings: ElasticsearchSettings) -> ClusterView:
    """What the cluster holds for this prefix, to compare with the store's backlog."""
    pattern = mapping.index_pattern(settings.index_prefix)
    try:
        installed = client.has_index_template(settings.index_prefix)
        names = tuple(sorted(client.list_indices(pattern)))
        count = client.count(pattern) if names else 0
    except EngineError as exc:
        raise IndexingError(f"cannot read the state of {client.url}: {exc.description}") from None
    return ClusterView(installed, names, count)
