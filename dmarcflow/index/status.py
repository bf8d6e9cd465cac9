"""``index status --cluster``: what the engine holds for one index prefix."""

from __future__ import annotations

from dataclasses import dataclass, field

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping
from dmarcflow.index.client import EngineError, SearchClient
from dmarcflow.index.feed import feeds


@dataclass(frozen=True)
class ClusterView:
    template_installed: bool
    indices: tuple[str, ...]
    # Searchable documents (records and conflicting versions alike, as in the records table);
    # new ones become searchable within the template's refresh interval.
    documents: int
    # The other report kinds' families: kind -> (indices, searchable documents).
    kinds: dict[str, tuple[tuple[str, ...], int]] = field(default_factory=dict)


def cluster_view(client: SearchClient, settings: ElasticsearchSettings) -> ClusterView:
    """What the cluster holds for this prefix, to compare with the store's backlog (per report kind)."""
    prefix, period = settings.index_prefix, settings.index_period
    try:
        installed = client.has_index_template(prefix)
        listed = client.list_indices(mapping.index_pattern(prefix))
        per_kind: dict[str, tuple[tuple[str, ...], int]] = {}
        for feed in feeds():
            names = tuple(sorted(n for n in listed if mapping.period_end(feed.family(prefix), period, n) is not None))
            per_kind[feed.kind] = (names, client.count(",".join(names)) if names else 0)
    except EngineError as exc:
        raise IndexingError(f"cannot read the state of {client.url}: {exc.description}") from None
    names, count = per_kind.pop("aggregate")
    return ClusterView(installed, names, count, per_kind)
