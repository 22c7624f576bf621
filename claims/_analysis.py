"""Fits and event times that turn recorded trajectories into a claim's evidence."""

from __future__ import annotations

import math

import torch

from claims._plugin import Bound


def line_fit(x, y) -> tuple[float, float]:
    """Least-squares slope of y against x, and the fit's R^2."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    design = torch.stack([x, torch.ones_like(x)], dim=1)
    coef = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
    residual = y - design @ coef
    return coef[0].item(), (1 - residual.square().sum() / (y - y.mean()).square().sum()).item()


def loglog_slope(x, y) -> float:
    """Slope of log y against log x: the exponent p of y ~ x^p."""
    return line_fit(torch.as_tensor(x, dtype=torch.float64).log(), torch.as_tensor(y, dtype=torch.float64).log())[0]


def first_step(condition: torch.Tensor) -> int | None:
    """First index at which a boolean history is true, or None."""
    hits = torch.nonzero(condition)
    return int(hits[0]) if len(hits) else None


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


def at_most(threshold: float, reference: str) -> tuple[Bound, ...]:
    """value <= threshold."""
    return (Bound("<=", threshold, reference),)


def below(threshold: float, reference: str) -> tuple[Bound, ...]:
    """value < threshold."""
    return (Bound("<", threshold, reference),)


def at_least(threshold: float, reference: str) -> tuple[Bound, ...]:
    """value >= threshold."""
    return (Bound(">=", threshold, reference),)


def between(low: float, high: float, reference: str) -> tuple[Bound, ...]:
    """low <= value <= high."""
    return (Bound(">=", low, reference), Bound("<=", high, reference))


def exactly(value: float, reference: str) -> tuple[Bound, ...]:
    """value == the given one."""
    return (Bound("==", value, reference),)


def check_all(claim, name: str, value, bounds: tuple[Bound, ...]) -> None:
    """Check `value` against every bound of a BOUNDS entry."""
    for bound in bounds:
        claim.check(name, value, *bound)
