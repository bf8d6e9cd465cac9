"""Folding the noted rollup changes into ``domain_sources`` (migration 16), once per commit.

The daily rollup's insert and update triggers note each change by ids in ``domain_sources_pending``; ``fold``
adds what is noted to domain_sources in one statement (an upsert per note: grouping the notes by domain_sources'
text key first costs twice as much, a sort of text, for few merges) and empties the notes. The store calls it
before every commit of a write transaction, so that no commit leaves notes behind; a reader that finds notes
anyway (inside a write transaction) answers from the daily rollup instead (``rollups.source_rows``).
"""

from __future__ import annotations

import sqlite3

__all__ = ["fold", "pending"]

# The same statement as the first of the delete trigger's (migration 16), which folds before it subtracts.
_FOLD = (
    "INSERT INTO domain_sources "
    "SELECT d.name, i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned, v.dkim_domain, "
    "v.spf_domain, v.dkim_result, v.spf_result, v.reasons, p.messages, "
    "CASE v.disposition WHEN 'quarantine' THEN p.messages ELSE 0 END, "
    "CASE v.disposition WHEN 'reject' THEN p.messages ELSE 0 END, p.daily_rows "
    "FROM domain_sources_pending p CROSS JOIN rollup_names d ON d.id = p.domain "
    "CROSS JOIN rollup_names i ON i.id = p.source CROSS JOIN rollup_verdicts v ON v.id = p.verdict "
    "WHERE true "  # an upsert's SELECT needs a WHERE before ON CONFLICT (it would read as a join's ON)
    "ON CONFLICT DO UPDATE SET messages = messages + excluded.messages, "
    "quarantined = quarantined + excluded.quarantined, rejected = rejected + excluded.rejected, "
    "daily_rows = daily_rows + excluded.daily_rows"
)


def pending(conn: sqlite3.Connection) -> bool:
    """Whether changes are noted and not folded yet (only ever inside a write transaction)."""
    return bool(conn.execute("SELECT EXISTS (SELECT 1 FROM domain_sources_pending)").fetchone()[0])


def fold(conn: sqlite3.Connection) -> None:
    """Add the noted changes to domain_sources (call inside the write transaction, before its commit)."""
    if pending(conn):
        conn.execute(_FOLD)
        conn.execute("DELETE FROM domain_sources_pending")  # no trigger on it: SQLite empties it in one step
