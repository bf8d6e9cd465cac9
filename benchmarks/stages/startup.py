"""Start-up: whole ``dmarcflow`` commands against a bare Python that imports click and sqlite3.

Three commands run in turn, ``--startup-runs`` times (interleaved, so a burst of other load hits all
three): ``python -c "import click, sqlite3"`` (the floor of any click + SQLite command), ``dmarcflow
--help``, and ``dmarcflow ingest --offline`` of a 100-record report into a store that exists already
(a copy of an empty, migrated store, made before the timed run). The best run of each counts; the
medians are kept too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmarks.figures import Figure, Target
from benchmarks.inputs import big_report
from benchmarks.measure import BARE_PYTHON, checked, dmarcflow_argv, median, run_measured
from benchmarks.run import Run, log

TARGET = Target("<=", 1.5, on_ratio=True)
PEER = "bare `python -c 'import click, sqlite3'` process"


def _empty_store(run: Run) -> Path:
    from dmarcflow.store import Store

    template = run.workdir / "startup-empty.db"
    template.unlink(missing_ok=True)
    Store.open(template).close()
    return template


def measure(run: Run) -> list[Figure]:
    report = run.workdir / "startup-100.xml"
    big_report(report, 100, run.seed)
    template, db = _empty_store(run), run.workdir / "startup.db"
    times: dict[str, list[float]] = {"bare": [], "help": [], "ingest": []}
    log(f"start-up: {run.sizes.startup_runs} interleaved runs of each command")
    for _ in range(run.sizes.startup_runs):
        times["bare"].append(checked(run_measured(list(BARE_PYTHON), 120), "bare python").seconds)
        times["help"].append(checked(run_measured(dmarcflow_argv("--help"), 120), "dmarcflow --help").seconds)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, db)
        argv = dmarcflow_argv("--db", str(db), "ingest", "--offline", "--format", "json", str(report))
        times["ingest"].append(checked(run_measured(argv, 120), "dmarcflow ingest").seconds)
    run.record("startup", {name: {"all_seconds": [round(t, 4) for t in ts], "best": min(ts), "median": median(ts)}
                           for name, ts in times.items()})
    bare = min(times["bare"])
    note = (f"best of {run.sizes.startup_runs} interleaved runs; medians: ours {{:.3f}} s, "
            f"bare {median(times['bare']):.3f} s")
    return [
        Figure("startup_help_seconds", "start-up: dmarcflow --help, whole process", "s", min(times["help"]), bare,
               min(times["help"]) / bare, TARGET, note.format(median(times["help"])), PEER),
        Figure("startup_ingest_100_seconds", "start-up: dmarcflow ingest --offline of a 100-record report, whole "
               "process", "s", min(times["ingest"]), bare, min(times["ingest"]) / bare, TARGET,
               note.format(median(times["ingest"])) + "; into an existing empty store", PEER),
    ]
