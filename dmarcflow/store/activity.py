"""When reports arrive: per policy domain and reporter, the latest report and how regularly it came.

Reads only the reports table (its (domain, begin_ts) index); conflicting second versions are not counted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class ReporterActivity:
    domain: str
    reporter: str  # org_name
    last_end_ts: int  # the end of its latest report's interval
    recent_days: int  # distinct UTC days with a report in the `days` days up to its latest report


def reporter_activity(conn: sqlite3.Connection, days: int) -> list[ReporterActivity]:
    rows = conn.execute(
        "WITH last AS (SELECT domain, org_name, MAX(begin_ts) AS last_begin, MAX(end_ts) AS last_end "
        "FROM reports WHERE status = 'active' GROUP BY domain, org_name) "
        "SELECT l.domain, l.org_name, l.last_end, COUNT(DISTINCT r.begin_ts / 86400) FROM last l "
        "JOIN reports r ON r.domain = l.domain AND r.org_name = l.org_name AND r.status = 'active' "
        "AND r.begin_ts / 86400 > l.last_begin / 86400 - ? "
        "GROUP BY l.domain, l.org_name ORDER BY l.domain, l.org_name",
        (days,),
    )
    return [ReporterActivity(str(d), str(o), int(e), int(n)) for d, o, e, n in rows]


def latest_report_id(conn: sqlite3.Connection) -> int:
    """The highest report row id: it grows with every report stored, so a change means new data."""
    return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM reports").fetchone()[0])
