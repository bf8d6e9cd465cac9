"""Big reports near the machine's limit: a report with a distinct source IP per record, and ``ingest --jobs``.

Whole processes, interleaved: ``dmarcflow ingest --offline REPORT`` into a new store (start-up, extract,
parse, enrich every IP from the local database, store, rollups, raw copy) against a process running
parsedmarc's ``parse_report_file(offline=True)`` alone on the same file. In-process: the library ingest
(``Ingestor.ingest_file``) timed inside its process, against parsedmarc's parse timed inside its own.

``ingest --jobs N`` (N = the cores) against ``--jobs 1`` on a folder of many files of a mixed corpus,
whole commands, interleaved; skipped with a note where ``dmarcflow ingest --help`` offers no --jobs.
"""

from __future__ import annotations

import os
from pathlib import Path
from benchmarks.figures import Figure, Target, not_available
from benchmarks.measure import best_of, checked, dmarcflow_argv, run_measured, run_stage
from benchmarks.run import Run, log

TARGET_WHOLE = Target(">=", 8, on_ratio=True)
TARGET_IN_PROCESS = Target(">=", 40_000)
TARGET_JOBS = Target(">=", 1.7, on_ratio=True)
PEER_WHOLE = "parsedmarc parse_report_file(offline=True), same file, whole process"
PEER_IN_PROCESS = "parsedmarc parse_report_file(offline=True), same file, timed in its process"


def _whole_ingest(run: Run, path: Path, db: Path, *extra: str) -> float:
    db.unlink(missing_ok=True)
    argv = dmarcflow_argv("--db", str(db), "ingest", "--offline", "--format", "json", *extra, str(path))
    return checked(run_measured(argv, timeout=3600), "dmarcflow ingest").seconds


def _distinct(run: Run) -> list[Figure]:
    n = run.sizes.big_records
    path = run.report(n, distinct_ips=True)
    db = run.workdir / "big-distinct.db"
    whole, theirs, inside = [], [], []
    for i in range(run.repeat):
        log(f"big report: run {i + 1} of {run.repeat} (ingest command, parsedmarc, library ingest)")
        whole.append(_whole_ingest(run, path, db))
        metrics, measured = run_stage("parse-parsedmarc", {"path": str(path)})
        theirs.append({**metrics, "process_seconds": measured.seconds})
        db.unlink(missing_ok=True)
        inside.append(run_stage("ingest", {"db": str(db), "paths": [str(path)]})[0])
    run.stores["big_distinct"] = db
    parsed, ours = best_of(theirs, "process_seconds"), best_of(inside)
    if parsed["records"] != n or ours["records"] != n:
        raise RuntimeError(f"record counts differ: parsedmarc {parsed['records']}, dmarcflow {ours['records']}, "
                           f"report {n}")
    run.record("bigreport", {"records": n, "xml_mb": path.stat().st_size / 1e6, "whole_seconds": whole,
                             "parsedmarc": parsed, "in_process": ours})
    rate, peer = n / min(whole), n / parsed["process_seconds"]
    in_rate, in_peer = n / ours["seconds"], n / min(t["seconds"] for t in theirs)
    label = f"big report ({n:,} records, a distinct source IP each)"
    return [
        Figure("big_whole_vs_parsedmarc", f"{label}: dmarcflow ingest --offline, whole process", "records/s",
               rate, peer, rate / peer, TARGET_WHOLE, f"best of {run.repeat} interleaved runs each "
               f"({', '.join(f'{s:.1f}' for s in whole)} s); start-up included on both sides", PEER_WHOLE),
        Figure("big_in_process_records_per_s", f"{label}: library ingest, in-process", "records/s", in_rate,
               in_peer, in_rate / in_peer, TARGET_IN_PROCESS,
               f"best of {run.repeat}; peak RSS {ours['peak_rss_mb']:.0f} MB", PEER_IN_PROCESS),
    ]


def has_jobs_option() -> bool:
    helped = checked(run_measured(dmarcflow_argv("ingest", "--help"), timeout=120), "dmarcflow ingest --help")
    return "--jobs" in helped.stdout


def _jobs_folder(run: Run) -> Path:
    from benchmarks.inputs import write_corpus_file

    files, per = run.sizes.jobs_files, run.sizes.jobs_records
    folder = run.workdir / f"jobs-s{run.seed}-f{files}-r{per}"
    done = folder.with_name(folder.name + ".complete")  # beside the folder: ingest reads every file in it
    if not done.exists():
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(files):
            write_corpus_file(folder, run.seed, index, per)
        done.write_text("")
    return folder


def _jobs(run: Run) -> list[Figure]:
    cores = len(os.sched_getaffinity(0))
    label = (f"ingest --jobs {cores} vs --jobs 1, a folder of {run.sizes.jobs_files:,} files of "
             f"{run.sizes.jobs_records:,} records")
    peer = "the same command with --jobs 1"
    if not has_jobs_option():
        return [not_available("big_jobs_speedup", label, "records/s", TARGET_JOBS,
                              "not implemented: `dmarcflow ingest --help` offers no --jobs option yet", peer)]
    folder = _jobs_folder(run)
    db = run.workdir / "big-jobs.db"
    many, one = [], []
    for _ in range(run.repeat):
        many.append(_whole_ingest(run, folder, db, "--jobs", str(cores)))
        one.append(_whole_ingest(run, folder, db, "--jobs", "1"))
    db.unlink(missing_ok=True)
    records = run.sizes.jobs_files * run.sizes.jobs_records
    run.record("bigreport_jobs", {"cores": cores, "jobs_n_seconds": many, "jobs_1_seconds": one})
    return [Figure("big_jobs_speedup", label, "records/s", records / min(many),
                   records / min(one), min(one) / min(many), TARGET_JOBS,
                   f"whole commands, best of {run.repeat} interleaved runs each", peer)]


def measure(run: Run) -> list[Figure]:
    return _distinct(run) + _jobs(run)
