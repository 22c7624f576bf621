"""Convex baseline: the minimum nuclear-norm PSD matrix consistent with the sensing measurements."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import torch

from ._problem import SensingProblem

#: experiments computed side by side are threads of one process: one of them imports cvxpy, the others wait
_IMPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class NuclearNormSolution:
    """Solver output: the interpolant, cvxpy status, wall time and worst constraint violation."""

    x: torch.Tensor  # (d, d) symmetric PSD, on the problem's device and dtype
    status: str
    solve_seconds: float
    max_constraint_violation: float  # max_i |<A_i, x> - y_i|


def min_nuclear_norm_interpolant(problem: SensingProblem, solver: str = "CLARABEL",
                                 **solver_options) -> NuclearNormSolution:
    """argmin trace(X) over PSD X with <A_i, X> = y_i; trace is the nuclear norm on the PSD cone.

    Builds a dense SDP with d(d+1)/2 unknowns, so it is meant for small instances (d around 30).
    """
    # cvxpy (which brings scipy.stats) is the costliest import in core: only a process that solves an SDP pays it.
    with _IMPORT_LOCK:
        import cvxpy as cp

    if solver not in cp.installed_solvers():
        raise ValueError(f"cvxpy solver {solver!r} is not installed; available: {cp.installed_solvers()}")
    operator = problem.operator
    packed_rows = operator.packed.detach().cpu().to(torch.float64).numpy()
    y = problem.y.detach().cpu().to(torch.float64).numpy()
    upper_rows, upper_cols = (index.cpu().numpy() for index in torch.triu_indices(problem.d, problem.d))

    X = cp.Variable((problem.d, problem.d), PSD=True)
    # The packed rows already weight off-diagonals by 2, so they act on the upper triangle alone.
    constraints = [packed_rows @ X[upper_rows, upper_cols] == y]
    program = cp.Problem(cp.Minimize(cp.trace(X)), constraints)
    if solver == "CLARABEL":
        # Clarabel's static regularization stalls near 1e-7 residual on these rank-deficient optima
        # (status optimal_inaccurate); without it the d=30 instances reach 'optimal' at ~1e-8.
        solver_options.setdefault("static_regularization_enable", False)
    start = time.perf_counter()
    program.solve(solver=solver, **solver_options)
    solve_seconds = time.perf_counter() - start
    if program.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or X.value is None:
        raise RuntimeError(f"min nuclear-norm SDP failed with status {program.status!r} ({solver})")

    x = (X.value + X.value.T) / 2
    violation = float(np.max(np.abs(packed_rows @ x[upper_rows, upper_cols] - y)))
    x_tensor = torch.as_tensor(x, dtype=problem.x_star.dtype, device=problem.x_star.device)
    return NuclearNormSolution(x_tensor, program.status, solve_seconds, violation)
