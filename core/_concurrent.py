"""Independent experiments computed side by side on the CPU, one thread each, the longest first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Mapping, TypeVar

from ._descent import _torch_threads
from ._experiments import RecoveryConfig, SensingConfig
from ._mlp import MLPConfig

T = TypeVar("T")

# Single-thread rates on this project's 2-core CPU (torch 2.14.1), used only to order the queue, so a wrong
# one costs balance, never a result. The 40-epoch, 134,400-weight MLP took 24 s: seconds per epoch, training
# image and weight.
_MLP_SECONDS = 24.0 / (40 * 60_000 * 134_400)
# The 5dr sweep (3001 passes, m = 2500, P = 5050, 6 runs) took 40 s: seconds per pass, row, entry and run.
_SENSING_SECONDS = 40.0 / (3001 * 2500 * 5050 * 6)
# Small problems are bound by the per-step overhead instead: the d=30 sweep (20,001 steps, m = 90) took 12.7 s;
# a PSD-projected step at d=40 (an eigendecomposition) about 1 ms.
_STEP_SECONDS = 12.7 / 20_001
_PROJECTED_STEP_SECONDS = 1e-3
# A d=30 min-trace SDP took 0.3 s; interior-point work grows as the cube of its d^2/2 unknowns.
_SDP_SECONDS = 0.3


def estimated_seconds(config) -> float:
    """A rough single-thread compute time of `config` (0 for the small experiments)."""
    if isinstance(config, MLPConfig):
        widths = (784, *config.hidden_sizes, 10)
        return _MLP_SECONDS * config.epochs * 60_000 * sum(a * b for a, b in zip(widths, widths[1:]))
    if isinstance(config, SensingConfig):
        packed = config.d * (config.d + 1) // 2
        per_step = _STEP_SECONDS + (_PROJECTED_STEP_SECONDS if config.projected else 0.0)
        return (config.steps + 1) * (_SENSING_SECONDS * config.m * packed * (len(config.alphas) + 1) + per_step)
    if isinstance(config, RecoveryConfig):
        return _SDP_SECONDS * len(config.ms) * config.trials * (config.d / 30) ** 6
    return 0.0


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

    Why threads on one core each: the MLP's small matrix products gain 1.3x from a second thread, so two
    MLPs side by side finish 1.25x sooner than one after the other on two threads, and the sensing pass is
    bitwise the same on any number of threads. Torch's thread count is global to the process, so it is set
    once here, for all the jobs, and restored after; every job's own `_torch_threads` then restores 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    results: dict[str, T | Exception] = {}
    with _torch_threads(1), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="experiment") as pool:
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
