"""Experiments as values: a frozen config goes in, and `run` returns a result that carries that config.

The device is not part of a config: it changes how a result is computed, not what is asked for.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy
import torch

from ._cache import CacheInfo, ResultCache, source_fingerprint
from ._convex import NuclearNormSolution, min_nuclear_norm_interpolant
from ._mlp import INITS, MLPConfig, build_mlp, initial_gradient_norms, train_mlp
from ._mnist import MNIST, load_mnist
from ._predictions import initial_growth_spectrum, local_contraction_rate
from ._projected import ProjectedDescentTrace, psd_projected_descent
from ._provenance import bits_fingerprint
from ._descent import AlphaSweepResult, _torch_threads, alpha_sweep
from ._seeds import HELD_OUT_START
from ._sensing import make_sensing_problem

#: the handout's initialization scales for the over-parameterized runs
PAPER_ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
#: hidden-layer counts at which the gradient norms at initialization are probed (claim G4)
PROBE_DEPTHS = (1, 2, 4, 6, 8, 10)
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _positive_float(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _integer(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")


def _sequence(name: str, value) -> tuple:
    """`value` as a tuple; a scalar or string is a mistake, not a one-element sequence."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    return tuple(value)


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
    #: also run `steps` of PSD-projected GD on X itself from a random PSD start (core._projected, claim P5)
    projected: bool = False

    def __post_init__(self):
        object.__setattr__(self, "alphas", _sequence("alphas", self.alphas))
        for name in ("d", "r", "m", "steps", "top_k"):
            _positive_int(name, getattr(self, name))
        if self.r > self.d:
            raise ValueError(f"rank r={self.r} exceeds d={self.d}")
        if not self.alphas:
            raise ValueError("alphas is empty: give at least one initialization scale")
        for alpha in self.alphas:
            _positive_float("alpha", alpha)
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        _positive_float("eta", self.eta)
        _positive_float("exact_init_scale", self.exact_init_scale)
        _integer("seed", self.seed)
        for name in ("convex", "projected"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.dtype, str) or self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")

    @property
    def m_per_dr(self) -> float:
        """Measurements per degree-of-freedom scale d r (the handout's 10 means m = 10dr)."""
        return self.m / (self.d * self.r)


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

    def __post_init__(self):
        object.__setattr__(self, "ms", _sequence("ms", self.ms))
        for name, value in [("d", self.d), ("r", self.r), ("trials", self.trials)] + [("m", m) for m in self.ms]:
            _positive_int(name, value)
        if not self.ms:
            raise ValueError("ms is empty: give at least one number of measurements")
        if self.r > self.d:
            raise ValueError(f"rank r={self.r} exceeds d={self.d}")
        _integer("seed", self.seed)
        _positive_float("tolerance", self.tolerance)

    @property
    def trial_seeds(self) -> tuple[int, ...]:
        return tuple(self.seed * self.trials + k for k in range(self.trials))


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

    init: str = "pytorch"
    depths: tuple[int, ...] = PROBE_DEPTHS
    width: int = 128
    seed: int = 0
    batches: int = 10

    def __post_init__(self):
        object.__setattr__(self, "depths", _sequence("depths", self.depths))
        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {INITS}")
        if not self.depths:
            raise ValueError("depths is empty")
        for name, value in [("depth", d) for d in self.depths] + [("width", self.width), ("batches", self.batches)]:
            _positive_int(name, value)
        _integer("seed", self.seed)


@dataclass(frozen=True)
class DepthProbeResult:
    """Per-layer gradient norms at initialization, keyed by depth."""

    config: DepthProbeConfig
    norms: dict[int, torch.Tensor] = field(hash=False)


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """`name`, checked to be usable here, or cuda when available, else cpu; ValueError if unusable."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, (str, torch.device)):
        raise ValueError(f"device must be a name such as 'cpu' or 'cuda:0', got {name!r}")
    try:
        device = torch.device(name)
        # A real float64 computation read back on the host: "meta" allocates but holds no data, and mps
        # has no float64, yet the sensing runs need both.
        probe = torch.arange(3, dtype=torch.float64, device=device)
        if float((probe @ probe).item()) != 5.0:
            raise RuntimeError("a float64 dot product gave a wrong result")
    except (RuntimeError, AssertionError, TypeError, NotImplementedError) as err:
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ValueError(f"device {str(name)!r} is not usable here: {reason}") from None
    return device


def _run_sensing(config: SensingConfig, device, progress) -> SensingResult:
    problem = make_sensing_problem(config.d, config.r, config.m, config.seed, device, _DTYPES[config.dtype])
    growth = initial_growth_spectrum(problem, config.top_k).cpu()
    sweep = alpha_sweep(problem, config.alphas, config.steps, seed=config.seed, eta=config.eta,
                        exact_init_scale=config.exact_init_scale, top_k=config.top_k, progress=progress)
    exact = sweep.exact_trace
    rate = local_contraction_rate(problem, exact.final_u, float(exact.lr))
    convex = min_nuclear_norm_interpolant(problem) if config.convex else None
    projected = psd_projected_descent(problem, config.steps, config.seed) if config.projected else None
    return SensingResult(config, sweep, growth, rate, convex, projected)


def _run_recovery(config: RecoveryConfig, device, progress) -> RecoveryResult:
    distances = torch.empty(len(config.ms), config.trials, dtype=torch.float64)
    for i, m in enumerate(config.ms):
        for k, seed in enumerate(config.trial_seeds):
            problem = make_sensing_problem(config.d, config.r, m, seed, device)
            x, x_star = min_nuclear_norm_interpolant(problem).x, problem.x_star
            distances[i, k] = torch.linalg.matrix_norm(x - x_star) / torch.linalg.matrix_norm(x_star)
            if progress is not None:
                progress(i * config.trials + k + 1, len(config.ms) * config.trials)
    return RecoveryResult(config, distances)


def _run_depth_probe(config: DepthProbeConfig, data: MNIST, device) -> DepthProbeResult:
    norms = {}
    for depth in config.depths:
        mlp = MLPConfig(hidden_sizes=(config.width,) * depth, init=config.init, seed=config.seed,
                        init_batches=config.batches)
        model = build_mlp(mlp.hidden_sizes, mlp.init, mlp.seed).to(device)
        norms[depth] = initial_gradient_norms(model, data, mlp)
    return DepthProbeResult(config, norms)


def _on_host(value):
    """`value` with every tensor inside it (dataclass fields, dicts, sequences) moved to the CPU."""
    if torch.is_tensor(value):
        return value.cpu()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _on_host(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, dict):
        return {key: _on_host(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_on_host(item) for item in value)
    return value


def run(config, device="cpu", data=None, mnist_root=None, progress=None):
    """Compute the result of `config` on `device`; the result's tensors are on the CPU whatever the device.

    MNIST experiments use `data` (an MNIST, or a callable returning one, called only here) or else load it
    from `mnist_root`. Claims, figures and the cache so meet one kind of result: before this, a sweep run
    on a GPU reached the claims' CPU fits with its histories still on the GPU.
    """
    if isinstance(config, SensingConfig):
        result = _run_sensing(config, device, progress)
    elif isinstance(config, RecoveryConfig):
        result = _run_recovery(config, device, progress)
    elif isinstance(config, (MLPConfig, DepthProbeConfig)):
        data = data() if callable(data) else data
        data = data if data is not None else load_mnist(mnist_root, device)
        with _torch_threads(experiment_threads(config, device)):
            if isinstance(config, MLPConfig):
                result = train_mlp(config, data, device, progress=progress)
            else:
                result = _run_depth_probe(config, data, device)
    else:
        raise TypeError(f"no experiment for config of type {type(config).__name__}")
    return _on_host(result)


def experiment_threads(config, device="cpu") -> int | None:
    """The torch thread count `run` computes `config` with: 1 for an MNIST experiment on the CPU, else None
    (the caller's count).

    The float32 MLP's sums, and so its bits, depend on the thread count (train NLL 5.7e-4 apart on 1 and 2
    threads after 40 epochs), while the cache key does not name it. On one thread everywhere, the command line,
    a serial or xdist `pytest claims` and experiments computed side by side all store one set of values, on the
    thread count the numeric baselines were recorded with. The sensing pass is bitwise the same on any count.
    """
    mnist = isinstance(config, (MLPConfig, DepthProbeConfig))
    return 1 if mnist and torch.device(device).type == "cpu" else None


def experiment_spec(config, device, fingerprint: str | None = None) -> dict:
    """Everything a result depends on, as plain data: the cache key of `config` run on `device`.

    "machine" is core.bits_fingerprint: the CPU, the code paths torch, MKL and numba take on it (and the
    variables that override them), the sensing pass, and on CUDA the GPU, so that a run under another CPU,
    real or emulated, computes its own result instead of loading another machine's bits.
    """
    dtype = _DTYPES.get(getattr(config, "dtype", None), torch.float64)
    return {"experiment": type(config).__name__, "config": dataclasses.asdict(config),
            "code": fingerprint or source_fingerprint(), "torch": torch.__version__, "numpy": numpy.__version__,
            "device": str(torch.device(device)), "machine": bits_fingerprint(device, dtype)}


def cached_run(config, device="cpu", cache: ResultCache | None = None, fingerprint: str | None = None,
               **run_options) -> tuple[object, CacheInfo]:
    """`run(config, device, ...)` through the on-disk cache (default location unless `cache` is given)."""
    cache = cache if cache is not None else ResultCache()
    spec = experiment_spec(config, device, fingerprint)
    return cache.get_or_compute(spec, lambda: run(config, device, **run_options))


#: m / (d r) of the two paper-scale sweeps and their horizons T; at 5dr the bulk of the spectrum is
#: resolved more slowly, so it gets the handout's longer horizon
PAPER_SWEEPS = {10: 600, 5: 3000}
#: below the d=30, r=2 nuclear-norm recovery threshold (about 107 measurements, see core._geometry)
#: five small alphas (claim S6 follows GD as alpha -> 0) and one large one
NUCLEAR_COMPARISON = dict(d=30, r=2, m=90, alphas=(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.3), steps=20_000, convex=True)
#: the uniqueness sweep (claims P1 and P5) runs at d=40, r=2, where the thresholds sit at m/dr ~ 1.9 and 5.6
THRESHOLD_SWEEP = dict(d=40, r=2, alphas=(1e-4, 0.1), steps=4000, projected=True)
THRESHOLD_M_PER_DR = (2, 3, 5, 6, 10)
#: (init, depth) of the 3-epoch trainability runs of claim G4
DEPTH_TRAINING = (("pytorch", 3), ("pytorch", 10), ("he", 3), ("he", 10))


def claim_experiments(seed: int = 0, claim_seeds: int = 3) -> dict[str, object]:
    """Every experiment the claims and figures use, by name; seeds move with the base seed."""
    _positive_int("claim_seeds", claim_seeds)
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
