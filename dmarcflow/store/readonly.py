"""The web UI's reader: read-only, never creating, never migrating (``Store.open_readonly`` underneath).

A reader works while ``watch`` writes: in WAL mode readers and the writer do not block each other, and
``snapshot()`` gives one request a consistent view across its queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dmarcflow.store.sqlite import Store


def open_readonly(path: str | Path) -> Store:
    """The store at ``path``, read-only; StoreError if it is missing, unreadable or has an older schema."""
    return Store.open_readonly(path, migrate_older=False)


@contextmanager
def snapshot(store: Store) -> Iterator[Store]:
    """One read transaction: every query inside sees the store as of its first read."""
    store.conn.execute("BEGIN")
    try:
        yield store
    finally:
        store.conn.execute("COMMIT")
