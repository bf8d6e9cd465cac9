"""Re-parse every stored report from its kept raw XML (after a parser change)."""

from __future__ import annotations

from dataclasses import dataclass

from dmarcflow.errors import InputError, StoreError
from dmarcflow.parse import parse_report
from dmarcflow.store import Store


@dataclass(frozen=True)
class ReprocessResult:
    reports: int
    records: int
    messages: int
    skipped: int  # reports with no raw XML kept


def reprocess(store: Store) -> ReprocessResult:
    """Rewrite records and rollups of all reports in one transaction: all or nothing.

    A report that no longer parses (a stricter check than when it was stored) stops the run with
    an error naming it, and nothing is changed.
    """
    reports = records = messages = skipped = 0
    with store.transaction() as conn:
        conn.execute("DELETE FROM daily_sources")
        for pk, status, org in conn.execute("SELECT id, status, org_name FROM reports ORDER BY id").fetchall():
            stream = store.open_raw_xml(pk)
            if stream is None:
                skipped += 1
                continue
            with stream:
                try:
                    # The stored org_name stands in again for a report that had none of its own.
                    parsed = parse_report(stream, sender_domain=org)
                    conn.execute("DELETE FROM records WHERE report = ?", (pk,))
                    stored = store.rewrite_records(pk, parsed.report, parsed.records, rollup=(status == "active"))
                except InputError as exc:
                    raise StoreError(f"reprocess: report {pk} no longer reads ({exc.reason}: {exc.message}); nothing was changed") from None
            reports += 1
            records += stored.records
            messages += stored.messages
    return ReprocessResult(reports, records, messages, skipped)
