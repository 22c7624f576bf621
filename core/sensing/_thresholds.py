"""Phase-transition thresholds of low-rank PSD sensing, as statistical dimensions (Amelunxen et al. 2014).

With m Gaussian measurements a convex program recovers X* with high probability once m exceeds the
statistical dimension of its descent cone at X*, and fails below it (Amelunxen et al. 2014, Thm II). Two
cones matter here, for rank-r PSD X* in d x d symmetric matrices, written in X*'s eigenbasis with
n = d - r and G_22 the n x n block of a standard Gaussian symmetric matrix:

- the PSD cone's tangent cone (is X* the only PSD interpolant?):
  r(r+1)/2 + r n + E ||(G_22)_+||_F^2, and the last term equals n(n+1)/4 since the PSD cone is self-dual;
- the descent cone of trace + PSD indicator (does min-nuclear-norm recover X*?), through its subdifferential
  {P + P_perp Z P_perp : Z <= I}: min over tau >= 0 of r(r+1)/2 + r tau^2 + r n + E sum_i (g_i - tau)_+^2,
  g_i the eigenvalues of G_22 (Amelunxen et al. 2014, Sec. 4.3 recipe; accurate to O(sqrt(d))).

Both expectations are estimated by Monte Carlo here, so nothing is hard-coded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SensingThresholds:
    """Measurement counts at which recovery of a rank-r PSD d x d matrix switches on."""

    d: int
    r: int
    psd_uniqueness: float  # X* is the only PSD matrix consistent with the measurements above this m
    nuclear_recovery: float  # the minimum-nuclear-norm PSD interpolant equals X* above this m
    samples: int


def _symmetric_gaussian_eigenvalues(n: int, samples: int, seed: int) -> torch.Tensor:
    """Eigenvalues of (Z + Z^T) / 2, Z n x n standard normal: isotropic in the Frobenius geometry."""
    generator = torch.Generator().manual_seed(seed)
    Z = torch.randn(samples, n, n, generator=generator, dtype=torch.float64)
    return torch.linalg.eigvalsh((Z + Z.mT) / 2)


def sensing_thresholds(d: int, r: int, samples: int = 400, seed: int = 0) -> SensingThresholds:
    """Monte-Carlo statistical dimensions of the two descent cones at a rank-r PSD X* in d x d."""
    if not (isinstance(d, int) and isinstance(r, int) and 1 <= r < d):
        raise ValueError(f"need integers 1 <= r < d, got d={d!r}, r={r!r}")
    if not (isinstance(samples, int) and samples >= 2):
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}")
    n = d - r
    eigenvalues = _symmetric_gaussian_eigenvalues(n, samples, seed)
    free = r * (r + 1) / 2 + r * n  # directions the cone leaves unconstrained
    psd = free + eigenvalues.clamp(min=0).square().sum(dim=1).mean().item()
    # E sum_i (g_i - tau)_+^2 for every tau at once, from suffix sums over the pooled sorted eigenvalues.
    pooled = eigenvalues.flatten().sort().values
    suffix = lambda v: torch.cat([v.flip(0).cumsum(0).flip(0), v.new_zeros(1)])  # noqa: E731
    count, first, second = suffix(torch.ones_like(pooled)), suffix(pooled), suffix(pooled.square())
    # The objective is convex in tau and its minimizer lies below the spectrum's edge sqrt(2n).
    taus = torch.linspace(0.0, 1.5 * math.sqrt(2 * n), 3001, dtype=torch.float64)
    above = torch.searchsorted(pooled, taus, right=True)
    excess = (second[above] - 2 * taus * first[above] + taus.square() * count[above]) / samples
    nuclear = free + (r * taus.square() + excess).min().item()
    return SensingThresholds(d, r, psd, nuclear, samples)
