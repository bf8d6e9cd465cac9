"""Facts on source IPs (``ip_info``) and the IPs still waiting for them (``ip_pending``).

Invariant: every source IP of a stored record has an ``ip_info`` row or an ``ip_pending`` mark. A report's
IPs are marked inside the report's transaction and unmarked inside the one that saves their facts, so
enrichment that a crash interrupted is found (by the primary key of a small table, not a scan of the
records) and completed by the next run.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from dmarcflow.models import IpFacts
from dmarcflow.store.repository import Repository
from dmarcflow.utc import now_iso

_CHUNK = 500  # host parameters per IN (...) list
_SCAN_SHARE = 3  # facts_of reads the whole table when asked for at least a third of its rows
Facts = IpFacts  # 0.1 name
# In IpFacts field order, so that a row is the type's positional arguments.
_COLUMNS = "ip, reverse_dns, base_domain, country, asn, as_name, as_domain, sender, sender_type, rdns_checked"


class IpFactsRepository(Repository):
    """``ip_info`` and ``ip_pending``: the facts on source IPs, and the IPs waiting for theirs."""

    def facts_of(self, ips: Iterable[str]) -> dict[str, IpFacts]:
        """The facts of these IPs (those without facts are left out)."""
        with self._reading() as conn:
            return facts_of(conn, ips)

    def known(self, ips: Iterable[str], need_rdns: bool) -> set[str]:
        with self._reading() as conn:
            return known(conn, ips, need_rdns)

    def pending(self, after: str = "", limit: int = 5000, need_rdns: bool = False) -> list[str]:
        with self._reading() as conn:
            return pending(conn, after, limit, need_rdns)

    def pending_count(self) -> int:
        with self._reading() as conn:
            return pending_count(conn)

    def save(self, facts: Iterable[IpFacts]) -> None:
        """Upsert facts and unmark their IPs (inside ``Store.transaction()``)."""
        save(self._conn, facts)


def facts_of(conn: sqlite3.Connection, ips: Iterable[str]) -> dict[str, IpFacts]:
    wanted = set(ips)
    # max(rowid) bounds the row count in one seek (facts are upserted, never deleted). For a good share of
    # the table, one pass over it costs less than a search per IP (a large summary asks for most IPs).
    if len(wanted) * _SCAN_SHARE >= (conn.execute("SELECT max(rowid) FROM ip_info").fetchone()[0] or 0):
        rows = conn.execute(f"SELECT {_COLUMNS} FROM ip_info")
        return {r[0]: IpFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9])) for r in rows if r[0] in wanted}
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM ip_info WHERE ip IN (SELECT value FROM json_each(?))", (json.dumps(sorted(wanted)),),
    )
    return {r[0]: IpFacts(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9])) for r in rows}


def known(conn: sqlite3.Connection, ips: Iterable[str], need_rdns: bool) -> set[str]:
    """Which of these IPs already have facts (and a reverse DNS attempt, if asked)."""
    wanted = list(ips)
    found: set[str] = set()
    sql = "SELECT ip FROM ip_info WHERE ip IN (%s)" + (" AND rdns_checked=1" if need_rdns else "")
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(r[0] for r in conn.execute(sql % ",".join("?" * len(chunk)), chunk))
    return found


def save(conn: sqlite3.Connection, facts: Iterable[IpFacts]) -> None:
    """Upsert facts and unmark their IPs (call inside a write transaction)."""
    now = now_iso()  # once per batch: whole seconds, and a clock read per IP was a tenth of saving them
    rows = [
        (f.ip, f.reverse_dns, f.base_domain, f.country, f.asn, f.as_name, f.as_domain, f.sender, f.sender_type,
         int(f.rdns_checked), now)
        for f in facts
    ]
    conn.executemany(
        "INSERT INTO ip_info (ip, reverse_dns, base_domain, country, asn, as_name, as_domain, sender, sender_type, "
        "rdns_checked, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(ip) DO UPDATE SET "
        "reverse_dns=excluded.reverse_dns, base_domain=excluded.base_domain, country=excluded.country, "
        "asn=excluded.asn, as_name=excluded.as_name, as_domain=excluded.as_domain, sender=excluded.sender, "
        "sender_type=excluded.sender_type, rdns_checked=excluded.rdns_checked, updated_at=excluded.updated_at",
        rows,
    )
    conn.executemany("DELETE FROM ip_pending WHERE ip = ?", [(r[0],) for r in rows])


def mark_report(conn: sqlite3.Connection, report_pk: int, need_rdns: bool) -> None:
    """Mark the report's source IPs that have no facts (or, with need_rdns, no reverse DNS attempt yet).

    Runs in the report's transaction, over the report's own records (its index), once per distinct IP.
    """
    conn.execute(
        "INSERT OR IGNORE INTO ip_pending (ip) "
        "SELECT r.ip FROM (SELECT DISTINCT source_ip AS ip FROM record_rows WHERE report = ?) AS r "
        "WHERE NOT EXISTS (SELECT 1 FROM ip_info i WHERE i.ip = r.ip AND (i.rdns_checked = 1 OR ? = 0))",
        (report_pk, int(need_rdns)),
    )


def mark_ips(conn: sqlite3.Connection, ips: Iterable[str], need_rdns: bool) -> int:
    """Mark these IPs (of a report of another kind: a failure report's source IP) like ``mark_report``.

    Returns how many were marked (0: every one already has its facts).
    """
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO ip_pending (ip) SELECT ? "
        "WHERE NOT EXISTS (SELECT 1 FROM ip_info i WHERE i.ip = ? AND (i.rdns_checked = 1 OR ? = 0))",
        [(ip, ip, int(need_rdns)) for ip in ips],
    )
    return conn.total_changes - before


def pending(conn: sqlite3.Connection, after: str, limit: int, need_rdns: bool) -> list[str]:
    """Marked IPs after ``after`` (in IP text order) that this run can complete.

    Without reverse DNS (offline), an IP that has facts but waits for a lookup is left for an online run.
    """
    rows = conn.execute(
        "SELECT p.ip FROM ip_pending p LEFT JOIN ip_info i ON i.ip = p.ip "
        "WHERE p.ip > ? AND (i.ip IS NULL OR (? = 1 AND i.rdns_checked = 0)) ORDER BY p.ip LIMIT ?",
        (after, int(need_rdns), limit),
    ).fetchall()
    return [str(r[0]) for r in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM ip_pending").fetchone()[0])
