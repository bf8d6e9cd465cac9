"""Full ingest into SQLite with offline enrichment: records/s, and peak RSS at two report sizes."""

from __future__ import annotations

import time
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import best_of, run_stage
from benchmarks.run import Run, log

TARGET_RATE = Target(">=", 30_000, issue="earlier")
TARGET_RSS = Target("<=", 200, issue="earlier")
TARGET_RSS_GROWTH = Target("<=", 1.5, issue="earlier")
NO_PEER = "- (parsedmarc has no store)"


def child_ingest(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store.sqlite import Store

    store = Store.open(params["db"])
    ingestor = Ingestor(store, Enricher(EnrichmentSettings(offline=True)), Limits())
    started = time.perf_counter()
    outcomes = [o.as_dict() for path in params["paths"] for o in ingestor.ingest_file(path)]
    seconds = time.perf_counter() - started
    store.close()
    bad = [o for o in outcomes if o["status"] != "ingested"]
    if bad:
        raise RuntimeError(f"not ingested: {bad[:3]}")
    return {"records": sum(o["records"] for o in outcomes), "reports": len(outcomes), "seconds": seconds}


def ingest(run: Run, n_records: int, db_name: str, repeat: int = 1) -> dict[str, Any]:
    """Ingest the report into a new store, repeat times (best counts); the last store stays."""
    path = run.report(n_records)
    db = run.workdir / db_name
    log(f"ingesting the {n_records:,}-record report ({path.stat().st_size / 1e6:.0f} MB of XML)")
    runs = []
    for _ in range(repeat):
        db.unlink(missing_ok=True)
        runs.append(run_stage("ingest", {"db": str(db), "paths": [str(path)]})[0])
    metrics = best_of(runs)
    metrics["xml_mb"] = path.stat().st_size / 1e6
    return metrics


def measure(run: Run) -> list[Figure]:
    small = ingest(run, run.sizes.ingest_small, "ingest-small.db", run.repeat)
    run.stores["big"] = run.workdir / "ingest-small.db"  # for the store stage's bytes per record
    large = ingest(run, run.sizes.ingest_large, "ingest-large.db")  # once: about a minute
    run.forget_report(run.sizes.ingest_large)
    (run.workdir / "ingest-large.db").unlink(missing_ok=True)
    run.record("ingest", {"small": small, "large": large})
    growth = large["peak_rss_mb"] / small["peak_rss_mb"]
    big = f"{large['records']:,} records, {large['xml_mb']:.0f} MB XML"
    return [
        Figure("ingest_records_per_s", f"ingest into SQLite, offline ({small['records']:,} records)", "records/s",
               small["records"] / small["seconds"], target=TARGET_RATE,
               note=f"best of {run.repeat}", peer=NO_PEER),
        Figure("ingest_records_per_s_large", f"ingest into SQLite, offline ({large['records']:,} records)", "records/s",
               large["records"] / large["seconds"], target=TARGET_RATE, note="one run", peer=NO_PEER),
        Figure("ingest_peak_rss_mb_small", f"ingest peak RSS ({small['records']:,} records)", "MB",
               small["peak_rss_mb"], note="whole process", peer=NO_PEER),
        Figure("ingest_peak_rss_mb_large", f"ingest peak RSS ({big})", "MB", large["peak_rss_mb"],
               target=TARGET_RSS, note="whole process", peer=NO_PEER),
        Figure("ingest_peak_rss_growth", "ingest peak RSS, large / small report", "x", growth,
               target=TARGET_RSS_GROWTH, peer="the small report's peak (same run)"),
    ]
