"""Per-step singular values of GD iterates: from the Gram's eigenvalues, on the step's thread or on CPU workers."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import torch


def singular_values_of_grams(gram: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k singular values of U from its (..., R, R) Gram U^T U: sqrt of the eigenvalues, clamped at 0.

    eigvalsh of the R x R Gram replaces svdvals(U) at a fraction of the cost (docs/benchmarks.md).
    Its absolute error is about eps * sigma_1^2, so sigma_i keeps a relative error near
    eps / 2 * (sigma_1 / sigma_i)^2: at most ~1e-4 at sigma_i = 1e-6 sigma_1 (2.5e-6 in tests/unit/test_kernels.py), and
    values below ~1e-8 sigma_1 are noise. Exactly zero columns (the padded exact run) give exact zeros.
    """
    # A diverged iterate makes LAPACK raise or return non-finite values: only then are its non-finite
    # entries zeroed (masking every step would cost more than the solve at d = 30), and the loss check reports the run.
    try:
        eigenvalues = torch.linalg.eigvalsh(gram)  # ascending
    except RuntimeError:  # torch.linalg.LinAlgError
        eigenvalues = None
    if eigenvalues is None or not bool(torch.isfinite(eigenvalues).all()):
        eigenvalues = torch.linalg.eigvalsh(torch.where(torch.isfinite(gram), gram, 0.0))
    return eigenvalues.flip(-1)[..., :k].clamp(min=0).sqrt()


def top_singular_values(U: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k singular values of (B, d, R) U, from its Gram."""
    return singular_values_of_grams(U.mT @ U, k)


class HostCopy:
    """A device tensor's copy into pinned host memory, queued behind the stream's work; wait() returns it.

    Pinned, because only pinned memory lets the copy run without blocking the host (a pageable copy of a chunk's
    Grams stalls the loop; docs/benchmarks.md). A CPU tensor is copied at once.
    """

    def __init__(self, source: torch.Tensor):
        self.shape = source.shape
        self._copy = torch.empty(source.shape, dtype=source.dtype, pin_memory=source.is_cuda)
        self._copy.copy_(source, non_blocking=source.is_cuda)
        self._copied = None
        if source.is_cuda:
            self._copied = torch.cuda.Event()
            self._copied.record(torch.cuda.current_stream(source.device))

    def wait(self) -> torch.Tensor:
        """The copy, once it has landed: waits for the work queued before it, not for what came after."""
        if self._copied is not None:
            self._copied.synchronize()  # releases the GIL while it waits
        return self._copy


#: The fewest Grams a thread takes from one chunk: with one or two each, the threads wait on the GIL more
#: than they solve; with six, a sweep's chunk still keeps every host thread busy (docs/benchmarks.md).
GRAMS_PER_JOB = 6


def host_workers() -> int:
    """CPU threads for the singular values of a device run: every core but the one that launches the steps."""
    return max(1, (os.cpu_count() or 2) - 1)


class SingularValuesOnHost:
    """Singular values of a device run's iterates, computed by CPU threads while the device steps on.

    On a GPU the eigensolver of a 100 x 100 Gram is latency-bound, many times the fused pass's cost
    (docs/benchmarks.md). The step's Grams are kept on
    the device, copied to the host once per chunk (where the loop already syncs for its divergence check)
    and split among CPU threads. The caller sets torch to one thread (gradient_descent does), so each
    thread's LAPACK call runs on one core. Each matrix is solved alone, so the values do not depend on
    the split. Use as a context manager: leaving it waits for every thread.
    """

    def __init__(self, U: torch.Tensor, steps: int, top_k: int, chunk: int, workers: int | None = None):
        runs, _, width = U.shape
        self.kept = min(top_k, width)
        self.values = torch.zeros(runs, steps + 1, top_k, dtype=U.dtype)
        self._grams = U.new_empty(chunk, runs, width, width)  # step-major, so each step's slot is contiguous
        self._first = 0  # step held in _grams[0]
        self._workers = workers or host_workers()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="singular-values")
        self._pending = []

    @property
    def chunk_buffer(self) -> torch.Tensor:
        """The device buffer of the current chunk's Grams, (chunk, runs, R, R): slot j holds step first + j."""
        return self._grams

    def record(self, t: int, gram: torch.Tensor) -> None:
        """Keep the Gram U^T U of iterate t (on the device, no sync)."""
        self._grams[t - self._first].copy_(gram)

    def flush(self, stop: int) -> None:
        """Queue the copy of the Grams of steps [first, stop) to the host and hand them to the threads.

        Nothing here waits for the device: each thread waits for the copy itself, so the caller can queue
        the next steps at once and the GPU never idles while the host catches up.
        """
        # The stream orders the copy before the next steps overwrite the device buffer.
        copy = HostCopy(self._grams[:stop - self._first])
        first, self._first = self._first, stop
        runs = copy.shape[1]
        count = copy.shape[0] * runs
        jobs = max(1, min(self._workers, count // GRAMS_PER_JOB))
        bounds = [count * i // jobs for i in range(jobs + 1)]

        def solve(lo: int, hi: int) -> None:
            flat = copy.wait().flatten(0, 1)
            values = singular_values_of_grams(flat[lo:hi], self.kept).view(-1, self.kept)
            index = torch.arange(lo, hi)
            self.values[index % runs, first + index // runs, :self.kept] = values

        self._pending += [self._pool.submit(solve, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]

    def result(self, device: torch.device) -> torch.Tensor:
        """All values, (runs, steps + 1, top_k), on `device`, once every thread has finished."""
        for future in self._pending:
            future.result()
        self._pending = []
        return self.values.to(device)

    def __enter__(self) -> SingularValuesOnHost:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
