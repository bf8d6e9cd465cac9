"""The single writer's CPU per small report in a backfill, and where it goes: ``python -m benchmarks.writer_cost``.

The year of small reports (benchmarks/year.py) is parsed first, as ``ingest --jobs`` workers parse it (offline,
with their IP facts); then only what the writer process does is timed: each parsed report stored in commit groups
(``Ingestor._ingest_parsed`` under ``commit_groups``, as ``ingest_files`` does it), into a new store. Prints the
writer's CPU per report (process time: the store's SQLite work and its Python, nothing of parsing), and with
``--statements`` the CPU of each SQL statement text (triggers count in the statement that fires them), per report.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks.year import YearShape, year


class _TimedConnection:
    """A connection whose execute and executemany add their process time to ``table`` by statement text."""

    def __init__(self, conn: sqlite3.Connection, table: dict[str, list[float]]) -> None:
        object.__setattr__(self, "_conn", conn)
        object.__setattr__(self, "_table", table)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._conn, name, value)

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        started = time.process_time()
        try:
            return self._conn.execute(sql, *args)
        finally:
            self._add(sql, time.process_time() - started, 0)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        rows = list(rows)
        started = time.process_time()
        try:
            return self._conn.executemany(sql, rows)
        finally:
            self._add(sql, time.process_time() - started, len(rows))

    def _add(self, sql: str, seconds: float, rows: int) -> None:
        entry = self._table[sql]
        entry[0] += seconds
        entry[1] += 1
        entry[2] += rows


def measure(files: list[str], db: Path, statements: bool) -> dict[str, Any]:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.enrich import Enricher
    from dmarcflow.ingest import Ingestor
    from dmarcflow.ingest_tasks import FileInput
    from dmarcflow.ingest_worker import WorkerSettings, parse_input, start_task_worker
    from dmarcflow.kinds.base import KindSettings
    from dmarcflow.store.sqlite import Store

    enrichment = EnrichmentSettings(offline=True)
    _, state = start_task_worker((parse_input, WorkerSettings(KindSettings(Limits(), False, need_rdns=False),
                                                              enrichment)))
    parsed = [parse_input(state, path) for path in files]
    store = Store.open(db)
    table: dict[str, list[float]] = defaultdict(lambda: [0.0, 0, 0])
    if statements:
        store.conn = _TimedConnection(store.conn, table)  # type: ignore[assignment]
    ingestor = Ingestor(store, Enricher(enrichment), Limits())
    started, wall = time.process_time(), time.perf_counter()
    with ingestor.commit_groups(lambda done: None) as add:
        for path, result in zip(files, parsed, strict=True):
            for outcome in ingestor._ingest_parsed(FileInput(path), result):  # noqa: SLF001 - the writer's part
                add(outcome, outcome.records)
    cpu, wall = time.process_time() - started, time.perf_counter() - wall
    store.close()
    n = len(files)
    out: dict[str, Any] = {"reports": n, "writer_cpu_ms_per_report": cpu * 1000 / n, "wall_s": wall}
    if statements:
        out["statements"] = sorted(([v[0] * 1000 / n, int(v[1]), int(v[2]), sql] for sql, v in table.items()),
                                   reverse=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.writer_cost", description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True, help="where the year is cached (as the runner's --workdir)")
    ap.add_argument("--reports", type=int, default=6_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--statements", action="store_true", help="also the CPU of each statement text")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args(argv)
    data = year(Path(args.workdir), args.seed, YearShape(reports=args.reports))
    files = sorted(str(p) for p in data.folder.iterdir())
    with tempfile.TemporaryDirectory(prefix="dmarcflow-writer-") as tmp:
        result = measure(files, Path(tmp) / "store.sqlite", args.statements)
    print(f"writer: {result['reports']:,} small reports, {result['writer_cpu_ms_per_report']:.3f} ms CPU a report "
          f"({result['wall_s']:.1f} s wall)")
    for ms, calls, rows, sql in result.get("statements", [])[: args.top]:
        print(f"{ms:8.4f} ms/report {calls:7d} calls {rows:8d} rows  {' '.join(sql.split())[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
