"""The ingest, reports, rejected and reprocess commands, end to end on a real SQLite file."""

from __future__ import annotations

import json

from tests.conftest import SAMPLES
from tests.support.report_xml import record, report

EXPECTED = json.loads((SAMPLES.parent / "tests" / "data" / "sample_reports_expected.json").read_text())["files"]


def test_ingest_json_contract_and_exit_code(cli, db_path, tmp_path):
    good = tmp_path / "good.xml"
    good.write_bytes(report())
    result = cli("--db", db_path, "ingest", "--offline", "--format", "json", good)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"path": str(good), "kind": "aggregate", "status": "ingested", "reason": None, "message": None, "reports": 1,
         "records": 1, "messages": 3, "warnings": [], "skipped": []}
    ]


def test_ingest_sample_folder_then_again(cli, db_path):
    first = cli("--db", db_path, "ingest", "--offline", "--format", "json", SAMPLES)
    assert first.exit_code == 0
    rows = json.loads(first.stdout)
    assert {r["status"] for r in rows} == {"ingested"}
    assert sum(r["messages"] for r in rows) == sum(v["messages"] for v in EXPECTED.values())
    # mbox messages are inputs of their own (three-reports.mbox and quirks/bom-before-from.mbox)
    assert len([r for r in rows if ".mbox:" in r["path"]]) == 5
    second = cli("--db", db_path, "ingest", "--offline", "--format", "json", SAMPLES)
    assert {r["status"] for r in json.loads(second.stdout)} == {"duplicate"}
    assert second.exit_code == 0


def test_rejected_input_exit_1_summary_and_listing(cli, db_path, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.xml").write_bytes(report())
    (tmp_path / "in" / "bad.xml").write_bytes(report(record(count="lots"), report_id="x"))
    result = cli("--db", db_path, "ingest", "--offline", tmp_path / "in")
    assert result.exit_code == 1
    assert "2 input(s): 1 ingested, 1 rejected; 3 new message(s) stored (see `dmarcflow rejected` for the reasons)" in result.stderr
    listing = cli("--db", db_path, "rejected", "--format", "json")
    rows = json.loads(listing.stdout)
    assert [(r["input"].endswith("bad.xml"), r["reason"]) for r in rows] == [(True, "invalid_value")]
    out = tmp_path / "kept.xml"
    saved = cli("--db", db_path, "rejected", "--save", rows[0]["id"], "--output", out)
    assert saved.exit_code == 0
    assert out.read_bytes() == (tmp_path / "in" / "bad.xml").read_bytes()


def test_reports_listing_filters_by_domain(cli, db_path, tmp_path):
    (tmp_path / "a.xml").write_bytes(report(domain="example.com"))
    (tmp_path / "b.xml").write_bytes(report(domain="example.org", report_id="r-2", records=record(header_from="example.org")))
    cli("--db", db_path, "ingest", "--offline", tmp_path)
    rows = json.loads(cli("--db", db_path, "reports", "--domain", "Example.ORG", "--format", "json").stdout)
    assert [(r["domain"], r["report_id"], r["messages"], r["begin"]) for r in rows] == [
        ("example.org", "r-2", 3, "2026-03-01T00:00:00Z")
    ]
    table = cli("--db", db_path, "reports").stdout.splitlines()
    assert table[0].split() == ["id", "org_name", "domain", "begin", "records", "messages", "status"]
    assert len(table) == 4


def test_db_from_environment(cli, db_path, tmp_path, monkeypatch):
    (tmp_path / "a.xml").write_bytes(report())
    monkeypatch.setenv("DMARCFLOW_DB", str(db_path))
    assert cli("ingest", "--offline", tmp_path / "a.xml").exit_code == 0
    assert db_path.exists()


def test_usage_and_config_errors_exit_2(cli, tmp_path):
    assert cli("ingest").exit_code == 2
    assert cli("ingest", tmp_path / "missing.xml").exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\npath = 3\n")
    result = cli("--config", bad, "ingest", "--offline", SAMPLES)
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: configuration: store.path: expected a string, got 3"


def test_reprocess_command(cli, db_path):
    cli("--db", db_path, "ingest", "--offline", SAMPLES)
    result = cli("--db", db_path, "reprocess")
    total = EXPECTED.values()
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        f"reprocessed {sum(v['reports'] for v in total)} report(s): {sum(v['records'] for v in total)} records, "
        f"{sum(v['messages'] for v in total)} messages\n"
        # sample_reports/tls and sample_reports/failure (tests/kinds/ checks those samples one by one)
        "reprocessed 10 SMTP TLS report(s): 14 policies\nreprocessed 4 DMARC failure report(s)"
    )
