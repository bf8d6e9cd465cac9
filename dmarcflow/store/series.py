"""Per-day figures and a source's facts, read from the rollups (never from the records table).

Days are UTC day numbers (days since 1970-01-01) as ``daily_sources.day`` stores them; a range is
``first_day..last_day``, both included. Every query here reads ``daily_rollup`` (the daily rollup by
dictionary ids, schema 15) with an equality on ``domain`` and a range on ``day`` (its primary key, read in
its order: no sort), or an equality on ``domain`` and ``source`` (its covering index
``daily_rollup_by_source``), each row's verdict looked up by id. Who reported a source: ``store.reports``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.store.reports import ReporterUse
from dmarcflow.store.repository import Repository

__all__ = ["AuthUse", "DayFigures", "ReporterUse", "SeriesRepository"]

_CLASS_SUMS = ", ".join(f"SUM(CASE v.class WHEN '{k}' THEN r.messages ELSE 0 END)" for k in SOURCE_CLASSES)
_DAY_FIGURES = f"r.day, SUM(r.messages), SUM(r.messages * v.dmarc_pass), {_CLASS_SUMS}"
_VERDICT = "CROSS JOIN rollup_verdicts v ON v.id = r.verdict"  # CROSS: the rollup's rows outer, each verdict by id
_DOMAIN_ID = "(SELECT id FROM rollup_names WHERE name = ?)"
_SOURCE_IDS = "(SELECT id FROM rollup_names WHERE name IN (SELECT value FROM json_each(?)))"


@dataclass(frozen=True)
class DayFigures:
    """Messages of one UTC day: all, passing DMARC, and per class (in SOURCE_CLASSES order)."""

    day: int
    messages: int
    dmarc_pass: int
    classes: tuple[int, ...]


@dataclass(frozen=True)
class AuthUse:
    """Messages of a source with one DKIM and one SPF outcome (the domain that passed, else the first)."""

    dkim_domain: str
    dkim_result: str
    spf_domain: str
    spf_result: str
    messages: int


def _day(row: Sequence[int]) -> DayFigures:
    return DayFigures(row[0], row[1], row[2], tuple(row[3:]))


class SeriesRepository(Repository):
    def domain_days(self, domain: str, first_day: int, last_day: int) -> list[DayFigures]:
        """The domain's days that have messages, in day order (the primary key's order: no sort)."""
        rows = self._rows(
            f"SELECT {_DAY_FIGURES} FROM daily_rollup r {_VERDICT} "
            f"WHERE r.domain = {_DOMAIN_ID} AND r.day BETWEEN ? AND ? GROUP BY r.day",
            (domain, first_day, last_day),
        )
        return [_day(r) for r in rows]

    def every_domain_days(self, first_day: int, last_day: int) -> dict[str, list[DayFigures]]:
        """Domain -> its days with messages, for all domains at once (one pass in primary-key order)."""
        rows = self._rows(
            f"SELECT n.name, g.* FROM (SELECT r.domain AS domain, {_DAY_FIGURES} FROM daily_rollup r {_VERDICT} "
            "WHERE r.day BETWEEN ? AND ? GROUP BY r.domain, r.day) AS g "
            "CROSS JOIN rollup_names n ON n.id = g.domain ORDER BY n.name, g.day",
            (first_day, last_day),
        )
        out: dict[str, list[DayFigures]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(_day(row[2:]))
        return out

    def source_days(self, domain: str, ips: Sequence[str], first_day: int, last_day: int) -> list[DayFigures]:
        """The days of these IPs (one source, or the IPs of one sender) sending as the domain."""
        rows = self._rows(
            f"SELECT {_DAY_FIGURES} FROM daily_rollup r INDEXED BY daily_rollup_by_source {_VERDICT} "
            f"WHERE r.domain = {_DOMAIN_ID} AND r.source IN {_SOURCE_IDS} AND r.day BETWEEN ? AND ? "
            "GROUP BY r.day ORDER BY r.day",
            (domain, json.dumps(list(ips)), first_day, last_day),
        )
        return [_day(r) for r in rows]

    def source_auth(self, domain: str, ips: Sequence[str], first_day: int, last_day: int) -> list[AuthUse]:
        """The DKIM and SPF domains and results these IPs showed, biggest first."""
        rows = self._rows(
            "SELECT v.dkim_domain, v.dkim_result, v.spf_domain, v.spf_result, SUM(r.messages) AS n "
            f"FROM daily_rollup r INDEXED BY daily_rollup_by_source {_VERDICT} "
            f"WHERE r.domain = {_DOMAIN_ID} AND r.source IN {_SOURCE_IDS} AND r.day BETWEEN ? AND ? "
            "GROUP BY 1, 2, 3, 4 ORDER BY n DESC, 1, 2, 3, 4 LIMIT ?",
            (domain, json.dumps(list(ips)), first_day, last_day, 100),
        )
        return [AuthUse(*r) for r in rows]
