"""``python -m benchmarks``: run the stages, print the table, write JSON.

Every stage runs its measured work in child processes (see measure.py), so peak
RSS is per process and ratios compare two runs made minutes apart on the same input.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import json
import shutil
import tempfile
import time
import traceback
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import machine
from benchmarks.figures import Figure, markdown_table, not_available, text_table
from benchmarks.run import QUICK, Run, Sizes, log, size_fields

# In this order: start-up first (least disturbed by what the others leave in the page cache); store reads
# the stores that ingest, bigreport and backfill leave.
STAGE_NAMES = ("startup", "parse", "ingest", "bigreport", "backfill", "growth", "store", "summary", "web", "es",
               "imap", "hostile")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=(
        "Benchmark dmarcflow against its targets (issue 16's and earlier ones), every figure against a peer "
        "measured in the same run (parsedmarc on the same input, a bare Python, the search-engine node alone, ...); "
        "print a table and optionally write JSON (python -m benchmarks.readme puts it into the README)."))
    ap.add_argument("--quick", action="store_true", help="tiny sizes: checks that every stage works (CI)")
    ap.add_argument("--only", help=f"comma-separated stages among {','.join(STAGE_NAMES)}")
    ap.add_argument("--json", dest="json_path", help="write figures, raw metrics and the machine here")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown too")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, help="runs of each side of a comparison, interleaved, best counts "
                                              "(default 3, 1 with --quick)")
    ap.add_argument("--workdir", help="where generated inputs go, kept and reused by the next run with the same "
                                      "--workdir (default: a temporary folder, removed)")
    ap.add_argument("--summary-db", help="reuse (or build and keep) the summary store at this path")
    for name in size_fields():
        ap.add_argument("--" + name.replace("_", "-"), type=int, help=f"default {getattr(Sizes(), name):,}")
    args = ap.parse_args(argv)
    unknown = [s for s in stages_from(args) if s not in STAGE_NAMES]
    if unknown:
        ap.error(f"unknown stage(s) {unknown}; choose among {', '.join(STAGE_NAMES)}")
    return args


def sizes_from(args: argparse.Namespace) -> Sizes:
    base = QUICK if args.quick else Sizes()
    given = {n: getattr(args, n) for n in size_fields() if getattr(args, n) is not None}
    return replace(base, **given)


def stages_from(args: argparse.Namespace) -> list[str]:
    if not args.only:
        return list(STAGE_NAMES)
    return [s.strip() for s in args.only.split(",") if s.strip()]


def run_stages(run: Run, names: list[str]) -> list[Figure]:
    figures: list[Figure] = []
    for name in names:
        started = time.perf_counter()
        log(f"stage {name}")
        try:
            figures += importlib.import_module(f"benchmarks.stages.{name}").measure(run)
        except Exception as exc:  # one broken stage must not hide the others' figures
            traceback.print_exc()
            figures.append(not_available(name, f"{name} stage", "", None, f"{type(exc).__name__}: {exc}"[:200]))
        run.metrics.setdefault("stage_seconds", {})[name] = round(time.perf_counter() - started, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names, sizes = stages_from(args), sizes_from(args)
    info = machine.describe()
    info["bytecode"] = machine.compile_bytecode()
    started = datetime.now(timezone.utc)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dmarcflow-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    repeat = args.repeat or (1 if args.quick else 3)
    run = Run(sizes, workdir, args.seed, Path(args.summary_db) if args.summary_db else None, repeat,
              keep_inputs=bool(args.workdir))
    try:
        figures = run_stages(run, names)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    info["load_avg_at_end"] = machine.load_average()
    ended = datetime.now(timezone.utc)
    print(f"dmarcflow benchmarks, {started:%Y-%m-%d %H:%M} UTC, {machine.one_line(info)}, at end {info['load_avg_at_end']}")
    print(text_table(figures))
    if args.markdown:
        print()
        print(markdown_table(figures))
    if args.json_path:
        out = {"started": started.isoformat(timespec="seconds"), "ended": ended.isoformat(timespec="seconds"),
               "command": "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv),
               "machine": info, "sizes": sizes.__dict__, "quick": args.quick, "repeat": repeat, "stages": names,
               "figures": [f.as_dict() for f in figures], "metrics": run.metrics}
        Path(args.json_path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 1 if any(f.note.startswith("not available") and f.key in STAGE_NAMES for f in figures) else 0
