"""Group commits: one write transaction shared by several ``Store.transaction()`` blocks, a savepoint each.

A savepoint per report keeps a failing report's rows out (only its savepoint is rolled back) while the
reports around it share one commit, and so one write of the pages they share (index and rollup pages).
SQLite itself may roll the whole transaction back after disk full or an I/O error; the group notices
(the connection is no longer in a transaction) and calls what it had released ``lost``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from dmarcflow.errors import StoreError

__all__ = ["CommitGroup"]


class CommitGroup:
    """See ``Store.group``. ``failure(exc)`` says what a SQLite error means for this store, in words;
    ``rolled_back()`` is called whenever a savepoint or the transaction is rolled back (the store drops
    what it cached of rows written since: verdict ids); ``before_commit(conn)`` is the store's last writing
    before each commit (the whole-history rollup's fold)."""

    def __init__(self, conn: sqlite3.Connection, failure: Callable[[sqlite3.Error], str],
                 rolled_back: Callable[[], None] = lambda: None,
                 before_commit: Callable[[sqlite3.Connection], None] = lambda conn: None) -> None:
        self._conn = conn
        self._before_commit = before_commit
        self._failure = failure
        self._rolled_back = rolled_back
        self.dirty = False  # savepoints released since the last commit
        self.lost = False  # what was released could not be committed (rolled back): acknowledge none of it
        self.failure: str | None = None

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """One ``Store.transaction()`` inside the group; the group's transaction begins with the first one."""
        conn = self._conn
        if not conn.in_transaction:
            self._check_not_rolled_back()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(self._failure(exc)) from None
        # One name for every savepoint: the same statement text each time, so SQLite's prepared statements
        # are reused (a name per report would prepare, and evict from the statement cache, two a report).
        # ROLLBACK TO and RELEASE name the innermost savepoint of that name, which is this one.
        name = "report"
        conn.execute("SAVEPOINT report")
        try:
            yield
        except sqlite3.Error as exc:
            self._undo(name)
            raise StoreError(self._failure(exc)) from exc
        except BaseException:
            self._undo(name)
            raise
        try:
            conn.execute(f"RELEASE {name}")
        except sqlite3.Error as exc:
            self._undo(name)
            raise StoreError(self._failure(exc)) from exc
        self.dirty = True

    def commit(self) -> None:
        """Commit what the savepoints so far wrote: one commit for all of them."""
        conn = self._conn
        if not conn.in_transaction:
            self._check_not_rolled_back()
            return
        try:
            self._before_commit(conn)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._lose(self._failure(exc))
            self._rolled_back()
            _rollback(conn)
            raise StoreError(self.failure) from exc
        self.dirty = False

    def close(self) -> None:
        """Commit what is left; a failure is kept in ``lost`` and ``failure``, not raised (see ``Store.group``)."""
        try:
            self.commit()
        except StoreError:
            self._rolled_back()
            _rollback(self._conn)

    def _check_not_rolled_back(self) -> None:
        if self.dirty:  # released work, and yet no transaction: SQLite rolled it all back
            self._lose("the store rolled back the transaction of the reports not yet committed")
            raise StoreError(self.failure)

    def _undo(self, name: str) -> None:
        """Roll back this savepoint only; after disk full SQLite may have rolled back everything already."""
        conn = self._conn
        self._rolled_back()
        if conn.in_transaction:
            try:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            except sqlite3.Error:
                pass  # the error that brought us here is the one worth reporting
        elif self.dirty:
            self._lose(None)

    def _lose(self, failure: str | None) -> None:
        self.lost, self.dirty = True, False
        self.failure = self.failure or failure


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with suppress(sqlite3.Error):  # the error that brought us here is the one worth reporting
            conn.execute("ROLLBACK")
