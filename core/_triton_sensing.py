"""CUDA sensing pass (Triton): residuals, then the adjoint as per-group partials reduced in a fixed order.

A GPU cannot keep a block of operator rows on chip between the residual and the adjoint (the adjoint's
accumulators alone are runs x P doubles), so the pass reads the operator twice, each read streaming at
full width: the floor is two reads, not one (README, Benchmarks).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Row groups of the adjoint: its partial sums are (ROW_GROUPS, runs, P), reduced in group order.
ROW_GROUPS = 16


def tiles(runs: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, columns) of the residual kernel's and the adjoint kernel's tiles for this many runs.

    Fixed per run count, never autotuned, since the order of every sum depends on them. Each program keeps
    about 4096 float64 products (32 a thread on 4 warps): larger tiles spilled, smaller ones left the
    memory system idle. Measured on an H100 at d = 100, m = 5000 (README): each kernel reads the operator
    at 1.0x one read for one run, 1.2x (residual) and 1.4x (adjoint) for six.
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
def _reduce_unpack(partial, rows, cols, out, groups, P, d, BLOCK_P: tl.constexpr):
    run = tl.program_id(0)
    col = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    ok = col < P
    s = tl.zeros((BLOCK_P,), dtype=tl.float64)
    for group in range(0, groups):  # fixed order: group 0 first
        s += tl.load(partial + (group * tl.num_programs(0) + run) * P + col, mask=ok, other=0.0)
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


def fused_residual_adjoint(packed: torch.Tensor, Xp: torch.Tensor, y: torch.Tensor, rows: torch.Tensor,
                           cols: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual (B, m) and symmetric adjoint (B, d, d) in fp64 for fp64 iterates; packed may be fp32 or fp64."""
    P = packed.shape[1]
    runs = Xp.shape[0]
    packed, Xp, y = packed.contiguous(), Xp.contiguous(), y.contiguous().to(torch.float64)
    forward_tile, adjoint_tile = tiles(runs)
    residual = residuals(packed, Xp, y, forward_tile)
    partial = adjoint_partials(packed, residual, adjoint_tile)
    adjoint = Xp.new_empty(runs, d, d)
    _reduce_unpack[(runs, triton.cdiv(P, 256))](partial, rows, cols, adjoint, len(partial), P, d, BLOCK_P=256)
    return residual, adjoint
