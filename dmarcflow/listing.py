"""Read-only listings of what the store holds: reports and rejected inputs (the SQL is in store/)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from dmarcflow.kinds.registry import NAMES, kinds
from dmarcflow.store import RejectedRow, Store

if TYPE_CHECKING:
    from dmarcflow.store.browse import ReportFilter, ReportRow

__all__ = ["REPORT_STATUSES", "RejectedRow", "list_rejected", "list_reports", "rejected_raw",
           "report_filter"]

REPORT_STATUSES = ("active", "conflict")


def report_filter(domain: str | None = None, since: date | None = None, until: date | None = None,
                  status: str | None = None) -> ReportFilter:
    """Reports of a policy domain and status whose begin falls on a UTC day in [since, until]."""
    # Imported here: the analysis package is more than `ingest` (which imports this module) needs.
    from dmarcflow.analysis.window import check_order, window_of
    from dmarcflow.store.browse import ReportFilter  # here too: ingest (which imports this module) never lists

    check_order(since, until)
    if status is not None and status not in REPORT_STATUSES:
        raise ValueError(f"status must be one of {REPORT_STATUSES}, not {status!r}")
    window = window_of(since, until)
    return ReportFilter(
        domain=domain.strip().lower().rstrip(".") if domain else None, status=status,
        begin_ts=window.begin_ts if since else None, end_ts=window.end_ts if until else None,
    )


def list_reports(store: Store, domain: str | None = None, since: date | None = None, until: date | None = None,
                 status: str | None = None, *, limit: int | None = None, offset: int = 0,
                 kind: str | None = None) -> list[ReportRow]:
    """Stored reports of every kind (or of ``kind``), oldest first; ``limit``/``offset`` page through them.

    When several kinds have reports, their rows are merged by begin time (then kind, then id).
    """
    where = report_filter(domain, since, until, status)
    chosen = [k for k in kinds() if kind is None or k.name == kind]
    if kind is not None and not chosen:
        raise ValueError(f"kind must be one of {NAMES}, not {kind!r}")
    with_rows = [k for k in chosen if k.list_reports(store, where, limit=1)]
    if len(with_rows) <= 1:  # one kind pages itself (aggregate reports in SQL)
        return with_rows[0].list_reports(store, where, limit=limit, offset=offset) if with_rows else []
    merged = sorted((row for k in with_rows for row in k.list_reports(store, where)),
                    key=lambda r: (r.begin, NAMES.index(r.kind), r.id))
    return merged[offset:offset + limit if limit is not None else None]


def list_rejected(store: Store, *, limit: int | None = None, offset: int = 0) -> list[RejectedRow]:
    return store.rejected_inputs(limit=limit, offset=offset)


def rejected_raw(store: Store, rejected_id: int) -> bytes | None:
    return store.rejected_raw(rejected_id)
