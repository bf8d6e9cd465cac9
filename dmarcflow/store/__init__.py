"""The SQLite store: the source of truth."""

from dmarcflow.store.sqlite import Store, StoredReport

__all__ = ["Store", "StoredReport"]
