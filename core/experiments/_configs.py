"""The configs of the sensing, recovery and depth-probe experiments, and their results.

Each config is an Experiment (core.experiments.Experiment): a frozen value that knows how to compute its result,
how long that roughly takes, and how to summarize and draw it. MLPConfig, Problem 1's, lives in core.mlp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch

from .._util import integer, positive_float, positive_int, sequence
from ..mlp import INITS, MNIST, MLPConfig, build_mlp, initial_gradient_norms
from ..sensing import (
    AlphaSweepResult,
    NuclearNormSolution,
    ProjectedDescentTrace,
    alpha_sweep,
    initial_growth_spectrum,
    local_contraction_rate,
    make_sensing_problem,
    min_nuclear_norm_interpolant,
    psd_projected_descent,
)

#: the handout's initialization scales for the over-parameterized runs
PAPER_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
#: hidden-layer counts at which the gradient norms at initialization are probed (claim G4)
PROBE_DEPTHS = (1, 2, 4, 6, 8, 10)
DTYPES = {"float64": torch.float64, "float32": torch.float32}

# Single-thread rates measured on a 2-core x86-64 CPU (docs/performance.md). They only order the experiments
# computed side by side, so a wrong one costs balance, never a result. Large sweeps are bound by the pass:
# seconds per pass, operator row, packed entry and run. Small ones by the per-step overhead, plus an
# eigendecomposition per PSD-projected step. An SDP solve at d = 30.
_PASS_SECONDS = 40.0 / (3001 * 2500 * 5050 * 6)
_STEP_SECONDS = 12.7 / 20_001
_PROJECTED_STEP_SECONDS = 1e-3
_SDP_SECONDS = 0.3


@dataclass(frozen=True)
class SensingConfig:
    """One matrix-sensing problem and GD from U_0 = alpha W for each alpha, plus the exact R = r run."""

    d: int = 100
    r: int = 5
    m: int = 5000
    alphas: tuple[float, ...] = PAPER_ALPHAS
    steps: int = 600
    eta: float = 0.1
    seed: int = 0
    exact_init_scale: float = 1e-3
    top_k: int = 10
    dtype: str = "float64"
    #: also solve the minimum-nuclear-norm SDP with cvxpy (dense: meant for d around 30)
    convex: bool = False
    #: also run `steps` of PSD-projected GD on X itself from a random PSD start (claim P5)
    projected: bool = False

    needs_mnist: ClassVar[bool] = False
    progress_unit: ClassVar[str] = "step"

    def __post_init__(self):
        object.__setattr__(self, "alphas", sequence("alphas", self.alphas))
        for name in ("d", "r", "m", "steps", "top_k"):
            positive_int(name, getattr(self, name))
        if self.r > self.d:
            raise ValueError(f"rank r={self.r} exceeds d={self.d}")
        if not self.alphas:
            raise ValueError("alphas is empty: give at least one initialization scale")
        for alpha in self.alphas:
            positive_float("alpha", alpha)
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        positive_float("eta", self.eta)
        positive_float("exact_init_scale", self.exact_init_scale)
        integer("seed", self.seed)
        for name in ("convex", "projected"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.dtype, str) or self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")

    @property
    def m_per_dr(self) -> float:
        """Measurements per degree-of-freedom scale d r (the handout's 10 means m = 10dr)."""
        return self.m / (self.d * self.r)

    def compute(self, device, data=None, progress=None) -> SensingResult:
        problem = make_sensing_problem(self.d, self.r, self.m, self.seed, device, DTYPES[self.dtype])
        growth = initial_growth_spectrum(problem, self.top_k).cpu()
        sweep = alpha_sweep(problem, self.alphas, self.steps, seed=self.seed, eta=self.eta,
                            exact_init_scale=self.exact_init_scale, top_k=self.top_k, progress=progress)
        exact = sweep.exact_trace
        rate = local_contraction_rate(problem, exact.final_u, float(exact.lr))
        convex = min_nuclear_norm_interpolant(problem) if self.convex else None
        projected = psd_projected_descent(problem, self.steps, self.seed) if self.projected else None
        return SensingResult(self, sweep, growth, rate, convex, projected)

    def threads(self, device) -> int | None:
        return None  # the fused pass is bitwise the same on any thread count

    def estimated_seconds(self) -> float:
        packed = self.d * (self.d + 1) // 2
        per_step = _STEP_SECONDS + (_PROJECTED_STEP_SECONDS if self.projected else 0.0)
        return (self.steps + 1) * (_PASS_SECONDS * self.m * packed * (len(self.alphas) + 1) + per_step)

    def summary(self, result: SensingResult) -> list[str]:
        sweep = result.sweep
        lines = [f"sensing d={self.d} r={self.r} m={self.m} ({self.m_per_dr:g}dr), T={self.steps}, seed {self.seed}"]
        runs = [(f"alpha={alpha:<8g}", sweep.alpha_trace(alpha)) for alpha in sweep.alphas]
        for label, trace in runs + [("exact R=r     ", sweep.exact_trace)]:
            lines.append(f"  {label} rel. distance {trace.rel_distance[-1]:.3e}  loss {trace.loss[-1]:.3e}")
        return lines

    def figures(self, result: SensingResult) -> dict:
        from ..figures import alpha_distance_figure, exact_distance_figure, singular_value_figure

        return {"F3_exact_distance": exact_distance_figure(result),
                "F4_distance_by_alpha": alpha_distance_figure([result]),
                "F5_singular_values": singular_value_figure(result)}


@dataclass(frozen=True)
class SensingResult:
    """The sweep, with the predictions computed from the same problem before its runs are looked at."""

    config: SensingConfig
    sweep: AlphaSweepResult
    growth_spectrum: torch.Tensor  # top eigenvalues mu_k of M = (1/m) sum_i y_i S_i
    exact_local_rate: float  # 1 - lr h_min of the exact run at its final iterate
    convex: NuclearNormSolution | None = None
    projected: ProjectedDescentTrace | None = None


@dataclass(frozen=True)
class RecoveryConfig:
    """How often the min-trace SDP recovers X* exactly: `trials` problems at each m (claim P6).

    Trial k draws its problem from seed `seed * trials + k` at every m, so the m-sweep of one trial measures
    one X* with a growing set of measurements. A trial recovers X* when the SDP's solution lies within
    `tolerance` of it in relative Frobenius distance (the solver reaches ~1e-8 when it does).
    """

    d: int = 30
    r: int = 2
    ms: tuple[int, ...] = (80, 95, 105, 115, 130)
    trials: int = 20
    seed: int = 0
    tolerance: float = 1e-4

    needs_mnist: ClassVar[bool] = False
    progress_unit: ClassVar[str] = "solve"

    def __post_init__(self):
        object.__setattr__(self, "ms", sequence("ms", self.ms))
        for name, value in [("d", self.d), ("r", self.r), ("trials", self.trials)] + [("m", m) for m in self.ms]:
            positive_int(name, value)
        if not self.ms:
            raise ValueError("ms is empty: give at least one number of measurements")
        if self.r > self.d:
            raise ValueError(f"rank r={self.r} exceeds d={self.d}")
        integer("seed", self.seed)
        positive_float("tolerance", self.tolerance)

    @property
    def trial_seeds(self) -> tuple[int, ...]:
        return tuple(self.seed * self.trials + k for k in range(self.trials))

    def compute(self, device, data=None, progress=None) -> RecoveryResult:
        distances = torch.empty(len(self.ms), self.trials, dtype=torch.float64)
        for i, m in enumerate(self.ms):
            for k, seed in enumerate(self.trial_seeds):
                problem = make_sensing_problem(self.d, self.r, m, seed, device)
                x, x_star = min_nuclear_norm_interpolant(problem).x, problem.x_star
                distances[i, k] = torch.linalg.matrix_norm(x - x_star) / torch.linalg.matrix_norm(x_star)
                if progress is not None:
                    progress(i * self.trials + k + 1, len(self.ms) * self.trials)
        return RecoveryResult(self, distances)

    def threads(self, device) -> int | None:
        return None

    def estimated_seconds(self) -> float:
        # interior-point work grows as the cube of the SDP's d^2 / 2 unknowns
        return _SDP_SECONDS * len(self.ms) * self.trials * (self.d / 30) ** 6

    def summary(self, result: RecoveryResult) -> list[str]:
        rates = ", ".join(f"m={m}: {rate:.2f}" for m, rate in zip(self.ms, result.success_rate))
        return [f"recovery d={self.d} r={self.r}, {self.trials} trials per m, seed {self.seed}",
                f"  fraction within {self.tolerance:g} of X*: {rates}"]

    def figures(self, result: RecoveryResult) -> dict:
        return {}


@dataclass(frozen=True)
class RecoveryResult:
    """Per m (rows) and trial (columns): the SDP solution's relative distance to X*."""

    config: RecoveryConfig
    rel_distance: torch.Tensor  # (len(ms), trials), float64

    @property
    def success_rate(self) -> list[float]:
        """Per m, the fraction of trials within config.tolerance of X*."""
        return (self.rel_distance <= self.config.tolerance).double().mean(dim=1).tolist()


@dataclass(frozen=True)
class DepthProbeConfig:
    """Gradient norms at initialization of width-`width` MLPs, one per depth (claim G4)."""

    needs_mnist: ClassVar[bool] = True
    progress_unit: ClassVar[str] = "depth"

    init: str = "pytorch"
    depths: tuple[int, ...] = PROBE_DEPTHS
    width: int = 128
    seed: int = 0
    batches: int = 10

    def __post_init__(self):
        object.__setattr__(self, "depths", sequence("depths", self.depths))
        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {INITS}")
        if not self.depths:
            raise ValueError("depths is empty")
        for name, value in [("depth", d) for d in self.depths] + [("width", self.width), ("batches", self.batches)]:
            positive_int(name, value)
        integer("seed", self.seed)

    def compute(self, device, data: MNIST, progress=None) -> DepthProbeResult:
        norms = {}
        for done, depth in enumerate(self.depths, 1):
            mlp = MLPConfig(hidden_sizes=(self.width,) * depth, init=self.init, seed=self.seed,
                            init_batches=self.batches)
            model = build_mlp(mlp.hidden_sizes, mlp.init, mlp.seed).to(device)
            norms[depth] = initial_gradient_norms(model, data, mlp)
            if progress is not None:
                progress(done, len(self.depths))
        return DepthProbeResult(self, norms)

    def threads(self, device) -> int | None:
        return MLPConfig(seed=self.seed).threads(device)

    def estimated_seconds(self) -> float:
        return 0.0  # a few batches per depth

    def summary(self, result: DepthProbeResult) -> list[str]:
        means = ", ".join(f"depth {d}: {n.mean():.3g}" for d, n in result.norms.items())
        return [f"gradient norms at {self.init} initialization, width {self.width}, seed {self.seed}: {means}"]

    def figures(self, result: DepthProbeResult) -> dict:
        return {}


@dataclass(frozen=True)
class DepthProbeResult:
    """Per-layer gradient norms at initialization, keyed by depth."""

    config: DepthProbeConfig
    norms: dict[int, torch.Tensor] = field(hash=False)


