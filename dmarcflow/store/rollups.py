"""The summary's reads: report facts, totals and source rows, from the rollups.

Everything about sources comes from the rollups (kept up to date at ingest, active reports only), so no
query reads the ``records`` table. A window that holds every day of the domain is answered from
``domain_sources`` (the whole history, already grouped: one row per source and verdict, read in key order);
any other window from the daily rollup (``daily_rollup``, by dictionary ids since schema 15; ``daily_sources``
is its view with text), with an equality on ``domain`` plus a range on ``day``: the leading columns of its
primary key. The ids are summed first and turned into text after, so the text is looked up once per group.
``RollupRepository`` is what callers use; the module functions over a connection are its implementation
(and, under the 0.1 name ``dmarcflow.analysis.queries``, what older callers imported).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dmarcflow.models import IpFacts, PolicyPublished, ReportFacts, SourceRow, Totals, Window
from dmarcflow.store import domain_sources
from dmarcflow.store.ipfacts import facts_of
from dmarcflow.store.repository import Repository

__all__ = [
    "POLICY_FIELDS", "IpRow", "PolicyFacts", "ReportFacts", "RollupRepository", "SourceRow", "Totals",
    "domain_totals", "domains_with_data", "ip_rows", "policy_facts", "report_facts", "source_rows", "totals_of",
]

# 0.1 names of the model's types.
IpRow = IpFacts
PolicyFacts = PolicyPublished
POLICY_FIELDS = PolicyPublished.SUMMARY_FIELDS
_POLICY_COLUMNS = (*POLICY_FIELDS, "fo", "discovery_method")
_DOMAIN_ID = "(SELECT id FROM rollup_names WHERE name = ?)"
_IN_WINDOW = f"domain = {_DOMAIN_ID} AND day BETWEEN ? AND ?"
_REPORTS_IN_WINDOW = "domain = ? AND status = 'active' AND begin_ts >= ? AND begin_ts < ?"
_GROUP = ("source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, "
          "dkim_result, spf_result, reasons")
_ID_GROUP = "source, verdict"  # daily_rollup's terms behind _GROUP: the IP's id and the rollup verdict's
_PLAIN_ID_GROUP = "+source, +verdict"
# The daily rows summed per (IP id, rollup verdict id), then per group of the text: a rollup verdict also holds
# disposition and evaluations, which the groups sum over.
_DAILY_ROWS = (
    "SELECT i.name, v.class, v.header_from, v.dmarc_pass, v.dkim_aligned, v.spf_aligned, v.dkim_domain, "
    "v.spf_domain, v.dkim_result, v.spf_result, v.reasons, SUM(g.m), "
    "SUM(CASE v.disposition WHEN 'quarantine' THEN g.m ELSE 0 END), SUM(CASE v.disposition WHEN 'reject' THEN g.m ELSE 0 END) "
    "FROM (SELECT source, verdict, SUM(messages) AS m FROM daily_rollup {hint} WHERE " + _IN_WINDOW + " GROUP BY {group}) AS g "
    "CROSS JOIN rollup_names i ON i.id = g.source CROSS JOIN rollup_verdicts v ON v.id = g.verdict "
    "GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11"
)
# Above this share of the domain's days, reading the covering index in group order (no sort)
# beats a primary-key range scan followed by a sort of every row in the window.
_INDEX_SHARE = 0.3


class RollupRepository(Repository):
    """What a summary reads from the store for a domain and a window."""

    def domains_with_data(self, window: Window) -> list[str]:
        """Policy domains with at least one active report beginning in the window."""
        with self._reading() as conn:
            return domains_with_data(conn, window)

    def report_facts(self, domain: str, window: Window) -> ReportFacts:
        with self._reading() as conn:
            return report_facts(conn, domain, window)

    def domain_totals(self, domain: str, window: Window) -> Totals:
        with self._reading() as conn:
            return domain_totals(conn, domain, window)

    def source_rows(self, domain: str, window: Window) -> list[SourceRow]:
        """The domain's messages per IP and verdict in the window, summed over days and dispositions."""
        with self._reading() as conn:
            return source_rows(conn, domain, window)


def _args(domain: str, window: Window) -> tuple[str, int, int]:
    return (domain, window.first_day, window.last_day)


def _report_args(domain: str, window: Window) -> tuple[str, int, int]:
    return (domain, window.begin_ts, window.end_ts)


def domains_with_data(conn: sqlite3.Connection, window: Window) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT domain FROM reports WHERE status = 'active' AND begin_ts >= ? AND begin_ts < ? ORDER BY domain",
        (window.begin_ts, window.end_ts),
    )
    return [str(r[0]) for r in rows]


def report_facts(conn: sqlite3.Connection, domain: str, window: Window) -> ReportFacts:
    count, reporters, begin, end = conn.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT org_name), MIN(begin_ts), MAX(end_ts) FROM reports WHERE {_REPORTS_IN_WINDOW}",
        _report_args(domain, window),
    ).fetchone()
    row = conn.execute(
        f"SELECT {', '.join(_POLICY_COLUMNS)}, defaults_applied FROM reports "
        f"WHERE {_REPORTS_IN_WINDOW} ORDER BY begin_ts DESC, id DESC LIMIT 1",
        _report_args(domain, window),
    ).fetchone()
    policy = None
    if row:
        policy = PolicyPublished.published(domain, dict(zip(_POLICY_COLUMNS, row, strict=False)),
                                           json.loads(row[-1] or "[]"))
    return ReportFacts(count, reporters, begin, end, policy)


def policy_facts(published: Mapping[str, Any], defaulted: Iterable[str], domain: str = "") -> PolicyPublished:
    """0.1 name of ``PolicyPublished.published``."""
    return PolicyPublished.published(domain or str(published.get("domain") or ""), published, defaulted)


def domain_totals(conn: sqlite3.Connection, domain: str, window: Window) -> Totals:
    # One pass over the window with conditional sums: a GROUP BY disposition would sort.
    row = conn.execute(
        "SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(messages * v.dmarc_pass), 0), "
        "COALESCE(SUM(messages * v.spf_aligned), 0), COALESCE(SUM(messages * v.dkim_aligned), 0), "
        "COALESCE(SUM(CASE v.disposition WHEN 'none' THEN messages END), 0), "
        "COALESCE(SUM(CASE v.disposition WHEN 'quarantine' THEN messages END), 0), "
        "COALESCE(SUM(CASE v.disposition WHEN 'reject' THEN messages END), 0) "
        f"FROM daily_rollup r CROSS JOIN rollup_verdicts v ON v.id = r.verdict WHERE r.{_IN_WINDOW}",
        _args(domain, window),
    ).fetchone()
    return Totals(row[0], row[1], row[2], row[3], dispositions={"none": row[4], "quarantine": row[5], "reject": row[6]})


def source_rows(conn: sqlite3.Connection, domain: str, window: Window) -> list[SourceRow]:
    """The rows in group order (IP, then verdict), from whichever rollup answers the window with fewer rows."""
    with _snapshot(conn):
        if whole_history(conn, domain, window) and not domain_sources.pending(conn):
            rows = conn.execute(f"SELECT {_GROUP}, messages, quarantined, rejected FROM domain_sources "
                                f"WHERE domain = ? ORDER BY {_GROUP}", (domain,))
        else:
            rows = daily_source_rows(conn, domain, window)
        make = tuple.__new__
        return [make(SourceRow, r) for r in rows]


def daily_source_rows(conn: sqlite3.Connection, domain: str, window: Window) -> sqlite3.Cursor:
    """The source rows summed from the daily rollup (what any window can be answered from), in group order."""
    hint, group = _access_path(conn, domain, window)
    return conn.execute(_DAILY_ROWS.format(hint=hint, group=group), _args(domain, window))


def whole_history(conn: sqlite3.Connection, domain: str, window: Window) -> bool:
    """Whether the window holds every day the domain has rollup rows for (each bound: one primary-key seek)."""
    first = conn.execute(f"SELECT MIN(day) FROM daily_rollup WHERE domain = {_DOMAIN_ID}", (domain,)).fetchone()[0]
    if first is None:
        return False  # nothing stored: the daily query finds nothing as well
    last = conn.execute(f"SELECT MAX(day) FROM daily_rollup WHERE domain = {_DOMAIN_ID}", (domain,)).fetchone()[0]
    return bool(window.first_day <= first and last <= window.last_day)


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction for the bounds and the rows, unless the caller holds one: a report committed in
    between must not reach the rows of a window chosen without it."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _access_path(conn: sqlite3.Connection, domain: str, window: Window) -> tuple[str, str]:
    """(table hint, GROUP BY terms of the ids) for the window, pinned rather than left to the planner.

    A long window reads the covering index in (IP, verdict) order (no sort). A short one
    searches the primary key by day and sorts the few rows it finds: the unary
    plus on the GROUP BY terms stops the planner from choosing the index order
    (and scanning the whole domain) instead.
    """
    if _long_window(conn, domain, window):
        return "INDEXED BY daily_rollup_by_source", _ID_GROUP
    return "", _PLAIN_ID_GROUP


def _long_window(conn: sqlite3.Connection, domain: str, window: Window) -> bool:
    """Whether the window covers a large share of the days the domain has reports for."""
    first, last = conn.execute("SELECT MIN(begin_ts), MAX(begin_ts) FROM reports WHERE domain = ?", (domain,)).fetchone()
    if first is None:
        return False
    first, last = first // 86400, last // 86400
    covered = min(last, window.last_day) - max(first, window.first_day) + 1
    return bool(covered >= _INDEX_SHARE * (last - first + 1))


def totals_of(rows: list[SourceRow]) -> Totals:
    """The domain totals, summed from the grouped rows (the same rows, so no second scan)."""
    messages = dmarc_pass = spf = dkim = quarantined = rejected = 0
    for r in rows:
        messages += r.messages
        quarantined += r.quarantined
        rejected += r.rejected
        if r.dmarc_pass:
            dmarc_pass += r.messages
        if r.spf_aligned:
            spf += r.messages
        if r.dkim_aligned:
            dkim += r.messages
    dispositions = {"none": messages - quarantined - rejected, "quarantine": quarantined, "reject": rejected}
    return Totals(messages, dmarc_pass, spf, dkim, dispositions)


def ip_rows(conn: sqlite3.Connection, ips: Iterable[str]) -> dict[str, IpFacts]:
    """0.1 name of ``IpFactsRepository.facts_of``."""
    return facts_of(conn, ips)
