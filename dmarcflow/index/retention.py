"""Deleting whole indices: past the retention (every pass), or all of ours (``sync --rebuild``)."""

from __future__ import annotations

from datetime import datetime, timezone

from dmarcflow.config import ElasticsearchSettings
from dmarcflow.errors import IndexingError
from dmarcflow.index import mapping, outbox
from dmarcflow.index.client import EngineError, SearchClient
from dmarcflow.store import Store


def prune(client: SearchClient, settings: ElasticsearchSettings, now: datetime | None = None) -> list[str]:
    """Delete our indices whose whole period is older than ``retention_days``; returns their names."""
    now = now or datetime.now(timezone.utc)
    try:
        names = client.list_indices(mapping.index_pattern(settings.index_prefix))
        expired = mapping.expired_indices(
            settings.index_prefix, settings.index_period, names, settings.retention_days, now)
        for name in expired:
            client.delete_index(name)
    except EngineError as exc:
        raise IndexingError(f"cannot apply the retention on {client.url}: {exc.description}") from None
    return expired


def rebuild(client: SearchClient, store: Store, settings: ElasticsearchSettings) -> list[str]:
    """Delete our indices and the checkpoint, so that the next pass re-sends everything.

    Needed after ``dmarcflow reprocess``, which rewrites records (new ids, maybe new content).
    """
    try:
        ours = [n for n in client.list_indices(mapping.index_pattern(settings.index_prefix))
                if mapping.period_end(settings.index_prefix, settings.index_period, n) is not None]
        for name in ours:
            client.delete_index(name)
    except EngineError as exc:
        raise IndexingError(f"cannot delete the indices on {client.url}: {exc.description}") from None
    outbox.reset(store, outbox.target_name(settings.url, settings.index_prefix))
    return sorted(ours)
