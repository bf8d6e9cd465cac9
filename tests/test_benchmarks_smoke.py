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
    # issue 16
    "startup_help_seconds", "startup_ingest_100_seconds",
    "big_whole_vs_parsedmarc", "big_in_process_records_per_s", "big_jobs_speedup",
    "backfill_folder_vs_parsedmarc", "backfill_folder_reports_per_s", "backfill_mbox_vs_parsedmarc",
    "backfill_mbox_reports_per_s", "backfill_imap_vs_parsedmarc", "backfill_imap_reports_per_s",
    "growth_cost_per_report", "growth_same_day_cost_per_report",
    "store_bytes_per_record_big", "store_bytes_per_record_small", "store_bytes_per_record_distinct_ips",
}
STAGES = "startup,parse,ingest,bigreport,backfill,growth,store,summary,web,imap"
HEADER = ["figure", "dmarcflow", "peer", "peer's", "figure", "ratio", "target", "verdict", "note"]


def jobs_option_exists() -> bool:
    helped = subprocess.run([sys.executable, "-m", "dmarcflow", "ingest", "--help"], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    return "--jobs" in helped.stdout


@pytest.fixture(scope="module")
def dovecot_installed() -> None:
    """The imap stage runs a real Dovecot; the suite installs it when it is missing."""
    if shutil.which("dovecot") is None:
        script = REPO / "scripts" / "install-system-deps.sh"
        done = subprocess.run(["sh", str(script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory, dovecot_installed: None) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", STAGES, "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(out.read_text())


def test_quick_run_prints_the_table_and_writes_every_figure(quick_run: tuple[subprocess.CompletedProcess, dict]) -> None:
    proc, data = quick_run
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == EXPECTED_KEYS
    jobs = figures.pop("big_jobs_speedup")
    if jobs_option_exists():
        assert jobs["dmarcflow"] > 0 and jobs["peer_value"] > 0
    else:
        assert jobs["dmarcflow"] is None
        assert jobs["note"] == "not available: not implemented: `dmarcflow ingest --help` offers no --jobs option yet"
        assert jobs["verdict"] == "not measured"
    for key, fig in figures.items():
        assert fig["dmarcflow"] > 0, key
        assert fig["peer"], key
        assert fig["verdict"] in ("met", "MISSED", "n/a"), key
    assert figures["parse_records_per_s"]["peer_value"] > 0
    assert figures["parse_records_per_s"]["target"] == ">= 20x peer (earlier target)"
    assert figures["backfill_folder_vs_parsedmarc"]["target"] == ">= 10x peer (issue 16)"
    assert figures["backfill_imap_reports_per_s"]["target"] == ">= 1,500 reports/s (issue 16)"
    assert figures["store_bytes_per_record_small"]["target"] == "<= 250 B/record (issue 16)"
    assert data["metrics"]["parse"]["dmarcflow"]["records"] == 2_000
    assert data["metrics"]["summary"]["store"]["records"] == 20_000
    assert len(data["metrics"]["web"]["pages"]) == 15
    assert data["metrics"]["imap"]["stored_reports"] == 30
    assert data["metrics"]["imap"]["archived"] == 30
    assert figures["imap_seconds"]["peer_value"] > 0
    assert data["machine"]["nproc"] >= 1
    assert proc.stdout.splitlines()[1].split() == HEADER
    for fig in data["figures"]:
        assert fig["label"] in proc.stdout


def test_quick_run_measures_issue_16_on_known_inputs(quick_run: tuple[subprocess.CompletedProcess, dict]) -> None:
    """Sizes and counts, not timings: each figure measured what it says on inputs whose totals are known."""
    _, data = quick_run
    metrics = data["metrics"]
    year = metrics["backfill"]["year"]
    assert (year["reports"], year["by_packaging"]) == (60, {"xml": 24, "gz": 18, "zip": 18})
    assert metrics["backfill"]["parsedmarc_runs"]["reports"] == 60  # every file, parsed by the peer too
    assert [p["stored"] for p in metrics["growth"]["year_shape"]["points"]] == [200, 400, 600]
    assert [p["stored"] for p in metrics["growth"]["same_day"]["points"]] == [100, 200, 300]
    assert metrics["growth"]["same_day"]["identity_plan"].startswith("SEARCH reports USING ")
    assert metrics["bigreport"]["records"] == 2_000
    assert metrics["bigreport"]["parsedmarc"]["records"] == 2_000
    store = metrics["store"]
    assert store["store_bytes_per_record_big"]["records"] == 2_000
    assert store["store_bytes_per_record_small"]["records"] == year["records"]
    assert "record_rows" in store["store_bytes_per_record_small"]["per_table_bytes"]
    assert len(metrics["startup"]["bare"]["all_seconds"]) == 2


def test_readme_section_is_generated_from_the_run(quick_run: tuple[subprocess.CompletedProcess, dict],
                                                  tmp_path: Path) -> None:
    from benchmarks import readme

    _, data = quick_run
    results = tmp_path / "bench.json"
    results.write_text(json.dumps(data))
    page = tmp_path / "README.md"
    page.write_text(f"# Title\n\nbefore\n{readme.START}\nold table\n{readme.END}\nafter\n")
    refused = subprocess.run([sys.executable, "-m", "benchmarks.readme", str(results), "--readme", str(page)],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "that is a --quick run" in refused.stderr
    done = subprocess.run([sys.executable, "-m", "benchmarks.readme", str(results), "--readme", str(page),
                           "--allow-quick"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.startswith(f"# Title\n\nbefore\n{readme.START}\nRun from {data['started']} to {data['ended']}")
    assert text.endswith(f"{readme.END}\nafter\n")
    assert "old table" not in text
    assert f"at start {data['machine']['load_avg_at_start']}, at end {data['machine']['load_avg_at_end']}" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| figure")]
    assert len(rows) == len(data["figures"])
    for fig, row in zip(data["figures"], rows):
        assert row == "| " + " | ".join(cell.replace("|", "\\|") for cell in fig["row"]) + " |"


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


@pytest.mark.parametrize("tool, args, head", [
    ("benchmarks.worker_cost", [], r"worker: 30 small reports from the folder, 1 tasks, [\d.]+ ms CPU a report, "),
    ("benchmarks.worker_cost", ["--mbox"], r"worker: 30 small reports from the mbox, 1 tasks, [\d.]+ ms CPU a report"),
    ("benchmarks.writer_cost", ["--statements"], r"writer: 30 small reports, [\d.]+ ms CPU a report"),
])
def test_the_backfill_cost_tools_run_on_a_tiny_year(tmp_path: Path, tool: str, args: list[str], head: str) -> None:
    """The two tools the README's backfill figures cite: worker and writer CPU per small report (not asserted)."""
    import re

    proc = subprocess.run([sys.executable, "-m", tool, "--workdir", str(tmp_path), "--reports", "30", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert re.match(head, proc.stdout), proc.stdout[:300]
