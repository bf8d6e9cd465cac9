"""What changed: periods of whole UTC days, the period before, and sources first seen in a period.

Shared by the alert rules and the digest, so that "new sender" means the same in both. Everything is read
through the analysis library (``list_sources``, ``summarise``): no figure is computed twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from dmarcflow.analysis import Source, list_sources
from dmarcflow.config import ApprovedSenders
from dmarcflow.store import Store


@dataclass(frozen=True)
class Period:
    """UTC days first..last, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length that ends the day before this one begins."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def label(self) -> str:
        return self.first.isoformat() if self.days == 1 else f"{self.first.isoformat()} to {self.last.isoformat()}"

    def as_dict(self) -> dict[str, str]:
        return {"first_day": self.first.isoformat(), "last_day": self.last.isoformat()}


def period_ending(last: date, days: int) -> Period:
    return Period(last - timedelta(days=days - 1), last)


def source_key(source: Source) -> str:
    """What identifies a source across periods: its IP (IP view) or its sender name (sender view)."""
    return source.ip if source.ip is not None else source.sender


def new_sources(store: Store, domain: str, period: Period, approved: Mapping[str, ApprovedSenders],
                view: str = "ip") -> list[Source]:
    """Sources of the domain in the period that sent nothing as the domain before it, biggest first."""
    before = list_sources(store, domain, None, period.first - timedelta(days=1), approved, view=view)
    seen = {source_key(s) for s in before}
    return [s for s in list_sources(store, domain, period.first, period.last, approved, view=view)
            if source_key(s) not in seen]
