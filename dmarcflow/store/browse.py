"""0.1 home of the report listings, now ``store.reports`` (``ReportRepository``); kept for its callers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dmarcflow.store.reports import ReportDetail, ReportFilter, ReportRow, StoredRecord

if TYPE_CHECKING:
    from dmarcflow.store.sqlite import Store

__all__ = ["ReportDetail", "ReportFilter", "ReportRow", "StoredRecord", "count_reports", "list_reports",
           "report_detail", "report_domains", "report_records"]


def list_reports(store: Store, where: ReportFilter = ReportFilter(), *, limit: int | None = None, offset: int = 0,
                 newest_first: bool = False) -> list[ReportRow]:
    return store.reports.listing(where, limit=limit, offset=offset, newest_first=newest_first)


def count_reports(store: Store, where: ReportFilter = ReportFilter()) -> int:
    return store.reports.count(where)


def report_domains(store: Store) -> list[str]:
    return store.reports.domains()


def report_detail(store: Store, pk: int) -> ReportDetail | None:
    return store.reports.detail(pk)


def report_records(store: Store, pk: int, first_position: int, limit: int) -> list[StoredRecord]:
    return store.reports.records(pk, first_position, limit)
