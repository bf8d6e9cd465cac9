"""``summary`` for one domain over a store of many millions of records.

The store is built through the real ingest (no SQL shortcuts): a corpus of big
reports from rotating reporters, schemas, days and packagings, all for one policy
domain (the worst case for a one-domain summary). The next file is generated in a
second process while the current one is ingested.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import BARE_PYTHON, best_of, checked, dmarcflow_argv, run_measured, run_stage
from benchmarks.run import Run, log

DOMAIN = "example.com"
TARGET_LIBRARY = Target("<=", 1, issue="earlier")
TARGET_CLI = Target("<=", 0.5)  # issue 16: the whole command, start-up included


def _generate(folder: str, seed: int, index: int, n_records: int) -> str:
    from benchmarks.inputs import write_corpus_file

    return str(write_corpus_file(Path(folder), seed, index, n_records)[0])


def stored_records(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM records").fetchone()[0]


def child_build_store(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.store.sqlite import Store

    n_reports, per_report, seed = params["reports"], params["records_per_report"], params["seed"]
    store = Store.open(params["db"])
    ingestor = Ingestor(store, Enricher(EnrichmentSettings(offline=True)), Limits())
    records, ingest_seconds, started = 0, 0.0, time.perf_counter()
    with tempfile.TemporaryDirectory(dir=params["workdir"]) as folder, \
            ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        pending = pool.submit(_generate, folder, seed, 0, per_report)
        for index in range(n_reports):
            path = pending.result()
            if index + 1 < n_reports:
                pending = pool.submit(_generate, folder, seed, index + 1, per_report)
            t0 = time.perf_counter()
            for outcome in ingestor.ingest_file(path):
                if outcome.status != "ingested":
                    raise RuntimeError(f"{path}: {outcome.as_dict()}")
                records += outcome.records
            ingest_seconds += time.perf_counter() - t0
            Path(path).unlink()
            if index % 10 == 9:
                print(f"[benchmarks] store: {records:,} records", file=sys.stderr, flush=True)
    store.close()
    return {"records": records, "reports": n_reports, "ingest_seconds": ingest_seconds,
            "wall_seconds": time.perf_counter() - started}


def child_summary(params: dict[str, Any]) -> dict[str, Any]:
    from dmarcflow.analysis import summarise
    from dmarcflow.store.sqlite import Store

    store = Store.open_readonly(params["db"])  # as `dmarcflow summary` opens it
    times = []
    for _ in range(3):
        started = time.perf_counter()
        result = summarise(store, [params["domain"]])
        times.append(time.perf_counter() - started)
    summary = result[0]
    return {"first_seconds": times[0], "best_seconds": min(times), "messages": summary.messages,
            "reports": summary.reports, "sources": summary.source_count}


def build_store(run: Run) -> tuple[Path, dict[str, Any]]:
    sizes = run.sizes
    db = run.keep_summary_db or run.workdir / "summary.db"
    have = stored_records(db)
    if have >= sizes.summary_records:
        log(f"reusing {db} ({have:,} records)")
        return db, {"records": have, "reused": True, "schema": _migrated(db)}
    db.unlink(missing_ok=True)
    reports = max(1, sizes.summary_records // sizes.summary_report_records)
    log(f"building a store of {reports * sizes.summary_report_records:,} records through ingest")
    params = {"db": str(db), "reports": reports, "records_per_report": sizes.summary_report_records,
              "seed": run.seed, "workdir": str(run.workdir)}
    metrics, _ = run_stage("build-store", params, timeout=4 * 3600)
    return db, metrics


def _migrated(db: Path) -> list[int]:
    """A store kept from an older dmarcflow is brought to this code's schema (readers never migrate)."""
    from dmarcflow.store import Store
    from dmarcflow.store.schema import MIGRATIONS

    with sqlite3.connect(db) as conn:
        before = conn.execute("PRAGMA user_version").fetchone()[0]
    if before != len(MIGRATIONS):
        log(f"migrating {db} from schema {before} to {len(MIGRATIONS)}")
        Store.open(db).close()
    return [before, len(MIGRATIONS)]


def _cli_summary(db: Path):
    argv = dmarcflow_argv("--db", str(db), "summary", DOMAIN, "--format", "json")
    return checked(run_measured(argv, timeout=600), "dmarcflow summary")


def _cli_against_bare(db: Path, repeat: int) -> tuple[list[float], list[float]]:
    """The whole summary command and a bare Python start-up, interleaved."""
    cli, bare = [], []
    for _ in range(repeat):
        cli.append(_cli_summary(db).seconds)
        bare.append(checked(run_measured(list(BARE_PYTHON), timeout=120), "bare python").seconds)
    return cli, bare


def measure(run: Run) -> list[Figure]:
    db, built = build_store(run)
    # Each run is a fresh process (cold Python caches); the OS page cache is whatever the machine left.
    lib = best_of([run_stage("summary-library", {"db": str(db), "domain": DOMAIN})[0] for _ in range(run.repeat)],
                  key="first_seconds")
    cli, bare = _cli_against_bare(db, run.repeat)
    run.record("summary", {"store": built, "library": lib, "cli_seconds": min(cli), "cli_all_seconds": cli,
                           "bare_python_all_seconds": bare})
    if run.keep_summary_db is None:
        db.unlink(missing_ok=True)
    n = f"{built['records']:,} records"
    figures = [
        Figure("summary_seconds", f"summary, one domain, library call ({n})", "s", lib["first_seconds"],
               target=TARGET_LIBRARY, peer="- (parsedmarc has no summary)",
               note=f"first call in a fresh process, best of {run.repeat} processes "
                    f"({', '.join(f'{t:.2f}' for t in lib['all_first_seconds'])} s); "
                    f"{lib['sources']:,} source IPs, {lib['reports']:,} reports"),
        Figure("summary_cli_seconds", f"dmarcflow summary --format json ({n})", "s", min(cli), min(bare),
               min(cli) / min(bare), TARGET_CLI, peer="bare `python -c 'import click, sqlite3'` process",
               note=f"whole command, Python start-up included; best of {run.repeat} interleaved runs each "
                    f"({', '.join(f'{t:.2f}' for t in cli)} s)"),
    ]
    if not built.get("reused"):
        figures.append(Figure("store_build_records_per_s", f"ingest of the mixed xml/gz/zip corpus ({n})",
                              "records/s", built["records"] / built["ingest_seconds"],
                              note="generator runs alongside on the other core", peer="- (one-off build)"))
    return figures
