"""SQL over the store for summaries: the only module here that talks to SQLite.

Everything about sources comes from the ``daily_sources`` rollup (kept up to
date at ingest, active reports only), so no query reads the ``records`` table.
Every filter is an equality on ``domain`` plus a range on ``day``: the leading
columns of the rollup's primary key.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

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

    def as_dict(self) -> dict:
        return {"p": self.p, "sp": self.sp, "np": self.np, "pct": self.pct, "adkim": self.adkim, "aspf": self.aspf}


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


@dataclass(frozen=True)
class SourceRow:
    """Messages of one IP with one verdict (summed over days and dispositions)."""

    ip: str
    klass: str
    header_from: str
    dmarc_pass: bool
    dkim_aligned: bool
    spf_aligned: bool
    dkim_domain: str
    spf_domain: str
    dkim_result: str
    spf_result: str
    reasons: str
    messages: int


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
        "SELECT p, sp, np, pct, adkim, aspf, defaults_applied FROM reports "
        f"WHERE {_REPORTS_IN_WINDOW} ORDER BY begin_ts DESC, id DESC LIMIT 1",
        _report_args(domain, window),
    ).fetchone()
    return ReportFacts(count, reporters, begin, end, _policy(row) if row else None)


def _policy(row: tuple) -> PolicyFacts:
    defaulted = set(json.loads(row[6] or "[]"))
    sp = None if "sp" in defaulted else row[1]
    np = None if "np" in defaulted else row[2]
    return PolicyFacts(row[0], sp, np, row[3], row[4] or "r", row[5] or "r")


def domain_totals(conn: sqlite3.Connection, domain: str, window: Window) -> Totals:
    sums = conn.execute(
        "SELECT COALESCE(SUM(messages), 0), COALESCE(SUM(messages * dmarc_pass), 0), "
        "COALESCE(SUM(messages * spf_aligned), 0), COALESCE(SUM(messages * dkim_aligned), 0) "
        f"FROM daily_sources WHERE {_IN_WINDOW}",
        _args(domain, window),
    ).fetchone()
    dispositions = {"none": 0, "quarantine": 0, "reject": 0}
    for disposition, messages in conn.execute(
        f"SELECT disposition, SUM(messages) FROM daily_sources WHERE {_IN_WINDOW} GROUP BY disposition",
        _args(domain, window),
    ):
        dispositions[disposition] = messages
    return Totals(*sums, dispositions=dispositions)


def source_rows(conn: sqlite3.Connection, domain: str, window: Window) -> list[SourceRow]:
    rows = conn.execute(
        "SELECT source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, "
        f"dkim_result, spf_result, reasons, SUM(messages) FROM daily_sources WHERE {_IN_WINDOW} "
        "GROUP BY source_ip, class, header_from, dmarc_pass, dkim_aligned, spf_aligned, dkim_domain, spf_domain, "
        "dkim_result, spf_result, reasons",
        _args(domain, window),
    )
    return [
        SourceRow(r[0], r[1], r[2], bool(r[3]), bool(r[4]), bool(r[5]), r[6], r[7], r[8], r[9], r[10], r[11])
        for r in rows
    ]


def ip_rows(conn: sqlite3.Connection, domain: str, window: Window) -> dict[str, IpRow]:
    """Enrichment facts of every IP that sent for the domain in the window."""
    rows = conn.execute(
        "SELECT ip, reverse_dns, base_domain, country, asn, as_name, sender, sender_type FROM ip_info "
        f"WHERE ip IN (SELECT source_ip FROM daily_sources WHERE {_IN_WINDOW})",
        _args(domain, window),
    )
    return {r[0]: IpRow(*r) for r in rows}
