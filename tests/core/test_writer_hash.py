"""The records hash the writer computes while it stores a report is the one ``hash_records`` computes from the
rows (the repr of each row after report and position): the writer writes the verdict's part of that text once
per verdict, so any value whose repr could differ from its part in a tuple's repr would show here."""

from __future__ import annotations

import io
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from dmarcflow.models import Alignment, DkimResult, OverrideReason, PolicyPublished, Record, Report, ReportMetadata, SpfResult
from dmarcflow.store import Store
from dmarcflow.store.record_writer import hash_records
from dmarcflow.store.rollup_ids import RollupIds
from dmarcflow.utc import parse_iso

# no NUL: XML cannot carry one, and the rollup's names are looked up through JSON, where SQLite ends text at it
TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12) | st.sampled_from(
    ["", "'", '"', "\\", "a'b\"c", "\u2028"])
MAYBE = st.none() | TEXT
RECORDS = st.builds(
    Record,
    source_ip=TEXT, count=st.integers(0, 2**40), disposition=TEXT, dkim_evaluated=TEXT, spf_evaluated=TEXT,
    header_from=TEXT, envelope_from=MAYBE, envelope_to=MAYBE,
    reasons=st.lists(st.builds(OverrideReason, TEXT, MAYBE), max_size=2).map(tuple),
    dkim=st.lists(st.builds(DkimResult, TEXT, MAYBE, TEXT, MAYBE), max_size=2).map(tuple),
    spf=st.lists(st.builds(SpfResult, TEXT, TEXT, TEXT, MAYBE), max_size=2).map(tuple),
    alignment=st.builds(Alignment, st.booleans(), st.booleans(), MAYBE, MAYBE), source_class=TEXT,
)
REPORT = Report(ReportMetadata("org", None, None, "id-1", parse_iso("2024-01-01T00:00:00Z"),
                               parse_iso("2024-01-01T23:59:59Z")), PolicyPublished("example.com"), "rfc7489", None, None)


# a few distinct records, repeated: a verdict's cached text is used again
@settings(max_examples=60, deadline=None)
@given(records=st.lists(RECORDS, min_size=1, max_size=6).flatmap(lambda some: st.lists(st.sampled_from(some),
                                                                                        min_size=1, max_size=12)))
def test_the_stored_records_hash_is_the_hash_of_the_rows(records: list[Record]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp, "store.sqlite")
        with Store.open(db) as store, store.transaction():
            stored = store.write_report(REPORT, records, status="active", conflict_of=None, source="x",
                                        raw_xml=lambda: io.BytesIO(b"raw"))
        with sqlite3.connect(db) as conn:
            digest = conn.execute("SELECT records_hash FROM reports WHERE id = ?", (stored.report_pk,)).fetchone()[0]
    assert digest == hash_records(records)[0]


def test_new_names_get_ids_in_text_order(tmp_path: Path) -> None:
    """Then the rollup's rows, merged in id order, reach domain_sources (keyed by the text) in its key order."""
    with Store.open(tmp_path / "store.sqlite") as store, store.transaction() as conn:
        names = ["203.0.113.9", "192.0.2.1", "example.com", "2001:db8::1", "198.51.100.20", "198.51.100.3"]
        ids = RollupIds().names(conn, set(names))
    assert sorted(names, key=ids.__getitem__) == sorted(names)
