"""Worker processes that run one function over many tasks, with the results handed back in task order.

Made for ``ingest --jobs``: workers parse, the caller (the one writer) stores. What it guarantees:

- Results come back in the order of the tasks, whatever order the workers finish in.
- Memory is bounded: at most ``window`` tasks are in flight or finished and waiting to be taken, so a
  slow caller holds back the workers instead of piling results up.
- A task that raises, or whose worker dies (a crash, a signal, running out of memory), gets a
  ``WorkerFailed`` result; a dead worker is replaced, the tasks queued behind it are sent again, and
  the run goes on.
- Workers ignore SIGINT and SIGTERM (Ctrl-C reaches the whole process group, and a service manager's stop
  the whole control group): the caller finishes or drops the input in hand and stops them when it ends.

Each worker has its own pipe, so a worker that dies while writing can only break its own. Workers are
started by the ``forkserver`` (a clean process that forks each worker): forking the caller itself would
copy its open SQLite connection and any threads into the children.
"""

from __future__ import annotations

import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from multiprocessing import forkserver
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext
from multiprocessing.process import BaseProcess
from typing import Any, Generic, TypeVar

__all__ = ["WorkerFailed", "WorkerPool"]

A = TypeVar("A")
T = TypeVar("T")
R = TypeVar("R")

DEPTH = 2  # tasks sent to one worker at a time: the next one is there when it finishes the first
_IGNORED = (signal.SIGINT, signal.SIGTERM)  # the caller's to act on: it ends the workers (see close)
_STOP_SECONDS = 5.0


@dataclass(frozen=True)
class WorkerFailed:
    """A task that gave no result: its function raised, or its worker died on it."""

    message: str


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    pipe: Connection
    sent: deque[int] = field(default_factory=deque)  # sequence numbers, oldest first: a worker works in order


def _serve(conn: Connection, function: Callable[[Any, Any], Any], arg: Any,
           setup: Callable[[Any], Any] | None) -> None:
    """A worker's life: run the function on each task received, send back each result, until None."""
    for signum in _IGNORED:  # a replacement worker is started while they are not ignored
        signal.signal(signum, signal.SIG_IGN)
    state = setup(arg) if setup is not None else arg
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return  # the caller is gone (it was interrupted while this worker started)
        if task is None:
            return
        try:
            result: object = function(state, task)
        except Exception as exc:  # noqa: BLE001 - the task's failure, reported to the caller
            result = WorkerFailed(f"{type(exc).__name__}: {str(exc)[:200]}")
        try:
            conn.send(result)
        except OSError:
            return  # the caller is gone


class WorkerPool(Generic[A, T, R]):
    """``jobs`` processes running ``function(arg, task)``; use as a context manager, then ``run``.

    ``function`` and ``arg`` must pickle (a module-level function, plain data), as must tasks and results.
    With ``setup``, each worker calls ``function(setup(arg), task)``: ``setup`` makes what a worker keeps
    for all its tasks (an open database, say).
    """

    def __init__(self, jobs: int, function: Callable[[Any, T], R], arg: A, *, window: int | None = None,
                 preload: tuple[str, ...] = (), setup: Callable[[A], Any] | None = None) -> None:
        """``preload``: modules the fork server imports once, so that each worker starts with them."""
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self.window = window if window is not None else jobs * (DEPTH + 1)
        self._function = function
        self._arg = arg
        self._setup = setup
        self._context = ForkServerContext()  # what get_context("forkserver") returns; typed as such
        if preload:
            self._context.set_forkserver_preload(list(preload))
        self.workers: list[_Worker] = []
        self.restarts = 0  # workers replaced after dying

    def __enter__(self) -> WorkerPool[A, T, R]:
        # The fork server is started with SIGINT and SIGTERM ignored, which it and the workers it forks
        # inherit from their first instruction on: Ctrl-C reaches the whole process group (and systemd's
        # stop the whole control group), and one arriving while a worker still imports would print its
        # traceback, or fail the input it parses. Only the spawn itself is inside the window.
        # Only the main thread may change signal handlers: from another thread the window stays open.
        main = threading.current_thread() is threading.main_thread()
        previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _IGNORED} if main else {}
        try:
            forkserver.ensure_running()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        try:
            for _ in range(self.jobs):
                self.workers.append(self._start())
        except BaseException:
            self.close(force=True)
            raise
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.close(force=exc is not None)

    def _start(self) -> _Worker:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(target=_serve, args=(theirs, self._function, self._arg, self._setup),
                                        daemon=True)
        process.start()
        theirs.close()  # the worker's end lives in the worker only: its death is then our EOF
        return _Worker(process, mine)

    def close(self, *, force: bool = False) -> None:
        """Stop every worker: asked to finish (or, with ``force``, killed), then waited for."""
        for worker in self.workers:
            if not force:
                with suppress(OSError):  # dead already
                    worker.pipe.send(None)
            else:
                worker.process.kill()  # SIGTERM is ignored (see _IGNORED)
        for worker in self.workers:
            worker.process.join(_STOP_SECONDS)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.pipe.close()
        self.workers.clear()

    def run(self, tasks: Iterable[T]) -> Iterator[tuple[T, R | WorkerFailed]]:
        """Each task with its result, in the order of ``tasks``."""
        return _Run(self, iter(tasks)).results()

    def _replace(self, dead: _Worker) -> _Worker:
        dead.process.join(_STOP_SECONDS)
        dead.pipe.close()
        fresh = self._start()
        self.workers[self.workers.index(dead)] = fresh
        self.restarts += 1
        return fresh


class _Run(Generic[T, R]):
    """One ``WorkerPool.run``: hands out tasks, collects results, yields them in order."""

    def __init__(self, pool: WorkerPool[Any, T, R], tasks: Iterator[T]) -> None:
        self.pool = pool
        self.tasks = tasks
        self.exhausted = False
        self.given: dict[int, T] = {}  # sent and not yet yielded
        self.done: dict[int, R | WorkerFailed] = {}
        self.again: deque[int] = deque()  # sent to a worker that died before it began them
        self.next_seq = 0
        self.next_out = 0

    def results(self) -> Iterator[tuple[T, R | WorkerFailed]]:
        while True:
            self._hand_out()
            if self.next_out in self.done:
                result = self.done.pop(self.next_out)
                yield self.given.pop(self.next_out), result
                self.next_out += 1
            elif not self.given:
                return
            else:
                self._collect()

    def _hand_out(self) -> None:
        while len(self.given) < self.pool.window or self.again:
            worker = min(self.pool.workers, key=lambda w: len(w.sent))
            if len(worker.sent) >= DEPTH:
                return
            if self.again:
                seq = self.again.popleft()
            elif self.exhausted:
                return
            else:
                try:
                    task = next(self.tasks)
                except StopIteration:
                    self.exhausted = True
                    return
                seq, self.next_seq = self.next_seq, self.next_seq + 1
                self.given[seq] = task
            try:
                worker.pipe.send(self.given[seq])
            except OSError:  # it died between tasks, or on the one in hand
                self.again.appendleft(seq)
                self._died(worker)
                continue
            worker.sent.append(seq)

    def _collect(self) -> None:
        """Wait for the next result or death of any busy worker."""
        watched: dict[object, _Worker] = {}
        for worker in self.pool.workers:
            if worker.sent:
                watched[worker.pipe] = watched[worker.process.sentinel] = worker
        readable = wait(list(watched))  # type: ignore[arg-type] # connections and sentinels, as wait takes them
        for worker in {watched[r] for r in readable}:
            if worker in self.pool.workers:
                self._read(worker)

    def _read(self, worker: _Worker) -> None:
        """Every result the worker has sent; if it is dead, its task in hand failed and the rest go out again."""
        try:
            while worker.pipe.poll():
                result = worker.pipe.recv()
                self.done[worker.sent.popleft()] = result
                if not worker.sent:
                    return
        except (EOFError, OSError):
            self._died(worker)
            return
        if not worker.process.is_alive():
            self._died(worker)

    def _died(self, worker: _Worker) -> None:
        worker.process.join(_STOP_SECONDS)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        if worker.sent:
            self.done[worker.sent.popleft()] = WorkerFailed(f"the worker process parsing it died ({how})")
        self.again = deque(sorted([*self.again, *worker.sent]))  # not begun: sent again, first
        worker.sent.clear()
        self.pool._replace(worker)
