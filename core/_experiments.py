"""The paper-scale experiments behind the claims and the figures, each a function of seed and device."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._convex import NuclearNormSolution, min_nuclear_norm_interpolant
from ._mlp import MLPConfig, MLPHistory, build_mlp, initial_gradient_norms, train_mlp
from ._mnist import MNIST
from ._sensing import AlphaSweepResult, alpha_sweep, make_sensing_problem

#: the handout's initialization scales for the over-parameterized runs
PAPER_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
#: hidden-layer counts at which the gradient norms at initialization are probed (claim G4)
PROBE_DEPTHS = (1, 2, 4, 6, 8, 10)
SENSING_D, SENSING_R = 100, 5
#: GD steps per measurement budget m = factor * d * r. At 5dr the bulk of the spectrum is
#: resolved more slowly, so it gets the handout's longer horizon.
SWEEP_STEPS = {10: 600, 5: 3000}
#: Gunasekar et al. (2017) comparison: a small instance the convex solver handles in about a second
NUCLEAR_D, NUCLEAR_R, NUCLEAR_M_FACTOR, NUCLEAR_STEPS = 30, 2, 3, 20_000
NUCLEAR_ALPHAS = (1e-4, 1e-1)


def resolve_device(name: str | None = None) -> torch.device:
    """`name`, checked to be usable here, or cuda when available, else cpu; ValueError if unusable."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as err:
        raise ValueError(f"device {name!r} is not usable here: {err}") from None
    return device


def mlp_gradient_norms(data: MNIST, seed: int = 0, device="cpu", progress=None, **overrides) -> MLPHistory:
    """Problem 1: the handout's MLP and SGD settings unless `overrides` change them."""
    return train_mlp(MLPConfig(seed=seed, **overrides), data, device, progress=progress)


def gradient_norms_at_init_by_depth(data: MNIST, init: str, seed: int = 0, device="cpu") -> dict[int, torch.Tensor]:
    """Per-layer gradient norms at initialization of width-128 MLPs, for each depth in PROBE_DEPTHS."""
    norms = {}
    for depth in PROBE_DEPTHS:
        config = MLPConfig(hidden_sizes=(128,) * depth, init=init, seed=seed)
        model = build_mlp(config.hidden_sizes, init, config.seed).to(device)
        norms[depth] = initial_gradient_norms(model, data, config)
    return norms


def sensing_sweep(m_factor: int, seed: int = 0, device="cpu", progress=None) -> AlphaSweepResult:
    """Problem 2: GD for every alpha in PAPER_ALPHAS plus the exact R = r run, at m = m_factor * d * r."""
    if m_factor not in SWEEP_STEPS:
        raise ValueError(f"m_factor must be one of {sorted(SWEEP_STEPS)}, got {m_factor}")
    problem = make_sensing_problem(SENSING_D, SENSING_R, m_factor * SENSING_D * SENSING_R, seed, device)
    return alpha_sweep(problem, PAPER_ALPHAS, SWEEP_STEPS[m_factor], seed=seed, progress=progress)


@dataclass(frozen=True)
class NuclearNormComparison:
    """GD from small and large alpha next to the convex minimum-nuclear-norm interpolant."""

    sweep: AlphaSweepResult
    convex: NuclearNormSolution

    def rel_distance_to_convex(self, alpha: float) -> float:
        """||U_T U_T^T - X_cvx||_F / ||X_cvx||_F for the run from this alpha."""
        u = self.sweep.alpha_trace(alpha).final_u
        return float(torch.linalg.matrix_norm(u @ u.T - self.convex.x) / torch.linalg.matrix_norm(self.convex.x))


def nuclear_norm_comparison(seed: int = 0, device="cpu", progress=None) -> NuclearNormComparison:
    """Beyond the handout: does small-alpha GD find the minimum-nuclear-norm interpolant?"""
    m = NUCLEAR_M_FACTOR * NUCLEAR_D * NUCLEAR_R
    problem = make_sensing_problem(NUCLEAR_D, NUCLEAR_R, m, seed, device)
    sweep = alpha_sweep(problem, NUCLEAR_ALPHAS, NUCLEAR_STEPS, seed=seed, progress=progress)
    return NuclearNormComparison(sweep, min_nuclear_norm_interpolant(problem))
