"""The base of the store's repositories: a group of related SQL statements over the store's one connection.

The connection is private to ``dmarcflow.store``: every other layer asks a repository a question in
Python (``store.reports.count(...)``, ``store.rollups.source_rows(...)``) and gets the model's types
back. A read that fails becomes a ``StoreError`` in plain words here, so no ``sqlite3`` error reaches a
caller; writes run inside ``Store.transaction()``, which turns their failures into one (and rolls back).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dmarcflow.errors import StoreError
from dmarcflow.store.connection import describe

Args = Sequence[Any]


class Repository:
    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._path = path

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one read; an SQLite failure is a StoreError."""
        try:
            yield self._conn
        except sqlite3.Error as exc:
            raise StoreError(f"the store at {self._path}: {describe(exc)}") from None

    def _rows(self, sql: str, args: Args = ()) -> list[tuple[Any, ...]]:
        with self._reading() as conn:
            return conn.execute(sql, args).fetchall()

    def _row(self, sql: str, args: Args = ()) -> tuple[Any, ...] | None:
        with self._reading() as conn:
            row: tuple[Any, ...] | None = conn.execute(sql, args).fetchone()
            return row

    def _value(self, sql: str, args: Args = ()) -> Any:
        """The first column of the first row (None when there is no row)."""
        row = self._row(sql, args)
        return None if row is None else row[0]
