"""Re-parse every stored report from its kept raw XML (after a parser change)."""

from __future__ import annotations

from dataclasses import dataclass

from dmarcflow.parse import parse_report
from dmarcflow.store import Store


@dataclass(frozen=True)
class ReprocessResult:
    reports: int
    records: int
    messages: int
    skipped: int  # reports with no raw XML kept


def reprocess(store: Store) -> ReprocessResult:
    """Rewrite records and rollups of all reports in one transaction: all or nothing."""
    reports = records = messages = skipped = 0
    with store.transaction() as conn:
        conn.execute("DELETE FROM daily_sources")
        for pk, status in conn.execute("SELECT id, status FROM reports ORDER BY id").fetchall():
            stream = store.open_raw_xml(pk)
            if stream is None:
                skipped += 1
                continue
            with stream:
                parsed = parse_report(stream)
                conn.execute("DELETE FROM records WHERE report = ?", (pk,))
                stored = store.rewrite_records(pk, parsed.report, parsed.records, rollup=(status == "active"))
            reports += 1
            records += stored.records
            messages += stored.messages
    return ReprocessResult(reports, records, messages, skipped)
