"""Independent experiments computed side by side on the CPU, one thread each, the longest first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Mapping, TypeVar

from .._util import torch_threads

T = TypeVar("T")


class NotStarted(RuntimeError):
    """A job that was due to start after `stop` was set."""


def _unless_stopped(job, stop):
    # A worker can take the next job between the interrupt and the cancelling of the queue.
    if stop is not None and stop.is_set():
        raise NotStarted("not started: the run was interrupted")
    return job()


def compute_concurrently(jobs: Mapping[str, Callable[[], T]], workers: int,
                         on_done: Callable[[str, int], None] | None = None,
                         stop: threading.Event | None = None) -> dict[str, T | Exception]:
    """Run each job, `workers` at a time in threads, with torch (and so the numba pass) on one thread each.

    Jobs start in the mapping's order; a job's exception is returned in place of its value, so one failure
    leaves the others' results. on_done(name, finished) is called on the calling thread as each one ends.
    If the calling thread is interrupted (Ctrl-C), no job starts after it and `stop` is set, so jobs that
    watch it (through their progress callback, say) can end instead of running on to completion.

    Why threads on one core each: the MLP's small matrix products gain little from a second thread, so two
    MLPs side by side finish sooner than one after the other on two threads (docs/benchmarks.md), and the
    sensing pass is bitwise the same on any number of threads. Torch's thread count is global to the process,
    so it is set once here, for all the jobs, and restored after; every job's own `torch_threads` restores 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    results: dict[str, T | Exception] = {}
    with torch_threads(1), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="experiment") as pool:
        futures = {}
        try:  # from the first submit on: an interrupt may arrive as soon as a job runs
            for name, job in jobs.items():
                futures[pool.submit(_unless_stopped, job, stop)] = name
            for finished, future in enumerate(as_completed(futures), 1):
                name = futures[future]
                error = future.exception()
                results[name] = future.result() if error is None else error
                if on_done is not None:
                    on_done(name, finished)
        except BaseException:  # Ctrl-C: start nothing new, and ask the running jobs to end
            if stop is not None:
                stop.set()
            for future in futures:
                future.cancel()
            raise
    return results
