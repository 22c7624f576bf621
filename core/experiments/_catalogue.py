"""The catalogue of named experiments behind the claims and figures, and the seeds they draw from."""

from __future__ import annotations

from .._util import HELD_OUT_START, positive_int
from ..mlp import INITS, MLPConfig
from ._configs import DepthProbeConfig, RecoveryConfig, SensingConfig

#: m / (d r) of the two paper-scale sweeps and their horizons T; at 5dr the bulk of the spectrum is
#: resolved more slowly, so it gets the handout's longer horizon
PAPER_SWEEPS = {10: 600, 5: 3000}
#: below the d=30, r=2 nuclear-norm recovery threshold (about 107 measurements, core.sensing_thresholds)
#: five small alphas (claim S6 follows GD as alpha -> 0) and one large one
NUCLEAR_COMPARISON = dict(d=30, r=2, m=90, alphas=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.3), steps=20_000, convex=True)
#: the uniqueness sweep (claims P1 and P5) runs at d=40, r=2, where the thresholds sit at m/dr ~ 1.9 and 5.6
THRESHOLD_SWEEP = dict(d=40, r=2, alphas=(1e-4, 0.1), steps=4000, projected=True)
THRESHOLD_M_PER_DR = (2, 3, 5, 6, 10)
#: (init, depth) of the 3-epoch trainability runs of claim G4
DEPTH_TRAINING = (("pytorch", 3), ("pytorch", 10), ("he", 3), ("he", 10))


def claim_experiments(seed: int = 0, claim_seeds: int = 3) -> dict[str, object]:
    """Every experiment the claims and figures use, by name; seeds move with the base seed."""
    positive_int("claim_seeds", claim_seeds)
    if claim_seeds > 99:
        raise ValueError(f"claim_seeds must be at most 99 (G5's seeds of one base seed span 100), got {claim_seeds}")
    experiments: dict[str, object] = {"mlp": MLPConfig(seed=seed)}
    experiments.update({f"mlp-g5-{k}": MLPConfig(seed=g5_seed(seed, k)) for k in range(1, claim_seeds + 1)})
    experiments.update({f"depth-probe-{init}": DepthProbeConfig(init=init, seed=seed) for init in INITS})
    experiments.update({f"depth-train-{init}-{depth}": MLPConfig(hidden_sizes=(128,) * depth, init=init,
                                                                 epochs=3, seed=seed)
                        for init, depth in DEPTH_TRAINING})
    experiments.update({f"sensing-{f}dr": SensingConfig(m=f * 100 * 5, steps=steps, seed=seed)
                        for f, steps in PAPER_SWEEPS.items()})
    experiments["nuclear"] = SensingConfig(seed=seed, **NUCLEAR_COMPARISON)
    experiments.update({f"threshold-{f}dr": SensingConfig(m=f * 40 * 2, seed=seed, **THRESHOLD_SWEEP)
                        for f in THRESHOLD_M_PER_DR})
    experiments["recovery"] = RecoveryConfig(seed=seed)
    return experiments


def g5_seed(seed: int, k: int) -> int:
    """The k-th (1-based) MLP seed on which claim G5 re-checks G1-G3 for base seed `seed`.

    From HELD_OUT_START on, so G5's evidence is never drawn from the calibration seeds 0-9.
    """
    return HELD_OUT_START + abs(seed) * 100 + k
