"""The store's repositories give back the model's types: what was parsed is what is read (real SQLite files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmarcflow.errors import StoreError
from dmarcflow.ingest import Ingestor
from dmarcflow.models import IpFacts, Window
from dmarcflow.parse import parse_report
from dmarcflow.store import Store
from tests.conftest import SAMPLES

XML_SAMPLES = sorted(p.name for p in SAMPLES.glob("*.xml"))


@pytest.mark.parametrize("name", XML_SAMPLES)
def test_a_stored_report_reads_back_as_the_report_and_records_parsed(name: str, store: Store,
                                                                     ingestor: Ingestor) -> None:
    with (SAMPLES / name).open("rb") as fh:
        parsed = parse_report(fh)
        records = list(parsed.records)
    [outcome] = list(ingestor.ingest_file(str(SAMPLES / name)))
    assert (outcome.status, outcome.records) == ("ingested", len(records))
    [row] = store.reports.listing()
    detail = store.reports.detail(row.id)
    assert detail is not None
    assert detail.report == parsed.report
    stored = store.reports.records(row.id, 0, len(records) + 1)
    assert [s.position for s in stored] == list(range(len(records)))
    assert [s.record for s in stored] == records
    assert store.reports.records(row.id, 1, 2) == stored[1:3]  # a page from a position


def test_the_report_detail_keeps_the_page_fields(store: Store, ingestor: Ingestor) -> None:
    [outcome] = list(ingestor.ingest_file(str(SAMPLES / "mail.ru!example.net!1772582400!1772668799.xml")))
    assert outcome.status == "ingested"
    [row] = store.reports.listing()
    detail = store.reports.detail(row.id)
    assert detail is not None
    meta, policy = detail.report.metadata, detail.report.policy
    assert (detail.email, detail.extra_contact_info, detail.generator, detail.errors, detail.version) == (
        meta.email, meta.extra_contact_info, meta.generator, meta.errors, detail.report.version)
    assert detail.policy == {"adkim": policy.adkim, "aspf": policy.aspf, "p": policy.p, "sp": policy.sp, "np": policy.np,
                             "pct": policy.pct, "fo": policy.fo, "testing": policy.testing,
                             "discovery_method": policy.discovery_method}
    assert list(detail.policy) == ["adkim", "aspf", "p", "sp", "np", "pct", "fo", "testing", "discovery_method"]
    assert (detail.has_raw_xml, detail.conflicts) == (True, ())
    assert store.reports.detail(row.id + 1) is None


def test_ip_facts_are_saved_and_read_as_one_type(store: Store) -> None:
    facts = [IpFacts("192.0.2.1", "mx.example.net", "example.net", "NL", 64500, "Example AS", "example.net",
                     "example.net", None, True),
             IpFacts("2001:db8::1", sender="2001:db8::1")]
    with store.transaction():
        store.ip_facts.save(facts)
    assert store.ip_facts.facts_of(["2001:db8::1", "192.0.2.1", "192.0.2.99"]) == {f.ip: f for f in facts}
    assert store.ip_facts.known(["192.0.2.1", "2001:db8::1"], need_rdns=True) == {"192.0.2.1"}


def test_a_failed_read_is_a_store_error_in_plain_words(db_path: Path) -> None:
    with Store.open(db_path) as store:
        store.conn.execute("DROP TABLE daily_rollup")  # a damaged store, as a reader may meet one
        with pytest.raises(StoreError) as info:
            store.rollups.source_rows("example.com", Window())
        assert str(info.value) == f"the store at {db_path}: no such table: daily_rollup"
        with pytest.raises(StoreError) as info:
            store.series.every_domain_days(0, 1)
        assert str(info.value) == f"the store at {db_path}: no such table: daily_rollup"


def test_a_failed_read_in_a_command_is_one_line_and_exit_1(db_path: Path, cli) -> None:
    with Store.open(db_path) as store:
        store.conn.execute("DROP TABLE report_warnings")
    result = cli("--db", db_path, "reports")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1, "", f"Error: the store at {db_path}: no such table: report_warnings\n")
