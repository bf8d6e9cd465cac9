"""The cost per report as the store grows, and when many reports share one domain and day.

One process ingests reports of the year's shape (benchmarks/year.py, the calendar going on past one
year) into one store through the library (``Ingestor.ingest_bytes``, as for each mail of an mbox),
up to ``--growth-reports`` stored reports, timing each batch: one point of the curve per batch.
Generating a report is not timed. A second store gets ``--same-day-reports`` reports that all share
one domain and one day (distinct reporters and report ids), the worst case of the identity lookup.
The plan SQLite picks for that lookup is read with EXPLAIN QUERY PLAN on the statement dmarcflow
itself runs (caught with a trace callback), so the figure shows which index it uses.

Target (issue 16): the cost per report independent of both; read here as the last batch costing at
most 1.25x the first (the peer), which leaves room for the noise of a shared machine.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import run_stage
from benchmarks.run import Run, log
from benchmarks.year import YearShape, reports

TARGET_FLAT = Target("<=", 1.25, on_ratio=True)


def child_growth(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store.sqlite import Store

    store = Store.open(params["db"])
    ingestor = Ingestor(store, Enricher(EnrichmentSettings(offline=True)), Limits())
    shape, batch = YearShape(reports=params["year_reports"]), params["batch"]
    points: list[dict[str, Any]] = []
    spent, done, last = 0.0, 0, None
    for item in reports(params["seed"], shape, params["reports"], same_day=params["same_day"]):
        started = time.perf_counter()
        outcome = ingestor.ingest_bytes(item.filename, item.data)
        spent += time.perf_counter() - started
        if outcome.status != "ingested":
            raise RuntimeError(f"{item.filename}: {outcome.as_dict()}")
        done, last = done + 1, item
        if done % batch == 0 or done == params["reports"]:
            points.append({"stored": done, "ms_per_report": spent / (done - (points[-1]["stored"] if points else 0)) * 1e3})
            spent = 0.0
            print(f"[benchmarks] growth: {done:,} reports, {points[-1]['ms_per_report']:.2f} ms a report",
                  flush=True, file=sys.stderr)
    if last is None:
        raise RuntimeError("no report was ingested")
    plan = identity_plan(store, last.report)
    store.close()
    return {"points": points, "identity_plan": plan}


def identity_plan(store: Any, report: Any) -> str:
    """The query plan of the identity lookup dmarcflow runs for this report, caught as it runs it."""
    import io

    from benchmarks.generator import render_xml
    from dmarcflow.parse import parse_report

    parsed = parse_report(io.BytesIO(render_xml(report))).report
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        store.find_identity(parsed)
    finally:
        store.conn.set_trace_callback(None)
    lookup = next(s for s in statements if s.lstrip().upper().startswith("SELECT"))
    rows = store.conn.execute("EXPLAIN QUERY PLAN " + lookup).fetchall()
    return "; ".join(str(row[-1]) for row in rows)


def _curve(run: Run, name: str, count: int, batch: int, same_day: bool) -> dict[str, Any]:
    db = run.workdir / f"growth-{name}.db"
    db.unlink(missing_ok=True)
    log(f"growth: {count:,} reports{' sharing one domain and day' if same_day else ''}, a point every {batch:,}")
    metrics, _ = run_stage("growth", {"db": str(db), "seed": run.seed + (1 if same_day else 0), "reports": count,
                                      "batch": batch, "same_day": same_day,
                                      "year_reports": run.sizes.backfill_reports}, timeout=4 * 3600)
    db.unlink(missing_ok=True)
    return metrics


def curve_text(points: list[dict[str, Any]]) -> str:
    return ", ".join(f"{p['stored']:,}: {p['ms_per_report']:.1f}" for p in points)


def measure(run: Run) -> list[Figure]:
    sizes = run.sizes
    grown = _curve(run, "year", sizes.growth_reports, sizes.growth_batch, False)
    same = _curve(run, "same-day", sizes.same_day_reports, sizes.same_day_batch, True)
    run.record("growth", {"year_shape": grown, "same_day": same})
    figures = []
    for key, metrics, what, batch in (
            ("growth_cost_per_report", grown, f"as the store grows to {sizes.growth_reports:,} reports",
             sizes.growth_batch),
            ("growth_same_day_cost_per_report", same,
             f"with {sizes.same_day_reports:,} reports sharing one domain and day", sizes.same_day_batch)):
        first, last = metrics["points"][0]["ms_per_report"], metrics["points"][-1]["ms_per_report"]
        note = f"ms a report by stored reports: {curve_text(metrics['points'])}"
        if key.startswith("growth_same_day"):
            note += f"; identity lookup plan: {metrics['identity_plan']}"
        figures.append(Figure(key, f"cost per small report, last batch, {what}", "ms", last, first, last / first,
                              TARGET_FLAT, note, f"the first {batch:,} reports into the empty store"))
    return figures
