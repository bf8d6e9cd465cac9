"""Figures for monitoring (/metrics), read from the store without taking its write lock.

The store is opened read-only (``open_reader``) with a short busy timeout for each scrape, so a scrape
never creates the store and never waits long behind a writer. Every query reads a small table
(``reports``, ``rejected``, ``index_checkpoint``, ``index_failures``) or a primary-key range of
the daily rollup; none scans ``records`` except the outbox backlog, which reads only the records
after a checkpoint.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dmarcflow.errors import StoreError
from dmarcflow.store.connection import open_reader

CLASSES = ("authorised", "forwarded", "misconfigured", "unauthorised")
_SCRAPE_BUSY_MS = 2000


@dataclass(frozen=True)
class OutboxBacklog:
    target: str
    pending: int  # records after the target's checkpoint
    parked: int  # records the index refused one by one, retried on every pass


@dataclass(frozen=True)
class StoreFigures:
    reports: dict[str, int] = field(default_factory=dict)  # stored reports by status (active, conflict)
    records: int = 0  # records of all stored reports
    rejected: dict[str, int] = field(default_factory=dict)  # rejected inputs by reason code
    day_messages: dict[str, dict[str, int]] = field(default_factory=dict)  # domain -> class -> messages on `day`
    latest_report_end: dict[str, int] = field(default_factory=dict)  # domain -> newest interval end (Unix time)
    backlog: tuple[OutboxBacklog, ...] = ()


def read_figures(path: Path, day: int, targets: Sequence[str] = ()) -> StoreFigures:
    """The figures of the store at ``path``; ``day`` is the UTC day (days since 1970) for ``day_messages``.

    ``targets`` are the configured index targets; targets that have a checkpoint are added. A store
    that does not exist yet has no figures (all empty): the daemon creates it at its first pass.
    """
    if not path.exists():
        return StoreFigures()
    conn = open_reader(path)  # raises StoreError with the reason
    try:
        conn.execute(f"PRAGMA busy_timeout={_SCRAPE_BUSY_MS}")
        return _read(conn, day, targets)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read figures from the store at {path}: {exc}") from None
    finally:
        conn.close()


def _read(conn: sqlite3.Connection, day: int, targets: Sequence[str]) -> StoreFigures:
    conn.execute("BEGIN")  # one snapshot for every figure
    reports = {str(s): int(n) for s, n in conn.execute("SELECT status, count(*) FROM reports GROUP BY status")}
    records = int(conn.execute("SELECT coalesce(sum(record_count), 0) FROM reports").fetchone()[0])
    rejected = {str(r): int(n) for r, n in conn.execute("SELECT reason, count(*) FROM rejected GROUP BY reason")}
    latest = {str(d): int(t) for d, t in conn.execute(
        "SELECT domain, max(end_ts) FROM reports WHERE status = 'active' GROUP BY domain")}
    return StoreFigures(reports, records, rejected, _day_messages(conn, sorted(latest), day), latest,
                        _backlog(conn, targets))


def _day_messages(conn: sqlite3.Connection, domains: list[str], day: int) -> dict[str, dict[str, int]]:
    """Messages per class on one day for every domain with reports (zeros kept: a silent domain shows 0)."""
    out = {}
    for domain in domains:  # (domain, day) is the rollup's primary-key prefix: one range read per domain
        counts = dict.fromkeys(CLASSES, 0)
        for klass, messages in conn.execute(
                "SELECT v.class, sum(r.messages) FROM daily_rollup r CROSS JOIN rollup_verdicts v ON v.id = r.verdict "
                "WHERE r.domain = (SELECT id FROM rollup_names WHERE name = ?) AND r.day = ? GROUP BY v.class",
                (domain, day)):
            counts[str(klass)] = int(messages)
        out[domain] = counts
    return out


def _backlog(conn: sqlite3.Connection, targets: Sequence[str]) -> tuple[OutboxBacklog, ...]:
    checkpoints = {str(t): int(n) for t, n in conn.execute("SELECT target, last_record_id FROM index_checkpoint")}
    out = []
    for target in sorted(set(targets) | set(checkpoints)):
        after = checkpoints.get(target, 0)
        pending = conn.execute("SELECT count(*) FROM record_rows WHERE id > ?", (after,)).fetchone()[0]
        parked = conn.execute("SELECT count(*) FROM index_failures WHERE target = ?", (target,)).fetchone()[0]
        out.append(OutboxBacklog(target, int(pending), int(parked)))
    return tuple(out)
