"""Predictions for gradient descent on U U^T, computed from the problem before the run is looked at.

- Spectral phase (Stoger and Soltanolkotabi 2021, Sec. 3): while U_t is small, grad f(U) ~ -4 M U with
  M = (1/m) sum_i y_i S_i, so U_(t+1) ~ (I + 4 lr M) U_t and the k-th singular value grows by
  ln(1 + 4 lr mu_k(M)) per step; component k then needs ln 10 / ln(1 + 4 lr mu_k) more steps per
  decade of smaller alpha to escape (incremental learning, e.g. Jin et al. 2023).
- Local convergence of the exact parameterization: near an interpolating U* the residual is linear in
  E = U - U*, f ~ (1/m) ||J E||^2 with J E = (2 <S_i U*, E>)_i, so GD contracts E by 1 - lr h for each
  eigenvalue h of H = (2/m) J^T J. The r(r-1)/2 rotations E = U* K (K skew) leave U U^T unchanged and
  are H's null space; the slowest mode that moves U U^T sets the asymptotic rate.
"""

from __future__ import annotations

import torch

from ._problem import PackedSensingOperator, SensingProblem


def initial_growth_spectrum(problem: SensingProblem, top_k: int = 10) -> torch.Tensor:
    """Top eigenvalues mu_1 >= ... of M = (1/m) sum_i y_i S_i, the small-U linearization of -grad f / 4."""
    M = problem.operator.adjoint(problem.y[None])[0] / problem.m
    return torch.linalg.eigvalsh(M).flip(0)[:top_k]


def local_hessian_eigenvalues(problem: SensingProblem, u: torch.Tensor, chunk: int = 500) -> torch.Tensor:
    """Ascending eigenvalues of the Gauss-Newton Hessian (2/m) J^T J of f at an interpolating (d, R) u."""
    operator = problem.operator
    d, width = u.shape
    gram = u.new_zeros(d * width, d * width)
    for rows in operator.packed.split(chunk):
        S = PackedSensingOperator(rows, d).to_dense()  # (chunk, d, d) symmetrized sensing matrices
        jacobian_rows = (S @ u).reshape(len(rows), -1)  # <S_i u, E> = J_i E / 2
        gram += jacobian_rows.T @ jacobian_rows
    return torch.linalg.eigvalsh((8.0 / problem.m) * gram)


def local_contraction_rate(problem: SensingProblem, u: torch.Tensor, lr: float) -> float:
    """Asymptotic per-step contraction 1 - lr h_min of GD near u, h_min the smallest non-rotation eigenvalue."""
    width = u.shape[1]
    return 1.0 - lr * local_hessian_eigenvalues(problem, u)[width * (width - 1) // 2].item()
