"""Run one piece of work in its own process and measure that process alone.

Peak RSS is per process: ``os.wait4`` returns the resource usage of exactly the
child it reaps (and of the children that child reaped), so figures of one stage
never include the runner's own memory or another stage's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULT_PREFIX = "BENCH-RESULT "


class StageFailed(RuntimeError):
    """A measured child process exited with an error."""


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time of the whole process, start-up included
    peak_rss_mb: float  # ru_maxrss of the process (Linux reports kilobytes)
    returncode: int
    stdout: str
    stderr: str


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Under PYTHONSAFEPATH (scripts/test.sh) the checkout is already at the end of sys.path, after the
    # installed dmarcflow: putting it on PYTHONPATH would make the children import the source tree.
    if not env.get("PYTHONSAFEPATH"):
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")]))
    return env


def run_measured(argv: list[str], timeout: float, stdin: bytes | None = None) -> Measured:
    """Run argv to completion; wall time and the peak RSS of that process tree."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                cwd=REPO_ROOT, env=child_env())
        status, usage = _wait(proc, timeout)
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return Measured(seconds, usage.ru_maxrss / 1024, status,
                        out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def _wait(proc: subprocess.Popen, timeout: float):
    """Reap the child the moment it exits (a polling loop would round short runs up to its period)."""
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        expired = timer.finished.is_set()  # set before cancel() only when the timer fired
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
    if expired:
        raise StageFailed(f"{proc.args!r} did not finish within {timeout:.0f} s")
    return proc.returncode, usage


def best_of(runs: list[dict[str, Any]], key: str = "seconds") -> dict[str, Any]:
    """The fastest of repeated runs (the least disturbed by other load), with every time and the top RSS."""
    best = dict(min(runs, key=lambda r: r[key]))
    best["all_" + key] = [round(r[key], 3) for r in runs]
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def run_stage(name: str, params: dict[str, Any], timeout: float = 3600) -> tuple[dict[str, Any], Measured]:
    """Run ``python -m benchmarks.stage name`` and return its metrics and measurement."""
    argv = [sys.executable, "-m", "benchmarks.stage", name, json.dumps(params)]
    measured = run_measured(argv, timeout)
    if measured.returncode != 0:
        raise StageFailed(f"stage {name} failed (exit {measured.returncode}):\n{measured.stderr[-3000:]}")
    for line in reversed(measured.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):]), measured
    raise StageFailed(f"stage {name} printed no result:\n{measured.stdout[-2000:]}{measured.stderr[-2000:]}")


BARE_PYTHON = (sys.executable, "-c", "import click, sqlite3")  # the start-up floor of any click + SQLite CLI


def dmarcflow_argv(*args: str) -> list[str]:
    """The `dmarcflow` command as users run it: the console script beside this Python, else ``-m dmarcflow``."""
    script = Path(sys.executable).parent / "dmarcflow"
    head = [str(script)] if script.exists() else [sys.executable, "-m", "dmarcflow"]
    return head + list(args)


def checked(measured: Measured, what: str, ok: tuple[int, ...] = (0,)) -> Measured:
    if measured.returncode not in ok:
        raise StageFailed(f"{what} failed (exit {measured.returncode}):\n{measured.stderr[-2000:]}")
    return measured


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
