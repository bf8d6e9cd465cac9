"""The worst input shapes: peak RSS of ingesting each, as a ratio to a small report's, and the outcome.

Like the 1M-record figure: memory is flat when a shape's peak stays near the small report's
(ratio about 1x). Budget shapes (archives and mails built to multiply work) must end in their
documented rejection quickly; their time is in the note. Figures are printed, never asserted.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.hostile_shapes import SHAPES, small_report
from benchmarks.measure import run_stage
from benchmarks.run import Run, log

TARGET_FLAT = Target("<=", 1.5, issue="9")
SMALL_RECORDS = 1_000


def child_hostile(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store.sqlite import Store

    store = Store.open(params["db"])
    ingestor = Ingestor(store, Enricher(EnrichmentSettings(offline=True)), Limits())
    started = time.perf_counter()
    outcomes = [o.as_dict() for o in ingestor.ingest_file(params["path"])]
    seconds = time.perf_counter() - started
    integrity = store.conn.execute("PRAGMA integrity_check").fetchone()[0]
    store.close()
    first = outcomes[0]
    return {"status": first["status"], "reason": first["reason"], "records": first["records"], "seconds": seconds,
            "outcomes": len(outcomes), "integrity": integrity}


def _ingest(run: Run, name: str, writer: Any, size: int) -> dict[str, Any]:
    path = run.workdir / f"hostile-{name}.input"
    db = run.workdir / f"hostile-{name}.db"
    with open(path, "wb") as fh:
        writer(fh, size)
    input_bytes = path.stat().st_size
    log(f"hostile shape {name} ({size:,}; {input_bytes / 1e6:.1f} MB)")
    db.unlink(missing_ok=True)
    metrics, _ = run_stage("hostile", {"path": str(path), "db": str(db)})
    metrics["input_mb"] = input_bytes / 1e6
    path.unlink()
    db.unlink(missing_ok=True)
    return metrics


def measure(run: Run) -> list[Figure]:
    small = _ingest(run, "small", small_report, SMALL_RECORDS)
    results: dict[str, Any] = {"small": small}
    figures = [Figure("hostile_rss_small", f"ingest peak RSS, small report ({SMALL_RECORDS:,} records)", "MB",
                      small["peak_rss_mb"], note="the yardstick for the shapes below", peer="- (it is the peer)")]
    for shape in SHAPES:
        size = getattr(run.sizes, shape.size_key)
        got = _ingest(run, shape.name, lambda fh, n, s=shape: s.write(fh, n), size)
        results[shape.name] = got
        expected = (shape.status, shape.reason)
        outcome = f"{got['status']}" + (f" ({got['reason']})" if got["reason"] else "")
        if (got["status"], got["reason"]) != expected:
            outcome += f" - EXPECTED {expected[0]}" + (f" ({expected[1]})" if expected[1] else "")
        note = f"{got['peak_rss_mb']:.0f} MB, {got['input_mb']:.1f} MB input, {got['seconds']:.1f} s; {outcome}"
        figures.append(Figure(f"hostile_rss_{shape.name}", f"peak RSS / small: {size:,} {shape.label}", "x",
                              got["peak_rss_mb"] / small["peak_rss_mb"],
                              target=TARGET_FLAT if shape.memory else None, note=note,
                              peer="the small report's peak RSS (same run)"))
    run.record("hostile", results)
    return figures
