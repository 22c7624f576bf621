"""Sensing problems of one shape solved together: gradient descent on a stack of problems, one bmm per operator
product, so a device runs many small problems (say, one per seed) as one compute-bound batch."""

from __future__ import annotations

from typing import Sequence

import torch

from ._descent import (
    AlphaSweepResult,
    SensingTrace,
    _check_gd_arguments,
    _raise_if_diverged,
    _validated_init,
    step_size,
    sweep_inits,
)
from ._problem import SensingProblem
from ._singular_values import top_singular_values


def _stacked(problems: Sequence[SensingProblem]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(operators (P, m, K), measurements (P, m), X* (P, d, d)) of problems that share d, m, dtype and device."""
    problems = list(problems)
    if not problems or not all(isinstance(p, SensingProblem) for p in problems):
        raise ValueError("problems must be a non-empty sequence of SensingProblem")
    first = problems[0]
    for index, problem in enumerate(problems[1:], 1):
        if (problem.d, problem.m) != (first.d, first.m):
            raise ValueError(f"problems must share one shape: problem 0 has d={first.d}, m={first.m}, "
                             f"problem {index} has d={problem.d}, m={problem.m}")
        if problem.x_star.dtype != first.x_star.dtype or problem.x_star.device != first.x_star.device \
                or problem.operator.packed.dtype != first.operator.packed.dtype:
            raise ValueError(f"problems must share one dtype and device: problem {index} differs from problem 0")
    return (torch.stack([p.operator.packed for p in problems]), torch.stack([p.y for p in problems]),
            torch.stack([p.x_star for p in problems]))


def gradient_descent_problems(problems: Sequence[SensingProblem], U0: torch.Tensor, steps: int, eta: float = 0.1,
                              top_k: int = 10, check_every: int = 25, divergence_factor: float = 1e8,
                              progress=None) -> list[SensingTrace]:
    """`gradient_descent` on P problems of one shape at once: U0 is (P, B, d, R), B runs per problem.

    Each problem keeps its own operator, measurements, X* and step sizes (step_size per run); the iterates of
    all P x B runs advance together, each operator product one batched matmul over the problems. This is the
    torch pass on any device, not the fused CPU kernel: it agrees with `gradient_descent` to rounding, not
    bitwise (another summation order). Returns one batched SensingTrace per problem.
    """
    _check_gd_arguments(steps, eta, top_k, check_every, divergence_factor)
    packed, y, x_star = _stacked(problems)
    count = len(problems)
    if not torch.is_tensor(U0) or U0.ndim != 4 or U0.shape[0] != count:
        shape = tuple(U0.shape) if torch.is_tensor(U0) else type(U0).__name__
        raise ValueError(f"U0 must be (P, B, d, R) with P={count} problems, got {shape}")
    U = torch.stack([_validated_init(problem, start) for problem, start in zip(problems, U0)])  # (P, B, d, R)
    _, runs, d, width = U.shape
    lr = torch.stack([step_size(problem.x_star, start, eta) for problem, start in zip(problems, U)])  # (P, B)
    operator = problems[0].operator
    dual_weight = operator._dual_weight.to(U.dtype)
    matrix = packed if packed.dtype == U.dtype else packed.to(U.dtype)
    kept = min(top_k, width)
    distance, loss = U.new_empty(2, count, runs, steps + 1)
    singular_values = U.new_zeros(count, runs, steps + 1, top_k)
    update_scale = (4.0 / operator.m) * lr[..., None, None]
    labels = [f"problem {p}, run {b}" for p in range(count) for b in range(runs)]
    limit, checked_until = None, 0
    with torch.no_grad():
        for t in range(steps + 1):
            X = U @ U.mT
            distance[:, :, t] = torch.linalg.matrix_norm(X - x_star[:, None])
            singular_values[:, :, t, :kept] = top_singular_values(U.flatten(0, 1), kept).view(count, runs, kept)
            # A (P, m, K) times the iterates' (P, K, B): a transposed operator in bmm would be copied each step
            residual = torch.bmm(matrix, operator.pack(X).mT).mT - y[:, None, :]  # (P, B, m)
            loss[:, :, t] = residual.square().mean(dim=-1)
            if t == 0:
                floor = y.square().mean(dim=-1, keepdim=True)  # each problem's own, as gradient_descent's
                limit = (divergence_factor * torch.maximum(loss[:, :, 0], floor)).flatten().cpu()
            if t < steps:
                adjoint = operator.unpack(torch.bmm(residual, matrix) * dual_weight)  # A*(r), (P, B, d, d)
                U = U - update_scale * (adjoint @ U)
            if t + 1 - checked_until >= check_every or t == steps:
                _raise_if_diverged(loss[:, :, checked_until:t + 1].flatten(0, 1), checked_until, limit, labels)
                checked_until = t + 1
            if progress is not None:
                progress(t, steps)
    x_norm = torch.linalg.matrix_norm(x_star)
    return [SensingTrace(distance[p], distance[p] / x_norm[p], loss[p], singular_values[p], lr[p], U[p])
            for p in range(count)]


def alpha_sweep_problems(problems: Sequence[SensingProblem], alphas: Sequence[float], steps: int,
                         seeds: Sequence[int], eta: float = 0.1, exact_init_scale: float = 1e-3, top_k: int = 10,
                         progress=None) -> list[AlphaSweepResult]:
    """`alpha_sweep` of each problem (problem i's initial directions from seeds[i]), all problems in one batch."""
    problems = list(problems)
    if len(seeds) != len(problems):
        raise ValueError(f"seeds has {len(seeds)} entries for {len(problems)} problems")
    alphas = tuple(float(a) for a in alphas)
    starts = [sweep_inits(problem, alphas, seed, exact_init_scale) for problem, seed in zip(problems, seeds)]
    traces = gradient_descent_problems(problems, torch.stack([inits for _, inits in starts]), steps, eta=eta,
                                       top_k=top_k, progress=progress)
    return [AlphaSweepResult(alphas, exact_init_scale, W, problem.rank, problem.x_star, trace)
            for problem, (W, _), trace in zip(problems, starts, traces)]
