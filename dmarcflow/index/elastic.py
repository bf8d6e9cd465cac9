"""The 0.1 API of the index feature, over a raw ``elasticsearch.Elasticsearch`` client (kept for callers).

New code uses the engine-neutral modules: ``engines.connect`` (a ``SearchClient`` for either
engine), ``templates.setup``, ``sync.Syncer``, ``status.cluster_view``, ``retention.prune`` and
``rebuild``, ``hook.after_pass_hook``. The functions here take what they always took (a raw
Elasticsearch client or a ``SearchClient``) and hand it on wrapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from elasticsearch import Elasticsearch

from dmarcflow.config import ApprovedSenders, ElasticsearchSettings, Settings
from dmarcflow.errors import ConfigError
from dmarcflow.index import hook, mapping, retention, status, sync, templates
from dmarcflow.index.client import SearchClient
from dmarcflow.index.engines import elasticsearch as engine
from dmarcflow.index.retry import MAX_BACKOFF_S, ClusterUnavailable
from dmarcflow.index.status import ClusterView
from dmarcflow.index.sync import CONFLICT, DocumentFailure, SyncResult, target_of
from dmarcflow.index.templates import SetupResult
from dmarcflow.store import Store

if TYPE_CHECKING:
    from dmarcflow.analysis import DomainSummary

__all__ = [
    "CONFLICT", "MAX_BACKOFF_S", "ClusterUnavailable", "ClusterView", "DocumentFailure", "SetupResult", "SyncResult",
    "Syncer", "after_pass_hook", "cluster_view", "ensure_template", "make_client", "prune", "rebuild", "setup",
    "summarise_from_index", "target_of",
]


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """A raw client for the configured cluster (no retries of its own)."""
    if not settings.url:
        raise ConfigError("[elasticsearch] url is not set: indexing is off")
    mapping.check_prefix(settings.index_prefix)
    return engine.make_client(settings)


def _wrap(client: Any, settings: ElasticsearchSettings) -> SearchClient:
    """A raw Elasticsearch or OpenSearch client wrapped in its adapter; a ``SearchClient`` as it is."""
    if isinstance(client, Elasticsearch):
        return engine.ElasticsearchClient(client, settings.url)
    from opensearchpy import OpenSearch

    from dmarcflow.index.engines.opensearch import OpenSearchClient

    return OpenSearchClient(client, settings.url) if isinstance(client, OpenSearch) else client


def setup(client: Elasticsearch | SearchClient, settings: ElasticsearchSettings) -> SetupResult:
    return templates.setup(_wrap(client, settings), settings)


def ensure_template(client: Elasticsearch | SearchClient, settings: ElasticsearchSettings) -> bool:
    return templates.ensure_template(_wrap(client, settings), settings)


def cluster_view(client: Elasticsearch | SearchClient, settings: ElasticsearchSettings) -> ClusterView:
    return status.cluster_view(_wrap(client, settings), settings)


def prune(client: Elasticsearch | SearchClient, settings: ElasticsearchSettings,
          now: datetime | None = None) -> list[str]:
    return retention.prune(_wrap(client, settings), settings, now)


def rebuild(client: Elasticsearch | SearchClient, store: Store, settings: ElasticsearchSettings) -> list[str]:
    return retention.rebuild(_wrap(client, settings), store, settings)


class Syncer(sync.Syncer):
    """``sync.Syncer`` that also takes a raw Elasticsearch client."""

    def __init__(self, client: Elasticsearch | SearchClient, store: Store, settings: ElasticsearchSettings,
                 **options: Any) -> None:
        super().__init__(_wrap(client, settings), store, settings, **options)


def after_pass_hook(settings: Settings) -> Callable[[], None] | None:
    return hook.after_pass_hook(settings)


def summarise_from_index(
    client: Elasticsearch | SearchClient,
    settings: ElasticsearchSettings,
    domains: Iterable[str] = (),
    since: date | None = None,
    until: date | None = None,
    approved: Mapping[str, ApprovedSenders] | None = None,
    *,
    view: str = "ip",
    top: int = 10,
) -> list[DomainSummary]:
    """``analysis.summarise_from`` over the index (``query.IndexBackend``): the same ``DomainSummary`` list."""
    from dmarcflow.analysis import summarise_from
    from dmarcflow.index.query import IndexBackend, IndexQuery

    backend = IndexBackend(IndexQuery(_wrap(client, settings), settings))
    return summarise_from(backend, domains, since, until, approved, view=view, top=top)
