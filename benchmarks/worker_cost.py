"""A worker's CPU per small report in a backfill: ``python -m benchmarks.worker_cost``.

The other half of ``benchmarks.writer_cost``: the year of small reports (benchmarks/year.py) is cut into the
tasks ``ingest --jobs`` sends (``ingest_tasks.batches``: its files, or the messages of its mbox), and each task
is run here as a worker runs it (``parse_task`` with an offline worker state: read, extract, parse, look up the
IP facts) and its result pickled as the pipe would carry it. Prints the CPU per report (process time), and with
``--profile`` the top functions by own time. Together the two say what bounds a backfill on N cores: about
N / (worker + writer CPU per report) reports a second.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pickle
import pstats
import time
from pathlib import Path

from benchmarks.profile import short_paths
from benchmarks.year import YearShape, year


def measure(workdir: Path, reports: int, seed: int, mbox: bool, profile: bool, top: int) -> str:
    from dmarcflow.config import EnrichmentSettings, Limits
    from dmarcflow.ingest_tasks import batches
    from dmarcflow.ingest_worker import WorkerSettings, parse_input, parse_task, start_task_worker
    from dmarcflow.kinds.base import KindSettings

    data = year(workdir, seed, YearShape(reports=reports))
    sources = [str(data.mbox)] if mbox else sorted(str(p) for p in data.folder.iterdir())
    limits = Limits()
    settings = WorkerSettings(KindSettings(limits, False, need_rdns=False), EnrichmentSettings(offline=True))
    worker = start_task_worker((parse_input, settings))
    tasks = list(batches(sources, limits.max_message_bytes))  # cut before the clock starts, as the writer does
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler is not None:
        profiler.enable()
    carried = sum(len(pickle.dumps(parse_task(worker, task))) for task in tasks)
    if profiler is not None:
        profiler.disable()
    cpu = time.process_time() - started
    where = "the mbox" if mbox else "the folder"
    lines = [f"worker: {data.reports:,} small reports from {where}, {len(tasks)} tasks, "
             f"{cpu / data.reports * 1e3:.3f} ms CPU a report, {carried / data.reports:,.0f} pickled bytes a report"
             + (" (under cProfile)" if profiler is not None else "")]
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
        lines.extend(short_paths(line) for line in out.getvalue().splitlines())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.worker_cost", description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", required=True, help="where the year is cached (as the runner's --workdir)")
    ap.add_argument("--reports", type=int, default=6_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mbox", action="store_true", help="the year's mbox instead of its folder")
    ap.add_argument("--profile", action="store_true", help="also the top functions by own time (cProfile)")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    print(measure(Path(args.workdir), args.reports, args.seed, args.mbox, args.profile, args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
