"""Deleting whole indices: past the retention (every pass), or all of ours (``sync --rebuild``)."""

from __future__ import annotations

from datetime import UTC, datetime

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping, outbox
from dmarcflow.index.client import EngineError, SearchClient
from dmarcflow.index.feed import feeds
from dmarcflow.store import Store


def prune(client: SearchClient, settings: ElasticsearchSettings, now: datetime | None = None) -> list[str]:
    """Delete our indices whose whole period is older than ``retention_days``; returns their names."""
    now = now or datetime.now(UTC)
    try:
        names = client.list_indices(mapping.index_pattern(settings.index_prefix))
        expired = sorted(n for feed in feeds() for n in mapping.expired_indices(
            feed.family(settings.index_prefix), settings.index_period, names, settings.retention_days, now))
        for name in expired:
            client.delete_index(name)
    except EngineError as exc:
        raise IndexingError(f"cannot apply the retention on {client.url}: {exc.description}") from None
    return expired


def rebuild(client: SearchClient, store: Store, settings: ElasticsearchSettings) -> list[str]:
    """Delete our indices and the checkpoint, so that the next pass re-sends everything.

    Needed after ``dmarcflow reprocess``, which rewrites records (new ids, maybe new content).
    """
    families = [feed.family(settings.index_prefix) for feed in feeds()]
    try:
        ours = [n for n in client.list_indices(mapping.index_pattern(settings.index_prefix))
                if any(mapping.period_end(f, settings.index_period, n) is not None for f in families)]
        for name in ours:
            client.delete_index(name)
    except EngineError as exc:
        raise IndexingError(f"cannot delete the indices on {client.url}: {exc.description}") from None
    base = outbox.target_name(settings.url, settings.index_prefix)
    for feed in feeds():
        outbox.reset(store, feed.target(base))
    return sorted(ours)
