"""Projected gradient descent on X itself over the PSD cone: the sensing problem without the factorization.

X_(t+1) = Pi_PSD(X_t - lr grad f(X_t)), f(X) = (1/m) sum_i (<A_i, X> - y_i)^2, Pi_PSD clipping negative
eigenvalues (Geyer, Kyrillidis and Kalev 2018 study this iteration for low-rank PSD recovery). No rank or
small-initialization bias is built in: the iterate can only find X* where X* is the only PSD interpolant,
that is above the PSD uniqueness threshold m_psd (core.sensing_thresholds).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._util import seeded_generator
from ._problem import SensingProblem

_POWER_ITERATIONS = 100


@dataclass(frozen=True)
class ProjectedDescentTrace:
    """Per step 0..T: relative distance ||X_t - X*||_F / ||X*||_F and loss f(X_t); the step size used."""

    rel_distance: torch.Tensor
    loss: torch.Tensor
    lr: float


def _gradient(problem: SensingProblem, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    operator = problem.operator
    residual = operator.forward(operator.pack(X)[None])[0] - problem.y
    return residual, (2.0 / problem.m) * operator.adjoint(residual[None])[0]


def smoothness(problem: SensingProblem, generator: torch.Generator) -> float:
    """Largest eigenvalue of f's Hessian (2/m) A*A on symmetric matrices, by power iteration."""
    operator, d = problem.operator, problem.d
    v = torch.randn(d, d, generator=generator, dtype=torch.float64).to(problem.x_star)
    v = (v + v.T) / 2
    value = 0.0
    for _ in range(_POWER_ITERATIONS):
        w = (2.0 / problem.m) * operator.adjoint(operator.forward(operator.pack(v)[None]))[0]
        value = float(torch.linalg.matrix_norm(w) / torch.linalg.matrix_norm(v))
        v = w / torch.linalg.matrix_norm(w)
    return value


def project_psd(X: torch.Tensor) -> torch.Tensor:
    """The nearest PSD matrix to symmetric X in Frobenius norm: its negative eigenvalues set to 0."""
    eigenvalues, vectors = torch.linalg.eigh(X)
    return (vectors * eigenvalues.clamp(min=0)) @ vectors.T


def psd_projected_descent(problem: SensingProblem, steps: int, seed: int = 0) -> ProjectedDescentTrace:
    """Projected GD from a random PSD start G G^T scaled to ||X*||_F, at lr = 1 / L (L by power iteration).

    The start and the power iteration draw from their own stream ("projected-init") of run seed `seed`.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    generator = seeded_generator(seed, "projected-init")
    x_star = problem.x_star
    G = torch.randn(problem.d, problem.d, generator=generator, dtype=torch.float64).to(x_star)
    X = G @ G.T
    X = X * (torch.linalg.matrix_norm(x_star) / torch.linalg.matrix_norm(X))
    lr = 1.0 / smoothness(problem, generator)
    scale = torch.linalg.matrix_norm(x_star)
    rel_distance, loss = x_star.new_empty(steps + 1), x_star.new_empty(steps + 1)
    for t in range(steps + 1):
        residual, gradient = _gradient(problem, X)
        rel_distance[t] = torch.linalg.matrix_norm(X - x_star) / scale
        loss[t] = residual @ residual / problem.m
        if t < steps:
            X = project_psd(X - lr * gradient)
    return ProjectedDescentTrace(rel_distance.cpu(), loss.cpu(), lr)
