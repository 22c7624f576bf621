"""CUDA fused sensing step (Triton): residuals and per-block adjoint partials, reduced in a fixed order."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

#: Rows per program. Fixed, so the partial sums and their reduction order never depend on the device.
BLOCK_M = 32
#: Packed columns per tile.
BLOCK_P = 32


@triton.jit
def _block_partials(A, Xp, y, residual, partial, m, P, runs,
                    RUNS: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_P: tl.constexpr):
    block = tl.program_id(0)
    row = block * BLOCK_M + tl.arange(0, BLOCK_M)
    run = tl.arange(0, RUNS)
    row_ok, run_ok = row < m, run < runs
    # Sweep 1: every run's residual on this block of rows. Broadcast multiply and tl.sum, not tl.dot:
    # compiled tl.dot would use TF32 for fp32 data, and the interpreter would not.
    dots = tl.zeros((RUNS, BLOCK_M), dtype=tl.float64)
    for start in range(0, P, BLOCK_P):
        col = start + tl.arange(0, BLOCK_P)
        col_ok = col < P
        a = tl.load(A + row[:, None] * P + col[None, :], mask=row_ok[:, None] & col_ok[None, :], other=0.0)
        x = tl.load(Xp + run[:, None] * P + col[None, :], mask=run_ok[:, None] & col_ok[None, :], other=0.0)
        dots += tl.sum(a.to(tl.float64)[None, :, :] * x[:, None, :], axis=2)
    target = tl.load(y + row, mask=row_ok, other=0.0)
    both_ok = run_ok[:, None] & row_ok[None, :]
    err = tl.where(both_ok, dots - target[None, :], 0.0)
    tl.store(residual + run[:, None] * m + row[None, :], err, mask=both_ok)
    # Sweep 2: this block's share of the adjoint, into its own slice of `partial` (no atomics). The block
    # was read moments ago, so on a GPU much of this re-read comes from L2.
    for start in range(0, P, BLOCK_P):
        col = start + tl.arange(0, BLOCK_P)
        col_ok = col < P
        a = tl.load(A + row[:, None] * P + col[None, :], mask=row_ok[:, None] & col_ok[None, :], other=0.0)
        g = tl.sum(err[:, :, None] * a.to(tl.float64)[None, :, :], axis=1)
        tl.store(partial + (block * runs + run[:, None]) * P + col[None, :], g,
                 mask=run_ok[:, None] & col_ok[None, :])


@triton.jit
def _reduce_unpack(partial, rows, cols, out, blocks, P, d, BLOCK_P: tl.constexpr):
    run = tl.program_id(0)
    col = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    ok = col < P
    s = tl.zeros((BLOCK_P,), dtype=tl.float64)
    for block in range(0, blocks):  # fixed order: block 0 first
        s += tl.load(partial + (block * tl.num_programs(0) + run) * P + col, mask=ok, other=0.0)
    j = tl.load(rows + col, mask=ok, other=0)
    k = tl.load(cols + col, mask=ok, other=0)
    # Off-diagonal rows carry 2 S_jk, hence the half.
    s = tl.where(j == k, s, 0.5 * s)
    tl.store(out + run * d * d + j * d + k, s, mask=ok)
    tl.store(out + run * d * d + k * d + j, s, mask=ok)


def fused_residual_adjoint(packed: torch.Tensor, Xp: torch.Tensor, y: torch.Tensor, rows: torch.Tensor,
                           cols: torch.Tensor, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual (B, m) and symmetric adjoint (B, d, d) in fp64 for fp64 iterates; packed may be fp32 or fp64."""
    m, P = packed.shape
    runs = Xp.shape[0]
    packed, Xp, y = packed.contiguous(), Xp.contiguous(), y.contiguous().to(torch.float64)
    blocks = triton.cdiv(m, BLOCK_M)
    residual = Xp.new_empty(runs, m)
    partial = Xp.new_empty(blocks, runs, P)
    adjoint = Xp.new_empty(runs, d, d)
    _block_partials[(blocks,)](packed, Xp, y, residual, partial, m, P, runs,
                               RUNS=triton.next_power_of_2(runs), BLOCK_M=BLOCK_M, BLOCK_P=BLOCK_P)
    _reduce_unpack[(runs, triton.cdiv(P, 256))](partial, rows, cols, adjoint, blocks, P, d, BLOCK_P=256)
    return residual, adjoint
