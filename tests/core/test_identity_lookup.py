"""The identity lookup of every stored report runs on the identity index (issue 16).

Without it SQLite plans the lookup on ``reports_domain_time (domain, begin_ts)`` and scans every report of
that domain and day, so a large sender's reports cost more the more of them share a day. The plan is read
with EXPLAIN QUERY PLAN on the statement the store runs (caught with a trace callback), in a store where
200 reports share one domain and day.
"""

from __future__ import annotations

from dmarcflow.ingest import Ingestor
from dmarcflow.parse import parse_report
from dmarcflow.store import Store
from tests.support.report_xml import report

SHARING = 200


def _fill(ingestor: Ingestor) -> None:
    for n in range(SHARING):
        outcome = ingestor.ingest_bytes(f"r{n}.xml", report(org=f"receiver{n % 20}.example", report_id=f"id-{n}"))
        assert (n, outcome.status) == (n, "ingested")


def _traced_lookup(store: Store, xml: bytes) -> tuple[list[str], list[tuple[int, str, str]]]:
    import io

    parsed = parse_report(io.BytesIO(xml))
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        found = store.find_identity(parsed.report)
    finally:
        store.conn.set_trace_callback(None)
    return statements, [(e.pk, e.status, e.records_hash[:8]) for e in found]


def test_identity_lookup_plan_is_the_identity_index(store: Store, ingestor: Ingestor) -> None:
    _fill(ingestor)
    statements, found = _traced_lookup(store, report(org="receiver7.example", report_id="id-107"))
    assert len(statements) == 1
    assert len(found) == 1 and found[0][:2] == (108, "active")
    sql = statements[0]
    args = ("receiver7.example", "id-107", "example.com", 1772323200, 1772409599)
    template = sql
    for value in args:  # the trace shows the statement with its values bound in
        literal = f"'{value}'" if isinstance(value, str) else str(value)
        assert literal in template
        template = template.replace(literal, "?", 1)
    plan = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + template, args)]
    assert plan[0] == ("SEARCH reports USING INDEX reports_identity "
                       "(org_name=? AND report_id=? AND domain=? AND begin_ts=? AND end_ts=?)")


def test_identity_lookup_finds_nothing_for_a_new_report_and_both_versions_of_a_conflict(
        store: Store, ingestor: Ingestor) -> None:
    _fill(ingestor)
    _, found = _traced_lookup(store, report(org="receiver7.example", report_id="id-new"))
    assert found == []
    changed = report(org="receiver3.example", report_id="id-3",
                     records=report().decode().split("</policy_published>")[1].split("</feedback>")[0]
                     .replace("<count>3</count>", "<count>4</count>"))
    assert ingestor.ingest_bytes("changed.xml", changed).status == "conflict"
    _, found = _traced_lookup(store, changed)
    assert [(pk, status) for pk, status, _ in found] == [(4, "active"), (SHARING + 1, "conflict")]
