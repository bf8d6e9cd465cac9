"""Stores as older dmarcflow versions left them, made from a current store by undoing newer migrations."""

from __future__ import annotations

import sqlite3

from dmarcflow.store.schema import MIGRATIONS, _statements


def _shipped(migration: int, prefix: str) -> list[str]:
    """The statements of shipped migration ``migration`` (1-based) that begin with ``prefix``."""
    return [s for s in _statements(MIGRATIONS[migration - 1]) if s.startswith(prefix)]


def undo_domain_sources_notes(conn: sqlite3.Connection) -> None:
    """Undo migration 16: the notes table dropped, migration 15's triggers on ``daily_rollup`` back; the version
    15. Call it on a committed store (no notes left)."""
    assert conn.execute("SELECT COUNT(*) FROM domain_sources_pending").fetchone()[0] == 0
    for statement in ("DROP TRIGGER daily_rollup_added", "DROP TRIGGER daily_rollup_summed",
                      "DROP TRIGGER daily_rollup_dropped", "DROP TABLE domain_sources_pending",
                      *_shipped(15, "CREATE TRIGGER"), "PRAGMA user_version = 15"):
        conn.execute(statement)


def undo_daily_rollup(conn: sqlite3.Connection) -> None:
    """Undo migration 15 (and 16, which came after it, first): ``daily_sources`` a table again (migration 1's,
    with migration 3's index and migration 13's triggers), filled with the rows its view showed; the dictionary
    tables dropped; the version 14."""
    if conn.execute("PRAGMA user_version").fetchone()[0] >= 16:
        undo_domain_sources_notes(conn)
    conn.execute("CREATE TEMP TABLE old_daily AS SELECT * FROM daily_sources")
    for statement in ("DROP VIEW daily_sources", "DROP TABLE daily_rollup", "DROP TABLE rollup_verdicts",
                      "DROP TABLE rollup_names"):  # the triggers go with their table
        conn.execute(statement)
    for statement in (*_shipped(1, "CREATE TABLE daily_sources"), *_shipped(3, "CREATE INDEX daily_sources_by_source")):
        conn.execute(statement)
    conn.execute("INSERT INTO daily_sources SELECT * FROM temp.old_daily")  # domain_sources holds their sums already
    conn.execute("DROP TABLE temp.old_daily")
    for statement in _shipped(13, "CREATE TRIGGER"):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 14")
