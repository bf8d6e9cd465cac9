"""SQL over the store for summaries: the only module here that talks to SQLite.

Everything about sources comes from the ``daily_sources`` rollup (kept up to
date at ingest, active reports only), so no query reads the ``records`` table.
Every filter is an equality on ``domain`` plus a range on ``day``: the leading
columns of the rollup's primary key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from dmarcflow.analysis.window import Window


@dataclass(frozen=True)
class PolicyFacts:
    """The published policy of the most recent report in the window.

    sp and np are None when the report left them out (the parser stores the
    RFC default in that case and notes it in ``defaults_applied``).
    """

    p: str | None
    sp: str | None
    np: str | None
    pct: int | None
    adkim: str
    aspf: str
    testing: str | None = None  # RFC 9990 <testing>: "y" when the policy is published with t=y

    def as_dict(self) -> dict[str, Any]:
        return {"p": self.p, "sp": self.sp, "np": self.np, "pct": self.pct, "adkim": self.adkim, "aspf": self.aspf,
                "testing": self.testing}


@dataclass(frozen=True)
class ReportFacts:
    reports: int
    reporters: int
    begin_ts: int | None
    end_ts: int | None
    policy: PolicyFacts | None


@dataclass(frozen=True)
class Totals:
    messages: int
    dmarc_pass: int
    spf_aligned: int
    dkim_aligned: int
    dispositions: dict[str, int]


class SourceRow(NamedTuple):
    """Messages of one IP with one verdict (summed over days and dispositions).

    A NamedTuple rather than a dataclass: a summary builds tens of thousands of them.
    """

    ip: str
    klass: str
    header_from: str
    dmarc_pass: int  # 1 or 0, as SQLite stores booleans
    dkim_aligned: int
    spf_aligned: int
    dkim_domain: str
    spf_domain: str
    dkim_result: str
    spf_result: str
    reasons: str
    messages: int
    quarantined: int = 0  # messages with disposition quarantine / reject
    rejected: int = 0


@dataclass(frozen=True)
class IpRow:
    ip: str
    reverse_dns: str | None
    base_domain: str | None
    country: str | None
    asn: int | None
    as_name: str | None
    sender: str | None
    sender_type: str | None
    as_domain: str | None = None


# The published-policy fields, named as both the reports columns and the index's policy_published keys.
POLICY_FIELDS = ("p", "sp", "np", "pct", "adkim", "aspf", "testing")
_IN_WINDOW = "domain = ? AND day BETWEEN ? AND ?"
_REPORTS_IN_WINDOW = "domain = ? AND status = 'active' AND begin_ts >= ? AND begin_ts < ?"


def _args(domain: str, window: Window) -> tuple:
    return (domain, window.first_day, window.last_day)


def _report_args(domain: str, window: Window) -> tuple:
    return (domain, window.begin_ts, window.end_ts)


def domains_with_data(conn: sqlite3.Connection, window: Window) -> list[str]:
    """Policy domains with at least one active report beginning in the window."""
    rows = conn.execute(
        "SELECT DISTINCT domain FROM reports WHERE status = 'active' AND begin_ts >= ? AND begin_ts < ? ORDER BY domain",
        (window.begin_ts, window.end_ts),
    )
    return [r[0] for r in rows]


def report_facts(conn: sqlite3.Connection, domain: str, window: Window) -> ReportFacts:
    count, reporters, begin, end = conn.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT org_name), MIN(begin_ts), MAX(end_ts) FROM reports WHERE {_REPORTS_IN_WINDOW}",
        _report_args(domain, window),
    ).fetchone()
    row = conn.execute(
        f"SELECT {', '.join(POLICY_FIELDS)}, defaults_applied FROM reports "
        f"WHERE {_REPORTS_IN_WINDOW} ORDER BY begin_ts DESC, id DESC LIMIT 1",
        _report_args(domain, window),
    ).fetchone()
    policy = policy_facts(dict(zip(POLICY_FIELDS, row)), json.loads(row[-1] or "[]")) if row else None
    return ReportFacts(count, reporters, begin, end, policy)


def policy_facts(published: Mapping[str, Any], defaulted: Iterable[str]) -> PolicyFacts:
    """The policy a report published, from its ``POLICY_FIELDS`` and the tags the parser defaulted.

    Public so that every backend applies this one rule: a defaulted sp/np was not published (None).
    """
    omitted = set(defaulted)
    sp = None if "sp" in omitted else published.get("sp")
    np = None if "np" in omitted else published.get("np")
    testing = published.get("testing")
    return PolicyFacts(published.get("p"), sp, np, published.get("pct"),
                       published.get("adkim") or "r", published.get("aspf") or "r",
                       testing.strip().lower() if isinstance(testing, str) and testing.strip() else None)


def domain_totals(conn: sqlite3.Connection, domain: str, window: Window) -> Totals:
    # One pass over the window with conditional sums: a GROUP BY disposition would sort.
    row = conn.execute(
        "SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(messages * dmarc_pass), 0), "
        "COALESCE(SUM(messages * spf_aligned), 0), COALESCE(SUM(messages * dkim_aligned), 0), "
        "COALESCE(SUM(CASE disposition WHEN 'none' THEN messages END), 0), "
        "COALESCE(SUM(CASE disposition WHEN 'quarantine' THEN messages END), 0), "
        "COALESCE(SUM(CASE disposition WHEN 'reject' THEN messages END), 0) "
        f"FROM daily_sources WHERE {_IN_WINDOW}",
        _args(domain, window),
    ).fetchone()
    return Totals(*row[:4], dispositions={"none": row[4], "quarantine": row[5], "reject": row[6]})


_GROUP = ("source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, "
          "dkim_result, spf_result, reasons")
# Above this share of the domain's days, reading the covering index in group order (no sort)
# beats a primary-key range scan followed by a sort of every row in the window.
_INDEX_SHARE = 0.3


def source_rows(conn: sqlite3.Connection, domain: str, window: Window) -> list[SourceRow]:
    hint, group = _access_path(conn, domain, window)
    rows = conn.execute(
        f"SELECT {_GROUP}, SUM(messages), SUM(CASE disposition WHEN 'quarantine' THEN messages ELSE 0 END), "
        f"SUM(CASE disposition WHEN 'reject' THEN messages ELSE 0 END) "
        f"FROM daily_sources {hint} WHERE {_IN_WINDOW} GROUP BY {group}",
        _args(domain, window),
    )
    return [SourceRow._make(r) for r in rows]


_PLAIN_GROUP = ", ".join("+" + c.strip() for c in _GROUP.split(","))


def _access_path(conn: sqlite3.Connection, domain: str, window: Window) -> tuple[str, str]:
    """(table hint, GROUP BY terms) for the window, pinned rather than left to the planner.

    A long window reads the covering index in group order (no sort). A short one
    searches the primary key by day and sorts the few rows it finds: the unary
    plus on the GROUP BY terms stops the planner from choosing the index order
    (and scanning the whole domain) instead.
    """
    if _long_window(conn, domain, window):
        return "INDEXED BY daily_sources_by_source", _GROUP
    return "", _PLAIN_GROUP


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


def _long_window(conn: sqlite3.Connection, domain: str, window: Window) -> bool:
    """Whether the window covers a large share of the days the domain has reports for."""
    first, last = conn.execute("SELECT MIN(begin_ts), MAX(begin_ts) FROM reports WHERE domain = ?", (domain,)).fetchone()
    if first is None:
        return False
    first, last = first // 86400, last // 86400
    covered = min(last, window.last_day) - max(first, window.first_day) + 1
    return covered >= _INDEX_SHARE * (last - first + 1)


def ip_rows(conn: sqlite3.Connection, ips: Iterable[str]) -> dict[str, IpRow]:
    """Enrichment facts of these IPs (those without facts are left out)."""
    rows = conn.execute(
        "SELECT ip, reverse_dns, base_domain, country, asn, as_name, sender, sender_type, as_domain FROM ip_info "
        "WHERE ip IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(set(ips))),),
    )
    return {r[0]: IpRow(*r) for r in rows}
