"""The index feature's daemon hook: a sync pass after every mailbox pass, when [index] url is set.

Registered with the daemon through the ``dmarcflow.after_pass`` entry point (pyproject.toml).
This module imports no engine client: a daemon without a search index never loads one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dmarcflow.config import Settings
from dmarcflow.store import Store

log = logging.getLogger(__name__)


def after_pass_hook(settings: Settings) -> Callable[[], None] | None:
    """For ``dmarcflow watch``; None when no search index is configured.

    An unreachable cluster is logged and left for the next pass (no blocking retries here: the
    records wait in the store). One client for the daemon's life; a store connection per pass
    because hooks run in whichever worker thread finished a pass.
    """
    index = settings.index
    if not index.url:
        return None
    from dmarcflow.index.engines import connect
    from dmarcflow.index.retention import prune
    from dmarcflow.index.sync import sync_all

    client = connect(index)

    def sync_after_pass() -> None:
        with Store.open(settings.store.resolved_path()) as store:
            results = sync_all(client, store, index, chunk_retries=0)
        for result in results:
            if result.error:
                log.warning("index sync stopped: %s", result.error)
            elif result.created or result.failures:
                log.info("indexed %d %s, %d refused, %d waiting", result.created,
                         f"{result.target.rpartition('#')[2]} document(s)" if "#" in result.target else "record(s)",
                         len(result.failures), result.pending)
        if all(r.error is None for r in results) and index.retention_days > 0:
            prune(client, index)

    return sync_after_pass
