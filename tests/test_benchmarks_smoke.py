"""The benchmark runner works end to end at tiny sizes (timings are printed, never asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

EXPECTED_KEYS = {
    "parse_records_per_s", "parse_peak_rss_mb",
    "ingest_records_per_s", "ingest_records_per_s_large", "ingest_peak_rss_mb_small",
    "ingest_peak_rss_mb_large", "ingest_peak_rss_growth",
    "summary_seconds", "summary_cli_seconds", "store_build_records_per_s", "imap_seconds",
    "web_api_reports_seconds", "web_api_senders_seconds", "web_api_summary_seconds", "web_domain_last_7_days_seconds",
    "web_domain_seconds", "web_domain_sender_view_seconds", "web_domain_unauthorised_sorted_by_fail_page_3_seconds",
    "web_overview_seconds", "web_rejected_seconds", "web_report_detail_first_100_of_its_records_seconds",
    "web_report_detail_records_from_the_middle_seconds", "web_report_html_seconds",
    "web_reports_page_2_of_one_domain_seconds", "web_reports_seconds", "web_source_ip_seconds",
    "web_source_sender_seconds",
}


@pytest.fixture(scope="module")
def dovecot_installed() -> None:
    """The imap stage runs a real Dovecot; the suite installs it when it is missing."""
    if shutil.which("dovecot") is None:
        script = REPO / "scripts" / "install-system-deps.sh"
        done = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"


def test_quick_run_prints_the_table_and_writes_every_figure(tmp_path: Path, dovecot_installed: None) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "parse,ingest,summary,web,imap", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == EXPECTED_KEYS
    for key, fig in figures.items():
        assert fig["dmarcflow"] > 0, key
    assert figures["parse_records_per_s"]["parsedmarc"] > 0
    assert figures["parse_records_per_s"]["target"] == ">= 20x parsedmarc"
    assert data["metrics"]["parse"]["dmarcflow"]["records"] == 2_000
    assert data["metrics"]["summary"]["store"]["records"] == 20_000
    assert len(data["metrics"]["web"]["pages"]) == 15
    assert data["metrics"]["imap"]["stored_reports"] == 30
    assert data["metrics"]["imap"]["archived"] == 30
    assert figures["imap_seconds"]["parsedmarc"] > 0
    assert data["machine"]["nproc"] >= 1
    header = proc.stdout.splitlines()[1].split()
    assert header == ["figure", "dmarcflow", "parsedmarc", "ratio", "target", "verdict", "note"]
    for fig in figures.values():
        assert fig["label"] in proc.stdout


def test_unknown_stage_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "parse,nope"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown stage(s) ['nope']" in proc.stderr


def test_hostile_shapes_stage_gets_every_expected_outcome(tmp_path: Path) -> None:
    from benchmarks.hostile_shapes import SHAPES

    out = tmp_path / "hostile.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "hostile", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert {f["key"] for f in data["figures"]} == {"hostile_rss_small"} | {f"hostile_rss_{s.name}" for s in SHAPES}
    metrics = data["metrics"]["hostile"]
    assert {name: (m["status"], m["reason"], m["integrity"]) for name, m in metrics.items()} == {
        "small": ("ingested", None, "ok"), **{s.name: (s.status, s.reason, "ok") for s in SHAPES}}
