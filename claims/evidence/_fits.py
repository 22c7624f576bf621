"""Fits and event times that turn recorded trajectories into numbers."""

from __future__ import annotations

import math

import torch

from core.sensing import first_step


def line_fit(x, y) -> tuple[float, float]:
    """Least-squares slope of y against x, and the fit's R^2.

    The centered normal equation with exactly rounded sums (math.fsum), not LAPACK: MKL's least squares gave
    8.0 in one process and 8.000000000000002 in another for the same three points (its results depend on
    where the data lands in memory), and the claims report and the baselines want one value per input.
    """
    xs = torch.as_tensor(x, dtype=torch.float64).tolist()
    ys = torch.as_tensor(y, dtype=torch.float64).tolist()
    x_mean, y_mean = math.fsum(xs) / len(xs), math.fsum(ys) / len(ys)
    dx, dy = [v - x_mean for v in xs], [v - y_mean for v in ys]
    slope = math.fsum(a * b for a, b in zip(dx, dy)) / math.fsum(a * a for a in dx)
    unexplained = math.fsum((b - slope * a) ** 2 for a, b in zip(dx, dy))
    return slope, 1 - unexplained / math.fsum(b * b for b in dy)


def loglog_slope(x, y) -> float:
    """Slope of log y against log x: the exponent p of y ~ x^p."""
    return line_fit(torch.as_tensor(x, dtype=torch.float64).log(), torch.as_tensor(y, dtype=torch.float64).log())[0]


def time_slope(history: torch.Tensor, start: int, end: int) -> float:
    """Log-log slope of history[t] against t over start <= t <= end: about 0 on a plateau, -a for t^-a decay."""
    t = torch.arange(start, end + 1, dtype=torch.float64)
    return loglog_slope(t, history[start : end + 1])


def contraction_per_step(history: torch.Tensor, upper: float, lower: float) -> float:
    """Geometric rate of a linearly converging history, fitted while it falls from `upper` to `lower`."""
    start, end = first_step(history < upper), first_step(history < lower)
    if start is None or end is None or end - start < 3:
        return math.nan  # never reached the window: the claim's check then fails by name
    slope, _ = line_fit(torch.arange(start, end + 1), history[start : end + 1].log())
    return math.exp(slope)


def escape_steps(singular_values: torch.Tensor, targets: torch.Tensor) -> list[int | None]:
    """Per component k, the first step with sigma_k(U_t) >= targets[k]."""
    return [first_step(singular_values[:, k] >= target) for k, target in enumerate(targets)]


def steps_per_decade(growth_rate) -> float:
    """Steps that multiply a component growing by exp(growth_rate) per step tenfold."""
    return math.log(10) / float(growth_rate)


def top_eigenvalues(x_star: torch.Tensor, r: int) -> torch.Tensor:
    """lambda_1 >= ... >= lambda_r of X*, clamped at 0 (rounding can leave a PSD matrix's eigenvalue at -1e-17)."""
    return torch.linalg.eigvalsh(x_star).flip(0)[:r].clamp(min=0)


def escape_targets(x_star: torch.Tensor, r: int) -> torch.Tensor:
    """Per component k, the level sqrt(lambda_k(X*)) / 2 at which sigma_k(U_t) counts as escaped."""
    return top_eigenvalues(x_star, r).sqrt() / 2
