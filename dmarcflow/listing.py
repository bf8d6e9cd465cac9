"""Read-only listings of what the store holds: reports and rejected inputs (the SQL is in store/)."""

from __future__ import annotations

from datetime import date

from dmarcflow.analysis.window import check_order, window_of
from dmarcflow.store import RejectedRow, Store, browse
from dmarcflow.store.browse import ReportFilter, ReportRow

__all__ = ["REPORT_STATUSES", "RejectedRow", "ReportRow", "list_rejected", "list_reports", "rejected_raw",
           "report_filter"]

REPORT_STATUSES = ("active", "conflict")


def report_filter(domain: str | None = None, since: date | None = None, until: date | None = None,
                  status: str | None = None) -> ReportFilter:
    """Reports of a policy domain and status whose begin falls on a UTC day in [since, until]."""
    check_order(since, until)
    if status is not None and status not in REPORT_STATUSES:
        raise ValueError(f"status must be one of {REPORT_STATUSES}, not {status!r}")
    window = window_of(since, until)
    return ReportFilter(
        domain=domain.strip().lower().rstrip(".") if domain else None, status=status,
        begin_ts=window.begin_ts if since else None, end_ts=window.end_ts if until else None,
    )


def list_reports(store: Store, domain: str | None = None, since: date | None = None, until: date | None = None,
                 status: str | None = None, *, limit: int | None = None, offset: int = 0) -> list[ReportRow]:
    """Stored reports, oldest first; ``limit``/``offset`` page through them."""
    return browse.list_reports(store, report_filter(domain, since, until, status), limit=limit, offset=offset)


def list_rejected(store: Store, *, limit: int | None = None, offset: int = 0) -> list[RejectedRow]:
    return store.rejected_inputs(limit=limit, offset=offset)


def rejected_raw(store: Store, rejected_id: int) -> bytes | None:
    return store.rejected_raw(rejected_id)
