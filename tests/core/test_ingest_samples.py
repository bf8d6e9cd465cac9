"""Every sample report ingests with the known counts, and agrees with parsedmarc."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLES

EXPECTED = json.loads((SAMPLES.parent / "tests" / "data" / "sample_reports_expected.json").read_text())["files"]
SAMPLE_FILES = sorted(EXPECTED)
# parsedmarc reads only the first member of a zip and does not detect nested compression, and it
# refuses or misreads six of the quirk samples (measured with parsedmarc 11.1; see
# docs/sample_reports.md). Our own truth still applies to them.
PARSEDMARC_MISREADS = {
    "kestrel-net.de!two-reports.zip",
    "yahoo.com!example.net!1773014400!1773100799.xml.gz",
    "enterprise.protection.outlook.com!example.org!1773100800!1773187199.zip",
    "quirks/bare-zlib.xml.z",
    "quirks/bom-before-from.mbox",
    "quirks/org-name-missing.eml",
    "quirks/utf-16-bom.xml",
    "quirks/whitespace-before-declaration.xml",
    "quirks/windows-1252-2012.xml",
}


def totals(outcomes, with_warnings=False):
    counts = {
        "reports": sum(o.reports for o in outcomes),
        "records": sum(o.records for o in outcomes),
        "messages": sum(o.messages for o in outcomes),
    }
    if with_warnings:
        counts["warnings"] = sorted({w for o in outcomes for w in o.warnings})
    return counts


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_ingests_with_known_counts(name, ingestor, store):
    outcomes = list(ingestor.ingest_file(str(SAMPLES / name)))
    assert {o.status for o in outcomes} == {"ingested"}
    assert totals(outcomes, with_warnings=True) == EXPECTED[name]
    stored = store.conn.execute("SELECT count(*), coalesce(sum(message_count), 0) FROM reports").fetchone()
    assert stored == (EXPECTED[name]["reports"], EXPECTED[name]["messages"])
    assert store.conn.execute("SELECT sum(messages) FROM daily_sources").fetchone()[0] == EXPECTED[name]["messages"]


def _parsedmarc_counts(path):
    import parsedmarc

    if path.suffix == ".mbox":
        results = parsedmarc.get_dmarc_reports_from_mbox(str(path), offline=True)
        reports = results["aggregate_reports"]
    else:
        parsed = parsedmarc.parse_report_file(str(path), offline=True)
        reports = [parsed["report"]] if parsed["report_type"] == "aggregate" else []
    records = [r for rep in reports for r in rep["records"]]
    return {"reports": len(reports), "records": len(records), "messages": sum(r["count"] for r in records)}


@pytest.mark.parametrize("name", [n for n in SAMPLE_FILES if n not in PARSEDMARC_MISREADS])
def test_counts_equal_parsedmarc(name, ingestor):
    ours = totals(list(ingestor.ingest_file(str(SAMPLES / name))))
    assert ours == _parsedmarc_counts(SAMPLES / name)


def test_whole_folder_twice_only_duplicates(ingestor, store):
    first = [o for f in SAMPLE_FILES for o in ingestor.ingest_file(str(SAMPLES / f))]
    before = store.conn.execute("SELECT count(*), sum(message_count) FROM reports").fetchone()
    rollup_before = store.conn.execute("SELECT sum(messages), count(*) FROM daily_sources").fetchone()
    second = [o for f in SAMPLE_FILES for o in ingestor.ingest_file(str(SAMPLES / f))]
    assert {o.status for o in first} == {"ingested"}
    assert {o.status for o in second} == {"duplicate"}
    assert store.conn.execute("SELECT count(*), sum(message_count) FROM reports").fetchone() == before
    assert store.conn.execute("SELECT sum(messages), count(*) FROM daily_sources").fetchone() == rollup_before
    expected_messages = sum(v["messages"] for v in EXPECTED.values())
    assert store.conn.execute("SELECT count(DISTINCT report) FROM report_warnings").fetchone()[0] == sum(
        v["reports"] for v in EXPECTED.values() if v["warnings"])
    assert before == (sum(v["reports"] for v in EXPECTED.values()), expected_messages)


def test_same_identity_different_records_is_a_kept_conflict(ingestor, store):
    from tests.support.report_xml import record, report

    first = ingestor.ingest_bytes("a.xml", report(record(count="3")))
    second = ingestor.ingest_bytes("b.xml", report(record(count="4")))
    third = ingestor.ingest_bytes("c.xml", report(record(count="4")))
    assert (first.status, second.status, third.status) == ("ingested", "conflict", "duplicate")
    rows = store.conn.execute("SELECT id, status, conflict_of, message_count FROM reports ORDER BY id").fetchall()
    assert rows == [(1, "active", None, 3), (2, "conflict", 1, 4)]
    # the conflicting version is kept but does not count twice in summaries
    assert store.conn.execute("SELECT sum(messages) FROM daily_sources").fetchone()[0] == 3


def test_raw_xml_is_kept_compressed_and_reprocess_rebuilds(ingestor, store):
    from dmarcflow.reprocess import reprocess

    for f in SAMPLE_FILES:
        list(ingestor.ingest_file(str(SAMPLES / f)))
    rollup = store.conn.execute("SELECT * FROM daily_sources ORDER BY 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16").fetchall()
    records = store.conn.execute("SELECT report, position, source_ip, count, class FROM records ORDER BY id").fetchall()
    result = reprocess(store)
    assert (result.reports, result.skipped) == (sum(v["reports"] for v in EXPECTED.values()), 0)
    assert result.messages == sum(v["messages"] for v in EXPECTED.values())
    assert store.conn.execute("SELECT * FROM daily_sources ORDER BY 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16").fetchall() == rollup
    assert store.conn.execute("SELECT report, position, source_ip, count, class FROM records ORDER BY report, position").fetchall() == sorted(records)
