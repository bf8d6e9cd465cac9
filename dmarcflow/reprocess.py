"""Re-parse every stored report of every kind from what was kept (after a parser change)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dmarcflow.kinds.base import Reprocessed
from dmarcflow.kinds.registry import kinds
from dmarcflow.store import Store


@dataclass(frozen=True)
class ReprocessResult:
    reports: int  # over every kind
    records: int  # aggregate records, TLS policies, failure reports
    messages: int
    skipped: int  # reports with nothing kept to parse again (no raw XML)
    kinds: Mapping[str, Reprocessed] = field(default_factory=dict)  # each kind's own counts


def reprocess(store: Store) -> ReprocessResult:
    """Rewrite every kind's reports in one transaction: all or nothing.

    A report that no longer parses (a stricter check than when it was stored) stops the run with
    an error naming it, and nothing is changed.
    """
    with store.transaction():
        done = {kind.name: kind.reprocess(store) for kind in kinds()}
    return ReprocessResult(
        reports=sum(r.reports for r in done.values()), records=sum(r.records for r in done.values()),
        messages=sum(r.messages for r in done.values()), skipped=sum(r.skipped for r in done.values()), kinds=done,
    )
