"""Which ``SummaryBackend`` answers a summary: the SQLite store, or the search index of ``[index]``.

The CLI names one (``dmarcflow summary --backend``) and hands it to ``analysis.summarise_from``; the
analysis never picks a backend, and the index never calls the analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dmarcflow.analysis import StoreBackend, SummaryBackend
from dmarcflow.config import IndexSettings, Settings
from dmarcflow.errors import ConfigError
from dmarcflow.store import Store

BACKENDS = ("sqlite", "index", "elasticsearch", "opensearch")


class BackendMismatch(ConfigError):
    """``--backend`` names one engine and ``[index] engine`` another (a usage error)."""


def index_settings_for(name: str, settings: Settings) -> IndexSettings:
    """The [index] settings a search-index backend reads; ConfigError when it is not set up for ``name``."""
    index = settings.index
    if not index.url:
        section, env = ("[elasticsearch]", "ELASTICSEARCH") if name == "elasticsearch" else ("[index]", "INDEX")
        raise ConfigError(f"--backend {name} needs {section} url (or DMARCFLOW_{env}_URL)")
    if name not in ("index", index.engine):
        raise BackendMismatch(f"--backend {name}, but [index] engine is {index.engine}: "
                              f"use --backend {index.engine} (or --backend index)")
    return index


@contextmanager
def summary_backend(name: str, settings: Settings) -> Iterator[SummaryBackend]:
    """The backend called ``name`` (one of BACKENDS), open for the block: the store read-only, or an engine client."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {name!r}")
    if name == "sqlite":
        with Store.open_readonly(settings.store.resolved_path()) as store:
            yield StoreBackend(store)
        return
    index = index_settings_for(name, settings)
    from dmarcflow.index.engines import connect
    from dmarcflow.index.query import IndexBackend, IndexQuery

    client = connect(index)
    try:
        yield IndexBackend(IndexQuery(client, index))
    finally:
        client.close()
