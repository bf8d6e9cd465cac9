"""The time window of a summary: whole UTC days, as the rollup stores them.

A report belongs to the UTC day its interval begins on (``daily_sources.day``
= begin // 86400), so a window is a range of day numbers (days since
1970-01-01), both ends inclusive, and a report counts when its begin falls in it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from dmarcflow.models import Window

__all__ = ["Window", "WindowError", "check_order", "parse_day", "parse_since", "parse_until", "window_of"]

_RELATIVE = re.compile(r"^(\d{1,5})([dw])$")
_EPOCH = date(1970, 1, 1).toordinal()
_LAST_DAY = Window().last_day


class WindowError(ValueError):
    """A --since / --until value that cannot be read."""


def window_of(since: date | None, until: date | None) -> Window:
    first = since.toordinal() - _EPOCH if since else 0
    last = until.toordinal() - _EPOCH if until else _LAST_DAY
    return Window(max(0, first), min(_LAST_DAY, last))


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"{option}: {text!r} is not a date (use YYYY-MM-DD, UTC)") from None


def parse_since(text: str | None, now: datetime | None = None) -> date | None:
    """``30d`` / ``2w`` back from today (UTC), or ``YYYY-MM-DD``; None: from the beginning."""
    if text is None:
        return None
    match = _RELATIVE.match(text.strip().lower())
    if match:
        today = (now or datetime.now(UTC)).astimezone(UTC).date()
        return today - timedelta(days=int(match.group(1)) * (7 if match.group(2) == "w" else 1))
    if text.strip().isdigit():
        raise WindowError(f"--since: {text!r} needs a unit (e.g. 30d or 2w) or a date (YYYY-MM-DD)")
    return parse_day(text, "--since")


def parse_until(text: str | None) -> date | None:
    return None if text is None else parse_day(text, "--until")


def check_order(since: date | None, until: date | None) -> None:
    if since and until and until < since:
        raise WindowError(f"--until {until.isoformat()} is before --since {since.isoformat()}")
