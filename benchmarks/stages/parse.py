"""Parse + normalise, offline: dmarcflow's streaming parser vs parsedmarc, on the same report file."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import best_of, run_stage
from benchmarks.run import Run

TARGET_RATIO = Target(">=", 20, on_ratio=True, issue="earlier")
PEER = "parsedmarc parse_report_file(offline=True), same file"


def child_dmarcflow(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.parse import parse_report

    started = time.perf_counter()
    with open(params["path"], "rb") as fh:
        parsed = parse_report(fh)
        records = sum(1 for _ in parsed.records)
    return {"records": records, "seconds": time.perf_counter() - started}


def child_parsedmarc(params: dict[str, Any]) -> dict[str, Any]:
    import parsedmarc

    started = time.perf_counter()
    result = parsedmarc.parse_report_file(params["path"], offline=True)
    seconds = time.perf_counter() - started
    return {"records": len(result["report"]["records"]), "seconds": seconds}


def measure(run: Run) -> list[Figure]:
    path = run.report(run.sizes.parse_records)
    ours_runs, theirs_runs = [], []
    for _ in range(run.repeat):  # interleaved, so that a burst of other load hits both sides
        ours_runs.append(run_stage("parse-dmarcflow", {"path": str(path)})[0])
        theirs_runs.append(run_stage("parse-parsedmarc", {"path": str(path)})[0])
    ours, theirs = best_of(ours_runs), best_of(theirs_runs)
    run.record("parse", {"dmarcflow": ours, "parsedmarc": theirs})
    if ours["records"] != theirs["records"]:
        raise RuntimeError(f"parsers disagree on the record count: {ours['records']} vs {theirs['records']}")
    ours_rate = ours["records"] / ours["seconds"]
    theirs_rate = theirs["records"] / theirs["seconds"]
    n = f"{ours['records']:,}-record report"
    return [
        Figure("parse_records_per_s", f"parse + normalise, offline ({n})", "records/s",
               ours_rate, theirs_rate, ours_rate / theirs_rate, TARGET_RATIO,
               note=f"best of {run.repeat} interleaved runs each, in-process timing", peer=PEER),
        Figure("parse_peak_rss_mb", f"parse peak RSS ({n})", "MB", ours["peak_rss_mb"],
               theirs["peak_rss_mb"], theirs["peak_rss_mb"] / ours["peak_rss_mb"],
               note="whole process", peer=PEER, ratio_is="peer / ours"),
    ]
