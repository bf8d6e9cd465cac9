"""Store size: bytes per stored record, for big reports and for small ones, and where they go.

The stores are the ones earlier stages of the run left (the ingest stage's 100,000-record report, the
backfill's year of small reports, the big report with a distinct IP per record); run alone, the stage
makes the first two itself through the real ingest. Size = the database file after a WAL checkpoint,
divided by the stored records; the split per table (its indexes included) comes from SQLite's dbstat
virtual table when this SQLite has it, else only the file's page count is known. The peer is the
report XML itself, unpacked, per record.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, Target
from benchmarks.measure import checked, dmarcflow_argv, run_measured, run_stage
from benchmarks.run import Run, log

TARGET_BIG = Target("<=", 180)
TARGET_SMALL = Target("<=", 250)
PEER = "the report XML, unpacked"


def measure_store(db: Path) -> dict[str, Any]:
    """File size after a checkpoint, records, and bytes per table (indexes counted with their table)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
        try:
            used = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:  # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
            used = None
    per_table: dict[str, int] | None = None
    if used is not None:
        per_table = {}
        for name, size in used:
            table = owner.get(name, name)  # sqlite_autoindex_* and sqlite_schema map to themselves
            per_table[table] = per_table.get(table, 0) + size
    return {"file_bytes": db.stat().st_size, "records": records, "page_size": page_size, "pages": pages,
            "per_table_bytes": per_table}


def _split(measured: dict[str, Any]) -> str:
    tables = measured["per_table_bytes"]
    if tables is None:
        return f"no dbstat in this SQLite: {measured['pages']:,} pages of {measured['page_size']:,} B"
    top = sorted(tables.items(), key=lambda kv: -kv[1])[:5]
    return "per record by table (with its indexes): " + ", ".join(
        f"{name} {size / measured['records']:.0f} B" for name, size in top)


def _big_store(run: Run) -> tuple[Path, float]:
    n = run.sizes.ingest_small
    path = run.report(n)
    if "big" not in run.stores:
        db = run.workdir / "store-big.db"
        db.unlink(missing_ok=True)
        log(f"store size: ingesting the {n:,}-record report")
        run_stage("ingest", {"db": str(db), "paths": [str(path)]})
        run.stores["big"] = db
    return run.stores["big"], path.stat().st_size / n


def _small_store(run: Run) -> tuple[Path, float]:
    data = run.year()
    if "small" not in run.stores:
        db = run.workdir / "store-small.db"
        db.unlink(missing_ok=True)
        log("store size: ingesting the year of small reports")
        argv = dmarcflow_argv("--db", str(db), "ingest", "--offline", "--format", "json", str(data.folder))
        checked(run_measured(argv, timeout=3600), "dmarcflow ingest")
        run.stores["small"] = db
    return run.stores["small"], data.manifest["xml_bytes"] / data.records


def _figure(key: str, label: str, target: Target | None, db: Path, xml_per_record: float) -> tuple[Figure, dict[str, Any]]:
    measured = measure_store(db)
    per_record = measured["file_bytes"] / measured["records"]
    note = f"{measured['file_bytes'] / 1e6:.1f} MB for {measured['records']:,} records; {_split(measured)}"
    return (Figure(key, label, "B/record", per_record, xml_per_record, per_record / xml_per_record, target, note,
                   PEER), measured)


def measure(run: Run) -> list[Figure]:
    big_db, big_xml = _big_store(run)
    small_db, small_xml = _small_store(run)
    figures: list[Figure] = []
    metrics: dict[str, Any] = {}
    for key, label, target, db, xml in (
            ("store_bytes_per_record_big", f"store size, big reports ({run.sizes.ingest_small:,}-record report)",
             TARGET_BIG, big_db, big_xml),
            ("store_bytes_per_record_small",
             f"store size, small reports (the year: {run.sizes.backfill_reports:,} reports)", TARGET_SMALL,
             small_db, small_xml)):
        figure, metrics[key] = _figure(key, label, target, db, xml)
        figures.append(figure)
    distinct = run.stores.get("big_distinct")
    if distinct is not None and distinct.exists():
        n = run.sizes.big_records
        xml = run.report(n, distinct_ips=True).stat().st_size / n
        figure, metrics["distinct"] = _figure("store_bytes_per_record_distinct_ips",
                                              f"store size, big report with a distinct IP per record ({n:,})",
                                              None, distinct, xml)
        figures.append(figure)
    run.record("store", metrics)
    return figures
