"""Per-day figures and a source's facts, read from the rollups (never from the records table).

Days are UTC day numbers (days since 1970-01-01) as ``daily_sources.day`` stores them; a range is
``first_day..last_day``, both included. Every query here is an equality on ``domain`` and a range on
``day`` (the rollup's primary key, read in its order: no sort), or an equality on ``domain`` and
``source_ip`` (its covering index ``daily_sources_by_source``). Who reported a source: ``store.reports``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dmarcflow.models import SOURCE_CLASSES
from dmarcflow.store.reports import ReporterUse
from dmarcflow.store.repository import Repository

__all__ = ["AuthUse", "DayFigures", "ReporterUse", "SeriesRepository"]

_CLASS_SUMS = ", ".join(f"SUM(CASE class WHEN '{k}' THEN messages ELSE 0 END)" for k in SOURCE_CLASSES)
_DAY_FIGURES = f"day, SUM(messages), SUM(messages * dmarc_pass), {_CLASS_SUMS}"


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
            f"SELECT {_DAY_FIGURES} FROM daily_sources WHERE domain = ? AND day BETWEEN ? AND ? GROUP BY day",
            (domain, first_day, last_day),
        )
        return [_day(r) for r in rows]

    def every_domain_days(self, first_day: int, last_day: int) -> dict[str, list[DayFigures]]:
        """Domain -> its days with messages, for all domains at once (one pass in primary-key order)."""
        rows = self._rows(
            f"SELECT domain, {_DAY_FIGURES} FROM daily_sources WHERE day BETWEEN ? AND ? GROUP BY domain, day",
            (first_day, last_day),
        )
        out: dict[str, list[DayFigures]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(_day(row[1:]))
        return out

    def source_days(self, domain: str, ips: Sequence[str], first_day: int, last_day: int) -> list[DayFigures]:
        """The days of these IPs (one source, or the IPs of one sender) sending as the domain."""
        rows = self._rows(
            f"SELECT {_DAY_FIGURES} FROM daily_sources INDEXED BY daily_sources_by_source "
            "WHERE domain = ? AND source_ip IN (SELECT value FROM json_each(?)) AND day BETWEEN ? AND ? "
            "GROUP BY day ORDER BY day",
            (domain, json.dumps(list(ips)), first_day, last_day),
        )
        return [_day(r) for r in rows]

    def source_auth(self, domain: str, ips: Sequence[str], first_day: int, last_day: int) -> list[AuthUse]:
        """The DKIM and SPF domains and results these IPs showed, biggest first."""
        rows = self._rows(
            "SELECT dkim_domain, dkim_result, spf_domain, spf_result, SUM(messages) AS n "
            "FROM daily_sources INDEXED BY daily_sources_by_source "
            "WHERE domain = ? AND source_ip IN (SELECT value FROM json_each(?)) AND day BETWEEN ? AND ? "
            "GROUP BY dkim_domain, dkim_result, spf_domain, spf_result ORDER BY n DESC, 1, 2, 3, 4 LIMIT ?",
            (domain, json.dumps(list(ips)), first_day, last_day, 100),
        )
        return [AuthUse(*r) for r in rows]
