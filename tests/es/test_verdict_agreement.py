"""The verdict rules both summary backends group by are dmarcflow.verdict's: the store's rollup and the index
documents hold exactly what its functions give for every stored record (real SQLite store, no engine needed)."""

from __future__ import annotations

from dmarcflow import verdict
from dmarcflow.index import outbox
from dmarcflow.index.document import to_document
from dmarcflow.models import Record
from dmarcflow.store import Store


def _stored(store: Store) -> dict[tuple[str, str, str, int], Record]:
    out = {}
    for row in store.reports.listing():
        for stored in store.reports.records(row.id, 0, row.records):
            out[(row.org_name, row.report_id, row.status, stored.position)] = stored.record
    return out


def _rules(record: Record) -> tuple[str, str, str]:
    a = record.alignment
    return (verdict.shown_result(record.dkim, a.dkim_domain), verdict.shown_result(record.spf, a.spf_domain),
            verdict.reasons_key(record.reasons))


def test_index_documents_carry_the_verdict_rules_results(seeded_store: Store) -> None:
    records = _stored(seeded_store)
    docs = {}
    for row in outbox.pending(seeded_store, "t", 0, 100_000):
        dmarc = to_document(row)["dmarc"]
        docs[(row.report.org_name, row.report.report_id, row.report.status, row.position)] = (
            dmarc["auth_summary"]["dkim"], dmarc["auth_summary"]["spf"], dmarc["policy_evaluated"]["reasons_key"])
    assert len(docs) == len(records) == 624
    assert docs == {key: _rules(record) for key, record in records.items()}


def test_the_rollup_carries_the_verdict_rules_results(seeded_store: Store) -> None:
    expected = {(r.source_ip, *_rules(r)) for (_, _, status, _), r in _stored(seeded_store).items() if status == "active"}
    stored = set(seeded_store.conn.execute("SELECT source_ip, dkim_result, spf_result, reasons FROM daily_sources"))
    assert stored == expected
    assert any(key[3] for key in expected)  # some records carry override reasons
    assert any(verdict.forwarded_by_override(key[3]) for key in expected)
