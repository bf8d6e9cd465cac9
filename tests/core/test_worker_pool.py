"""The worker pool behind ``ingest --jobs``: results in task order, a bounded window, dead workers replaced."""

from __future__ import annotations

from collections.abc import Iterator

from dmarcflow.worker_pool import WorkerFailed, WorkerPool
from tests.support.failing_workers import echo_after


def test_results_come_in_task_order_and_never_more_than_the_window_ahead() -> None:
    pulled: list[int] = []

    def tasks() -> Iterator[int]:
        for n in range(20):
            pulled.append(n)
            yield n

    ahead = []
    with WorkerPool(2, echo_after, 0.05, window=4) as pool:
        results = []
        for task, result in pool.run(tasks()):
            ahead.append(len(pulled) - len(results))
            results.append((task, result))
    assert results == [(n, n * 10) for n in range(20)]
    assert max(ahead) == 4  # taken from the iterator and not yet handed back: the window, no more


def test_a_dead_worker_fails_only_its_task_and_is_replaced() -> None:
    with WorkerPool(2, echo_after, 0.01) as pool:
        results = list(pool.run([1, 2, -1, 3, 4, -1, 5]))
        restarts = pool.restarts
        alive = [w.process.is_alive() for w in pool.workers]
    failed = WorkerFailed("the worker process parsing it died (killed by signal 9)")
    assert results == [(1, 10), (2, 20), (-1, failed), (3, 30), (4, 40), (-1, failed), (5, 50)]
    assert (restarts, alive) == (2, [True, True])


def test_workers_stop_when_the_pool_closes() -> None:
    with WorkerPool(2, echo_after, 0.0) as pool:
        processes = [w.process for w in pool.workers]
        assert list(pool.run([1])) == [(1, 10)]
    assert [p.exitcode for p in processes] == [0, 0]


def test_workers_outlive_a_sigterm_to_the_group_and_a_forced_close_kills_them() -> None:
    """systemd stops a service by sending SIGTERM to its whole control group: the workers finish the task in
    hand (the writer decides what to store) instead of failing it; a forced close still ends them."""
    import os
    import signal

    with WorkerPool(2, echo_after, 0.2) as pool:
        processes = [w.process for w in pool.workers]
        results = pool.run([1, 2, 3, 4])
        first = next(results)
        for process in processes:
            assert process.pid is not None
            os.kill(process.pid, signal.SIGTERM)
        rest = list(results)
        restarts = pool.restarts
        pool.close(force=True)
    assert [first, *rest] == [(1, 10), (2, 20), (3, 30), (4, 40)]
    assert restarts == 0
    assert [p.exitcode for p in processes] == [-signal.SIGKILL, -signal.SIGKILL]


def test_a_pool_started_from_another_thread_works() -> None:
    """Signal handlers can only be set from the main thread: a pool started elsewhere still runs its tasks."""
    import threading

    got: list[object] = []

    def use_pool() -> None:
        try:
            with WorkerPool(2, echo_after, 0.0) as pool:
                got.extend(pool.run([1, 2, 3]))
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            got.append(exc)

    thread = threading.Thread(target=use_pool)
    thread.start()
    thread.join(120)
    assert got == [(1, 10), (2, 20), (3, 30)]
