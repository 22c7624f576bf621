"""CPU fused sensing pass (numba): residuals and adjoint in one read of the packed operator."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np

try:
    from numba import njit
except ImportError:  # the caller falls back to the torch path and says so
    njit = None

#: Rows per chunk. Fixed (never derived from the thread count) so every chunk sums the same rows in
#: the same order whatever the number of threads; a multiple of 4, the row block of the inner loops.
CHUNK_ROWS = 256
#: Explains the fallback wherever the torch path is used on CPU because numba is missing.
UNAVAILABLE_MESSAGE = ("numba is not installed: the sensing step falls back to the torch path, which reads the "
                       "operator twice per step (about 2x slower); `pip install numba` restores the fused pass")

AVAILABLE = njit is not None

if AVAILABLE:
    # reassoc lets LLVM vectorize the dot products; the order it picks is fixed at compile time,
    # so results stay bitwise reproducible on one machine whatever the thread count.
    _FASTMATH = {"reassoc", "contract"}

    @njit(nogil=True, fastmath=_FASTMATH, cache=True)
    def _chunk_partials(A, Xp, y, partial, residual, first, stop_chunk):
        m, P = A.shape
        runs = Xp.shape[0]
        for c in range(first, stop_chunk):
            acc = partial[c]
            acc[:] = 0.0
            start = c * CHUNK_ROWS
            stop = min(m, start + CHUNK_ROWS)
            last = stop - 1
            for i in range(start, stop, 4):
                # Four rows and two runs per pass: each loaded value feeds several FMAs, which is
                # what moves six runs from load-bound toward the memory floor. Rows past `stop`
                # alias row `last` and get zero weight.
                i1, i2, i3 = min(i + 1, last), min(i + 2, last), min(i + 3, last)
                r0, r1, r2, r3 = A[i], A[i1], A[i2], A[i3]
                for b in range(0, runs, 2):
                    b1 = min(b + 1, runs - 1)
                    x0, x1 = Xp[b], Xp[b1]
                    s00 = s01 = s02 = s03 = 0.0
                    s10 = s11 = s12 = s13 = 0.0
                    for p in range(P):
                        u0, u1 = x0[p], x1[p]
                        a0, a1, a2, a3 = r0[p], r1[p], r2[p], r3[p]
                        s00 += a0 * u0
                        s01 += a1 * u0
                        s02 += a2 * u0
                        s03 += a3 * u0
                        s10 += a0 * u1
                        s11 += a1 * u1
                        s12 += a2 * u1
                        s13 += a3 * u1
                    e00, e10 = s00 - y[i], s10 - y[i]
                    e01 = s01 - y[i1] if i + 1 < stop else 0.0
                    e02 = s02 - y[i2] if i + 2 < stop else 0.0
                    e03 = s03 - y[i3] if i + 3 < stop else 0.0
                    e11 = s11 - y[i1] if i + 1 < stop else 0.0
                    e12 = s12 - y[i2] if i + 2 < stop else 0.0
                    e13 = s13 - y[i3] if i + 3 < stop else 0.0
                    residual[b, i] = e00
                    residual[b1, i] = e10
                    if i + 1 < stop:
                        residual[b, i1] = e01
                        residual[b1, i1] = e11
                    if i + 2 < stop:
                        residual[b, i2] = e02
                        residual[b1, i2] = e12
                    if i + 3 < stop:
                        residual[b, i3] = e03
                        residual[b1, i3] = e13
                    g0 = acc[b]
                    if b1 != b:
                        g1 = acc[b1]
                        for p in range(P):
                            a0, a1, a2, a3 = r0[p], r1[p], r2[p], r3[p]
                            g0[p] += e00 * a0 + e01 * a1 + e02 * a2 + e03 * a3
                            g1[p] += e10 * a0 + e11 * a1 + e12 * a2 + e13 * a3
                    else:  # odd run count: the last run has no partner
                        for p in range(P):
                            g0[p] += e00 * r0[p] + e01 * r1[p] + e02 * r2[p] + e03 * r3[p]

    @njit(nogil=True, cache=True)
    def _reduce_unpack(partial, rows, cols, out, first, stop_col):
        chunks, runs, P = partial.shape
        for p in range(first, stop_col):
            j, k = rows[p], cols[p]
            # Off-diagonal rows carry 2 S_jk, hence the half.
            weight = 1.0 if j == k else 0.5
            for b in range(runs):
                s = 0.0
                for c in range(chunks):  # fixed order: chunk 0 first
                    s += partial[c, b, p]
                out[b, j, k] = weight * s
                out[b, k, j] = weight * s


class FusedWorkspace:
    """Per-chunk partial sums of one fused pass, reused across GD steps of the same shape."""

    def __init__(self, m: int, runs: int, d: int):
        self.partial = np.empty((-(-m // CHUNK_ROWS), runs, d * (d + 1) // 2))


def fused_residual_adjoint(A: np.ndarray, Xp: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                           d: int, work: FusedWorkspace, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Residual A(X) - y as (B, m) and adjoint A*(residual) as symmetric (B, d, d), in fp64 from one pass.

    A is the packed (m, P) operator stored in float32 or float64; products and sums are float64 either way.
    rows, cols are the upper-triangle indices of the packing of d x d matrices. threads only changes speed:
    chunks and the order of their reduction are fixed, so the result is bitwise the same for any count.
    """
    runs = Xp.shape[0]
    residual = np.empty((runs, A.shape[0]))
    adjoint = np.empty((runs, d, d))
    chunks, P = work.partial.shape[0], work.partial.shape[2]
    workers = min(threads, chunks)
    if workers <= 1:
        _chunk_partials(A, Xp, y, work.partial, residual, 0, chunks)
        _reduce_unpack(work.partial, rows, cols, adjoint, 0, P)
        return residual, adjoint
    # Python threads running nogil numba code, not numba's OpenMP pool: a second OpenMP runtime next to
    # torch's spin-waits against it, which made steps up to 20x slower on a loaded 2-core machine.
    # Chunks are handed out one at a time, so a descheduled thread delays one chunk, not half the pass.
    next_chunk = itertools.count().__next__  # atomic under the GIL

    def drain():
        c = next_chunk()
        while c < chunks:
            _chunk_partials(A, Xp, y, work.partial, residual, c, c + 1)
            c = next_chunk()

    _run_on_workers(drain, workers)
    bounds = np.linspace(0, P, workers + 1).astype(np.int64)
    next_part = itertools.count().__next__

    def reduce_part():
        part = next_part()
        _reduce_unpack(work.partial, rows, cols, adjoint, bounds[part], bounds[part + 1])

    _run_on_workers(reduce_part, workers)
    return residual, adjoint


_POOL: ThreadPoolExecutor | None = None


def _run_on_workers(task, workers: int) -> None:
    """Run task() `workers` times at once: workers - 1 times on the pool, once on the calling thread."""
    global _POOL
    if _POOL is None or _POOL._max_workers < workers - 1:
        _POOL = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="sensing-kernel")
    futures = [_POOL.submit(task) for _ in range(workers - 1)]
    task()
    for future in futures:
        future.result()
