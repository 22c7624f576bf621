"""CPU fused sensing pass (numba): residuals and adjoint in one read of the packed operator.

The numba tiles below are the one CPU kernel of the pass, for any run count and storage dtype.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Rows per chunk. Fixed (never derived from the thread count) so every chunk sums the same rows in
#: the same order whatever the number of threads; a multiple of ROW_BLOCK.
CHUNK_ROWS = 256
#: Rows per register tile; CHUNK_ROWS is a multiple of it.
ROW_BLOCK = 4
#: Runs per register tile, largest first: a sweep of 6 runs is one tile, 7 runs are a 6-tile and a 1-tile.
TILE_RUNS = (6, 2, 1)

_TILE_TEMPLATE = """
def _tile{B}(A, Xp, y, acc, residual, i, stop, b):
    last = stop - 1
{rows}
{runs}
{zero}
    for p in range(A.shape[1]):
{column}
{dots}
{residuals}
{adjoint_rows}
{next_rows}
    P = A.shape[1]
    line = 64 // A.itemsize
    for q in range(0, P, PREFETCH_COLUMNS):
        for p in range(q, q + PREFETCH_COLUMNS, line):
{prefetches}
        # Unsigned bounds: with a signed start numba keeps its negative-index check and LLVM gives up on
        # vectorizing the loop.
        for p in range(np.uint64(q), np.uint64(min(q + PREFETCH_COLUMNS, P))):
{column2}
{adjoint}
"""

#: Columns of the adjoint loop between prefetches of the next tile's rows. The adjoint streams no new
#: operator rows, so the next ROW_BLOCK rows are requested during it, a few cache lines every PREFETCH_COLUMNS
#: columns; the next residual loop then finds them in cache instead of waiting on memory. 64 was the best of
#: the spacings tried in paired timings; too dense or too sparse lost time (docs/benchmarks.md). The prefetch is
#: a hint: it changes no value.
PREFETCH_COLUMNS = 64


def _tile_source(B: int) -> str:
    """Source of `_tile{B}`: ROW_BLOCK rows x B runs of the fused pass, every partial sum in a register.

    Each loaded operator value feeds B multiply-adds in the residual loop and B in the adjoint loop, so the
    pass moves from L2-bandwidth-bound toward compute-bound as B grows.
    numba cannot keep a small array in registers, hence the generated scalars. Rows past `stop` alias row
    `last` and get zero weight, so a chunk need not be a multiple of ROW_BLOCK.
    """
    R, runs = range(ROW_BLOCK), range(B)
    lines = lambda items, indent=4: "\n".join(" " * indent + item for item in items)  # noqa: E731
    return _TILE_TEMPLATE.format(
        B=B,
        rows=lines(f"i{r} = min(i + {r}, last); a{r} = A[i{r}]" for r in R),
        runs=lines(f"x{k} = Xp[b + {k}]" for k in runs),
        zero=lines(f"s{k}_{r} = 0.0" for k in runs for r in R),
        column=lines((f"v{r} = a{r}[p]" for r in R), 8),
        dots=lines((f"s{k}_{r} += v{r} * x{k}[p]" for k in runs for r in R), 8),
        residuals=lines(f"e{k}_{r} = s{k}_{r} - y[i{r}] if i + {r} < stop else 0.0" for k in runs for r in R)
        + "\n" + lines(f"if i + {r} < stop: residual[b + {k}, i{r}] = e{k}_{r}" for k in runs for r in R),
        adjoint_rows=lines(f"g{k} = acc[b + {k}]" for k in runs),
        next_rows=lines(f"n{r} = min(i + {ROW_BLOCK + r}, A.shape[0] - 1)" for r in R),
        prefetches=lines((f"_prefetch(A, n{r}, min(p, P - 1))" for r in R), 12),
        column2=lines((f"v{r} = a{r}[p]" for r in R), 12),
        adjoint=lines((f"g{k}[p] += " + " + ".join(f"e{k}_{r} * v{r}" for r in R) for k in runs), 12))


@intrinsic
def _prefetch(typingctx, array, row, column):
    """Ask for the cache line of array[row, column] (x86 prefetcht0). A hint: it changes no value."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, args[1:], wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        # declare_intrinsic mangles the name for the pointer type (p0i8 or p0) of this llvmlite's IR layer
        hint = builder.module.declare_intrinsic("llvm.prefetch", [i8p],
                                                ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]))
        # read, locality 3 (keep in every cache level: it gained more than L2 only), data cache
        builder.call(hint, [builder.bitcast(pointer, i8p), *(ir.Constant(i32, v) for v in (0, 3, 1))])
        return context.get_dummy_value()
    return types.void(array, row, column), codegen

# reassoc lets LLVM vectorize the dot products; the order it picks is fixed at compile time,
# so results stay bitwise reproducible on one machine whatever the thread count.
_FASTMATH = {"reassoc", "contract"}
for _B in TILE_RUNS:
    # Compiled under this file's name so numba's on-disk cache keys on (and is invalidated with) this file.
    exec(compile(_tile_source(_B), __file__, "exec"), globals())
    globals()[f"_tile{_B}"] = njit(nogil=True, fastmath=_FASTMATH, cache=True)(globals()[f"_tile{_B}"])

@njit(nogil=True, fastmath=_FASTMATH, cache=True)
def _chunk_partials(A, Xp, y, partial, residual, first, stop_chunk):
    m = A.shape[0]
    runs = Xp.shape[0]
    for c in range(first, stop_chunk):
        acc = partial[c]
        acc[:] = 0.0
        start = c * CHUNK_ROWS
        stop = min(m, start + CHUNK_ROWS)
        for i in range(start, stop, ROW_BLOCK):
            b = 0
            while runs - b >= 6:
                _tile6(A, Xp, y, acc, residual, i, stop, b)  # noqa: F821 (generated above)
                b += 6
            while runs - b >= 2:
                _tile2(A, Xp, y, acc, residual, i, stop, b)  # noqa: F821
                b += 2
            if b < runs:
                _tile1(A, Xp, y, acc, residual, i, stop, b)  # noqa: F821

@njit(nogil=True, cache=True)
def _reduce_unpack(partial, rows, cols, out, first, stop_col):
    chunks, runs, P = partial.shape
    # Chunk by chunk, each row of partial sums read front to back, where summing each column down the chunks
    # would jump a whole row between loads. Each entry is still 0 + chunk 0 + chunk 1 + ..., so the sums are
    # bitwise those of the column order.
    total = np.zeros((runs, stop_col - first))
    for c in range(chunks):
        for b in range(runs):
            row, acc = partial[c, b], total[b]
            for p in range(first, stop_col):
                acc[p - first] += row[p]
    for p in range(first, stop_col):
        j, k = rows[p], cols[p]
        # Off-diagonal rows carry 2 S_jk, hence the half.
        weight = 1.0 if j == k else 0.5
        for b in range(runs):
            out[b, j, k] = weight * total[b, p - first]
            out[b, k, j] = weight * total[b, p - first]


#: Operator entries x runs below which the pass stays on the calling thread: handing chunks to a second
#: thread costs more than it saves on a pass this small (P1's runs at d = 40, m <= 800); the sweeps at d = 100
#: have 12x to 60x more work and keep every thread (docs/benchmarks.md).
MIN_WORK_FOR_THREADS = 1 << 23


class FusedWorkspace:
    """Per-chunk partial sums of one fused pass, reused across GD steps of the same shape."""

    def __init__(self, m: int, runs: int, d: int):
        self.partial = np.empty((-(-m // CHUNK_ROWS), runs, d * (d + 1) // 2))
        self.reduce_bounds: dict[int, np.ndarray] = {}  # workers -> column bounds of the reduction

    def bounds(self, workers: int) -> np.ndarray:
        """Split of the packed columns among `workers` for the reduction, computed once per count."""
        if workers not in self.reduce_bounds:
            self.reduce_bounds[workers] = np.linspace(0, self.partial.shape[2], workers + 1).astype(np.int64)
        return self.reduce_bounds[workers]


def fused_residual_adjoint(A: np.ndarray, Xp: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                           d: int, work: FusedWorkspace, threads: int = 1,
                           alongside=None) -> tuple[np.ndarray, np.ndarray]:
    """Residual A(X) - y as (B, m) and adjoint A*(residual) as symmetric (B, d, d), in fp64 from one pass.

    A is the packed (m, P) operator stored in float32 or float64; products and sums are float64 either way.
    rows, cols are the upper-triangle indices of the packing of d x d matrices. threads only changes speed:
    chunks and the order of their reduction are fixed, so the result is bitwise the same for any count.
    alongside, if given, is called once on the calling thread while the other threads start on the chunks;
    the caller then joins them. Work that does not need this pass (the iterate's diagnostics) so fills the
    pass's cores instead of waiting for it.
    """
    runs = Xp.shape[0]
    residual = np.empty((runs, A.shape[0]))
    adjoint = np.empty((runs, d, d))
    chunks, P = work.partial.shape[0], work.partial.shape[2]
    workers = min(threads, chunks) if A.size * runs >= MIN_WORK_FOR_THREADS else 1
    if workers <= 1:
        if alongside is not None:
            alongside()
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

    _run_on_workers(drain, workers, first=alongside)
    bounds = work.bounds(workers)
    next_part = itertools.count().__next__

    def reduce_part():
        part = next_part()
        _reduce_unpack(work.partial, rows, cols, adjoint, bounds[part], bounds[part + 1])

    _run_on_workers(reduce_part, workers)
    return residual, adjoint


_POOL: ThreadPoolExecutor | None = None


def _run_on_workers(task, workers: int, first=None) -> None:
    """Run task() `workers` times at once: workers - 1 times on the pool, once on the calling thread,
    which calls first() before its task()."""
    global _POOL
    if _POOL is None or _POOL._max_workers < workers - 1:
        _POOL = ThreadPoolExecutor(max_workers=workers - 1, thread_name_prefix="sensing-kernel")
    futures = [_POOL.submit(task) for _ in range(workers - 1)]
    if first is not None:
        first()
    task()
    for future in futures:
        future.result()
