"""Worker functions for ``ingest --jobs`` tests that fail on purpose, in a real worker process.

They are the real ``parse_input`` except for files named on purpose: ``crash-*`` kills its own worker
process (SIGKILL, as the kernel's out-of-memory killer would), ``bug-*`` raises past ``parse_input``'s
own handling (as a bug in the worker's loop would), ``writer-*`` is handed back to the writer.
Nothing is mocked: the pool, the processes and the pipes are the real ones.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from dmarcflow.ingest_worker import WorkerResult, WorkerState, WriterTakesIt, parse_input


def parse_or_fail(state: WorkerState, path: str) -> WorkerResult:
    name = Path(path).name
    if name.startswith("crash-"):
        os.kill(os.getpid(), signal.SIGKILL)
    if name.startswith("bug-"):
        raise ZeroDivisionError("a bug in the worker")
    if name.startswith("writer-"):
        return WriterTakesIt("mbox")
    return parse_input(state, path)


def echo_after(delay: float, task: int) -> int:
    """Task ``n`` back, later for even tasks (so that workers finish out of order); -1 kills the worker."""
    import time

    if task < 0:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(delay if task % 2 == 0 else 0)
    return task * 10
