"""CUDA sensing pass (Triton): residuals and the adjoint as per-program partial sums reduced in a fixed order.

One run whose packed row fits in registers (P <= ONE_READ_COLUMNS) takes one read: each program holds the
iterate and its adjoint partial sums for a whole row and walks its rows once. With more runs those sums
(runs x P doubles a program) do not fit on chip, so the pass reads the operator twice, each read streaming at
full width: the residuals, then the adjoint over fixed row groups (docs/benchmarks.md).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Row groups of the adjoint: its partial sums are (ROW_GROUPS, runs, P), reduced in group order.
ROW_GROUPS = 16
#: The one-read pass: programs (each a fixed, contiguous range of rows; fixed, not the SM count, so that the
#: order of the sums does not depend on the GPU), the widest packed row it holds in registers (16 doubles a
#: thread per vector on 16 warps: d <= 127), and its warps.
ONE_READ_PROGRAMS = 128
ONE_READ_COLUMNS = 8192
ONE_READ_WARPS = 16


def tiles(runs: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, columns) of the residual kernel's and the adjoint kernel's tiles for this many runs.

    Fixed per run count, never autotuned, since the order of every sum depends on them. Each program keeps
    about 4096 float64 products (32 a thread on 4 warps): larger tiles spilled, smaller ones left the
    memory system idle. docs/benchmarks.md has the traffic each kernel reaches against one read of the operator.
    """
    padded = triton.next_power_of_2(runs)
    forward_rows = max(1, min(8, 32 // padded))
    forward = (forward_rows, 256 if padded == 1 else max(16, min(128, 4096 // (padded * forward_rows))))
    adjoint_cols = 64 if padded <= 2 else 32
    return forward, (max(1, min(32, 4096 // (padded * adjoint_cols))), adjoint_cols)


@triton.jit
def _residual(A, Xp, y, residual, m, P, runs,
              RUNS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr):
    row = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    run = tl.arange(0, RUNS)
    row_ok, run_ok = row < m, run < runs
    offsets = row.to(tl.int64)[:, None] * P  # m P passes 2^31 at paper-scale d = 300
    # Products accumulate elementwise and are summed once at the end: a sum per tile would shuffle
    # between threads every iteration. Broadcast and tl.sum, not tl.dot (compiled tl.dot takes TF32 for
    # fp32 data, the interpreter does not).
    acc = tl.zeros((RUNS, BLOCK_M, BLOCK_P), dtype=tl.float64)
    for start in range(0, P, BLOCK_P):
        col = start + tl.arange(0, BLOCK_P)
        col_ok = col < P
        a = tl.load(A + offsets + col[None, :], mask=row_ok[:, None] & col_ok[None, :], other=0.0)
        x = tl.load(Xp + run[:, None] * P + col[None, :], mask=run_ok[:, None] & col_ok[None, :], other=0.0)
        acc += a.to(tl.float64)[None, :, :] * x[:, None, :]
    target = tl.load(y + row, mask=row_ok, other=0.0)
    both_ok = run_ok[:, None] & row_ok[None, :]
    tl.store(residual + run[:, None] * m + row[None, :], tl.sum(acc, axis=2) - target[None, :], mask=both_ok)


@triton.jit
def _adjoint_partials(A, residual, partial, m, P, runs, rows_per_group,
                      RUNS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr):
    col = tl.program_id(0) * BLOCK_P + tl.arange(0, BLOCK_P)
    group = tl.program_id(1)
    run = tl.arange(0, RUNS)
    col_ok, run_ok = col < P, run < runs
    first = group * rows_per_group
    acc = tl.zeros((RUNS, BLOCK_M, BLOCK_P), dtype=tl.float64)
    for start in range(first, first + rows_per_group, BLOCK_M):
        row = start + tl.arange(0, BLOCK_M)
        row_ok = row < m
        a = tl.load(A + row.to(tl.int64)[:, None] * P + col[None, :], mask=row_ok[:, None] & col_ok[None, :],
                    other=0.0)
        err = tl.load(residual + run[:, None] * m + row[None, :], mask=run_ok[:, None] & row_ok[None, :], other=0.0)
        acc += err[:, :, None] * a.to(tl.float64)[None, :, :]
    tl.store(partial + (group * runs + run[:, None]) * P + col[None, :], tl.sum(acc, axis=1),
             mask=run_ok[:, None] & col_ok[None, :])


@triton.jit
def _one_read(A, Xp, y, residual, partial, m, P, rows_per_program, COLUMNS: tl.constexpr, ROWS: tl.constexpr):
    # The program's whole packed row of iterate and of adjoint sums stays in registers, so each operator row
    # is loaded once and serves both its residual and its share of the adjoint.
    program = tl.program_id(0)
    col = tl.arange(0, COLUMNS)
    col_ok = col < P
    lane = tl.arange(0, ROWS)
    x = tl.load(Xp + col, mask=col_ok, other=0.0)
    acc = tl.zeros((COLUMNS,), dtype=tl.float64)
    first = program * rows_per_program
    stop = tl.minimum(first + rows_per_program, m)
    pointers = A + (first + lane).to(tl.int64)[:, None] * P + col[None, :]  # 64-bit: m P may pass 2^31
    for start in range(first, stop, ROWS):
        row = start + lane
        row_ok = row < stop
        a = tl.load(pointers, mask=row_ok[:, None] & col_ok[None, :], other=0.0).to(tl.float64)
        err = tl.sum(a * x[None, :], axis=1) - tl.load(y + row, mask=row_ok, other=0.0)
        tl.store(residual + row, err, mask=row_ok)
        acc += tl.sum(err[:, None] * a, axis=0)  # rows past `stop` have err = 0
        pointers += ROWS * P
    tl.store(partial + program * P + col, acc, mask=col_ok)


@triton.jit
def _reduce_unpack(partial, rows, cols, out, groups, P, d, GROUPS: tl.constexpr, BLOCK_P: tl.constexpr):
    run = tl.program_id(0)
    runs = tl.num_programs(0)
    col = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    ok = col < P
    lane = tl.arange(0, GROUPS)
    # GROUPS partial sums at a time, added elementwise in group order and summed once at the end: a fixed
    # order, with GROUPS loads in flight instead of one (the one-read pass has 128 groups).
    acc = tl.zeros((GROUPS, BLOCK_P), dtype=tl.float64)
    for start in range(0, groups, GROUPS):
        group = start + lane
        acc += tl.load(partial + (group[:, None] * runs + run) * P + col[None, :],
                       mask=(group < groups)[:, None] & ok[None, :], other=0.0)
    s = tl.sum(acc, axis=0)
    j = tl.load(rows + col, mask=ok, other=0)
    k = tl.load(cols + col, mask=ok, other=0)
    # Off-diagonal rows carry 2 S_jk, hence the half.
    s = tl.where(j == k, s, 0.5 * s)
    tl.store(out + run * d * d + j * d + k, s, mask=ok)
    tl.store(out + run * d * d + k * d + j, s, mask=ok)


def residuals(packed: torch.Tensor, Xp: torch.Tensor, y: torch.Tensor, tile: tuple[int, int],
              **launch) -> torch.Tensor:
    """Residual (B, m) with (rows, columns) tiles; `launch` passes num_warps or num_stages to Triton."""
    m, P = packed.shape
    runs = Xp.shape[0]
    residual = Xp.new_empty(runs, m)
    _residual[(triton.cdiv(m, tile[0]),)](packed, Xp, y, residual, m, P, runs, RUNS=triton.next_power_of_2(runs),
                                          BLOCK_M=tile[0], BLOCK_P=tile[1], **{"num_warps": 4, **launch})
    return residual


def adjoint_partials(packed: torch.Tensor, residual: torch.Tensor, tile: tuple[int, int],
                     row_groups: int = ROW_GROUPS, **launch) -> torch.Tensor:
    """Partial adjoint sums (groups, B, P), one slice per group of rows, with (rows, columns) tiles."""
    m, P = packed.shape
    runs = residual.shape[0]
    rows_per_group = triton.cdiv(triton.cdiv(m, row_groups), tile[0]) * tile[0]
    groups = triton.cdiv(m, rows_per_group)
    partial = residual.new_empty(groups, runs, P)
    _adjoint_partials[(triton.cdiv(P, tile[1]), groups)](
        packed, residual, partial, m, P, runs, rows_per_group, RUNS=triton.next_power_of_2(runs),
        BLOCK_M=tile[0], BLOCK_P=tile[1], **{"num_warps": 4, **launch})
    return partial


def one_read_partials(packed: torch.Tensor, Xp: torch.Tensor, y: torch.Tensor, programs: int = ONE_READ_PROGRAMS,
                      rows_at_once: int = 1, **launch) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual (1, m) and the adjoint's partial sums (programs, 1, P) of one run, from one read of the operator,
    `rows_at_once` rows per iteration."""
    m, P = packed.shape
    if Xp.shape[0] != 1 or triton.next_power_of_2(P) > ONE_READ_COLUMNS:
        raise ValueError(f"the one-read pass takes one run with P <= {ONE_READ_COLUMNS}, got {Xp.shape[0]} runs "
                         f"and P = {P}")
    residual = Xp.new_empty(1, m)
    partial = Xp.new_empty(programs, 1, P)
    _one_read[(programs,)](packed, Xp, y, residual, partial, m, P, triton.cdiv(m, programs),
                           COLUMNS=triton.next_power_of_2(P), ROWS=rows_at_once,
                           **{"num_warps": ONE_READ_WARPS, **launch})
    return residual, partial


def fused_residual_adjoint(packed: torch.Tensor, Xp: torch.Tensor, y: torch.Tensor, rows: torch.Tensor,
                           cols: torch.Tensor, d: int,
                           one_read: bool | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual (B, m) and symmetric adjoint (B, d, d) in fp64 for fp64 iterates; packed may be fp32 or fp64.

    one_read: None takes the one-read pass wherever it applies (one run, P <= ONE_READ_COLUMNS); False forces
    the two-read pass, for comparison.
    """
    P = packed.shape[1]
    runs = Xp.shape[0]
    packed, Xp, y = packed.contiguous(), Xp.contiguous(), y.contiguous().to(torch.float64)
    if one_read is None:
        one_read = runs == 1 and triton.next_power_of_2(P) <= ONE_READ_COLUMNS
    if one_read:
        residual, partial = one_read_partials(packed, Xp, y)
    else:
        forward_tile, adjoint_tile = tiles(runs)
        residual = residuals(packed, Xp, y, forward_tile)
        partial = adjoint_partials(packed, residual, adjoint_tile)
    adjoint = Xp.new_empty(runs, d, d)
    _reduce_unpack[(runs, triton.cdiv(P, 64))](partial, rows, cols, adjoint, len(partial), P, d, GROUPS=16,
                                               BLOCK_P=64)
    return residual, adjoint
