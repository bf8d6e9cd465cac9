"""Budgets per input (bytes, members, parses, depth) and bounded memory for every XML shape.

Memory itself is measured by the benchmark (`python -m benchmarks --only hostile`), never asserted here;
these tests check the outcome each shape gets and the bounds the code keeps.
"""

from __future__ import annotations

import io

from benchmarks import hostile_shapes as shapes
from benchmarks.zips import overlapping_zip
from dmarcflow.config import Limits
from dmarcflow.ingest import Ingestor
from dmarcflow.parse import MAX_ELEMENT_BYTES, ReportParser
from tests.support.hostile import record, report, zip_of

GOOD = report()


def written(shape, size: int) -> bytes:
    buf = io.BytesIO()
    shape(buf, size)
    return buf.getvalue()


def test_a_zip_of_64_zips_of_64_reports_is_refused_without_a_single_parse(ingestor, store) -> None:
    data = written(shapes.zip_of_zips, 64)
    outcome = ingestor.ingest_bytes("zips.zip", data)
    assert (outcome.status, outcome.reason, outcome.reports) == ("rejected", "too_large", 0)
    assert len(outcome.payloads) == 64
    assert {p.message for p in outcome.payloads} == {"the input has more than 64 archive members and mail parts in all"}
    assert store.conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


def test_nested_archives_within_the_budget_are_all_read(ingestor) -> None:
    outcome = ingestor.ingest_bytes("zips.zip", written(shapes.zip_of_zips, 4))  # 4 + 16 members
    assert (outcome.status, outcome.reports, outcome.records) == ("ingested", 16, 16)


def test_overlapping_entries_are_refused(ingestor) -> None:
    outcome = ingestor.ingest_bytes("quine.zip", overlapping_zip(GOOD, 64))
    assert (outcome.status, outcome.reason, outcome.message) == (
        "rejected", "unreadable", "the zip archive's members overlap each other (a zip bomb)")


def test_many_directory_entries_are_refused_before_the_directory_is_read(ingestor) -> None:
    outcome = ingestor.ingest_bytes("dirs.zip", written(shapes.directory_entries, 65_000))
    assert (outcome.status, outcome.reason, outcome.message) == (
        "rejected", "too_large", "the zip archive has 65001 members, more than 64")
    outcome = ingestor.ingest_bytes("zip64-count.zip", written(shapes.directory_entries, 100_000))  # the count says "see zip64"
    assert (outcome.status, outcome.reason, outcome.message) == (
        "rejected", "too_large", "the zip archive's directory has 5288941 bytes, more than 64 members need")


def test_decompressed_bytes_are_counted_over_the_whole_input(store, offline_enricher) -> None:
    padded = [report(record() + " " * 400_000, report_id=f"p{i}").replace(b"  ", b" \n", 10) for i in range(4)]
    data = zip_of([(f"r{i}.xml", x) for i, x in enumerate(padded)])
    outcome = Ingestor(store, offline_enricher, Limits(max_total_bytes=1_000_000)).ingest_bytes("big.zip", data)
    assert [(p.status, p.reason) for p in outcome.payloads] == [
        ("ingested", None), ("ingested", None), ("rejected", "too_large"), ("rejected", "too_large")]
    assert outcome.payloads[2].message == "the input decompresses to more than 1000000 bytes in all"


def test_a_report_read_twice_is_charged_once(store, offline_enricher) -> None:
    ingestor = Ingestor(store, offline_enricher, Limits(max_total_bytes=1_000_000))
    first = report(record(count="1") + " " * 600_000)
    second = report(record(count="2") + " " * 600_000)  # same identity, other records: compared, then stored again
    assert ingestor.ingest_bytes("a.zip", zip_of([("r.xml", first)])).status == "ingested"
    outcome = ingestor.ingest_bytes("b.zip", zip_of([("r.xml", second)]))
    assert (outcome.status, outcome.reason) == ("conflict", None)


def test_member_and_depth_budgets_are_per_input(store, offline_enricher) -> None:
    ingestor = Ingestor(store, offline_enricher, Limits(max_members=3))
    three = zip_of([(f"r{i}.xml", report(report_id=f"t{i}")) for i in range(3)])
    assert ingestor.ingest_bytes("three.zip", three).reports == 3
    nested = zip_of([("a.zip", zip_of([("r.xml", report(report_id="n1"))])), ("b.zip", zip_of([("r.xml", GOOD)]))])
    outcome = ingestor.ingest_bytes("nested.zip", nested)  # 2 + 1 + 1 members
    assert [(p.name, p.status) for p in outcome.payloads] == [
        ("nested.zip!a.zip!r.xml", "ingested"), ("nested.zip!b.zip", "rejected")]


def test_empty_non_record_elements_are_freed_and_the_report_read(ingestor) -> None:
    outcome = ingestor.ingest_bytes("flood.xml", written(shapes.empty_elements, 5))
    assert (outcome.status, outcome.records, outcome.messages) == ("ingested", 1, 1)


def test_one_element_larger_than_the_bound_is_refused(ingestor) -> None:
    huge = record().replace("<row>", "<row><x>" + "<a/>" * (MAX_ELEMENT_BYTES // 4) + "</x>", 1)
    outcome = ingestor.ingest_bytes("huge.xml", report(huge))
    assert (outcome.status, outcome.reason, outcome.message) == (
        "rejected", "too_large", f"one element of the report spans more than {MAX_ELEMENT_BYTES} bytes of XML")


def test_parser_caches_are_owned_by_the_parser_and_bounded() -> None:
    parser = ReportParser()
    parsed = parser.parse(io.BytesIO(written(shapes.distinct_auth, 5000)))
    assert sum(1 for _ in parsed.records) == 5000
    assert len(parser._memos.auth) == 1  # the one SPF result; each DKIM result has a long human_result: not kept
    parser = ReportParser()
    body = "".join(record(ip=f"192.0.2.{i % 250}").replace("s1", f"sel{i}") for i in range(5000))
    assert sum(1 for _ in parser.parse(io.BytesIO(report(body))).records) == 5000
    assert len(parser._memos.auth) == 4096
    assert len(ReportParser()._memos.auth) == 0  # nothing shared between parsers


def test_rollup_and_enrichment_of_many_distinct_ips_match_the_records(ingestor, store) -> None:
    ips = [shapes.ipv4(i) for i in range(12_000)]
    body = "".join(record(ip=ip, count="2") for ip in ips) + "".join(record(ip=ip, count="3") for ip in ips)
    outcome = ingestor.ingest_bytes("campaign.xml", report(body))
    assert (outcome.status, outcome.records, outcome.messages) == ("ingested", 24_000, 60_000)
    rollup = store.conn.execute("SELECT count(*), sum(messages), sum(records), min(messages), max(messages) FROM daily_sources")
    assert rollup.fetchone() == (12_000, 60_000, 24_000, 5, 5)
    assert store.conn.execute("SELECT count(*) FROM ip_info").fetchone()[0] == 12_000
