"""One ``SearchClient`` adapter per engine; ``connect`` picks it from ``[index] engine``.

Each adapter module imports its engine's Python client, so only the configured one is loaded.
"""

from __future__ import annotations

from dmarcflow.config import IndexSettings
from dmarcflow.errors import ConfigError
from dmarcflow.index import mapping
from dmarcflow.index.client import SearchClient


def connect(settings: IndexSettings, section: str = "[index]") -> SearchClient:
    """A client for the configured engine; ``section`` names the settings in messages."""
    if not settings.url:
        raise ConfigError(f"{section} url is not set: indexing is off")
    mapping.check_prefix(settings.index_prefix)
    if settings.engine == "opensearch":
        from dmarcflow.index.engines import opensearch

        return opensearch.connect(settings)
    from dmarcflow.index.engines import elasticsearch

    return elasticsearch.connect(settings)
