"""The SQLite store: the source of truth."""

from dmarcflow.store.connection import DatabaseError
from dmarcflow.store.rejected import RawInput, RejectedRow
from dmarcflow.store.sqlite import Store, StoredReport

__all__ = ["DatabaseError", "RawInput", "RejectedRow", "Store", "StoredReport"]
