"""The verdict rules both summary backends group by are dmarcflow.verdict's: the store's rollup and the index
documents hold exactly what its functions give for every stored record (real SQLite store, no engine needed)."""

from __future__ import annotations

from dmarcflow import verdict
from dmarcflow.index import outbox
from dmarcflow.index.document import to_document
from dmarcflow.models import Record, SourceRow
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


def test_index_documents_explain_a_verdict_in_the_cli_words(seeded_store: Store) -> None:
    """The explanation a Kibana table shows is the one `summary` and `senders` print for the same verdict."""
    records = _stored(seeded_store)
    explained, policies = {}, {}
    for row in outbox.pending(seeded_store, "t", 0, 100_000):
        key = (row.report.org_name, row.report.report_id, row.report.status, row.position)
        explained[key] = to_document(row)["dmarc"]["explanation"]
        policies[key] = (row.report.adkim, row.report.aspf)  # the report's alignment modes, as stored
    expected = {}
    for key, record in records.items():
        a = record.alignment
        dkim, spf, reasons = _rules(record)
        row = SourceRow(record.source_ip, record.source_class, record.header_from, int(record.dmarc_pass),
                        int(a.dkim), int(a.spf), a.dkim_domain or "", a.spf_domain or "", dkim, spf, reasons, 1)
        adkim, aspf = policies[key]
        expected[key] = verdict.explain_modes(row, record.source_class, adkim or "r", aspf or "r")
    assert len(explained) == 624
    assert explained == expected
    assert {text.split(":")[0] for text in explained.values()} >= {"DMARC passes", "forwarded", "nothing passes"}
