"""Models, data and solvers behind the claims; the public API is re-exported here."""

from ._cache import CacheInfo, ResultCache, source_fingerprint
from ._concurrent import compute_concurrently, estimated_seconds
from ._convex import NuclearNormSolution, min_nuclear_norm_interpolant
from ._experiments import (
    PAPER_ALPHAS,
    PAPER_SWEEPS,
    THRESHOLD_M_PER_DR,
    DepthProbeConfig,
    DepthProbeResult,
    SensingConfig,
    SensingResult,
    cached_run,
    claim_experiments,
    experiment_spec,
    experiment_threads,
    resolve_device,
    run,
)
from ._geometry import SensingThresholds, sensing_thresholds
from ._native_pass import DISABLE_ENV as NATIVE_PASS_ENV
from ._native_pass import fused_pass_tile
from ._mlp import (
    INITS,
    LayerBalance,
    MLPConfig,
    MLPDivergenceError,
    MLPHistory,
    build_mlp,
    initial_gradient_norms,
    layer_gradient_norms,
    parameter_count,
    train_mlp,
)
from ._mlp_step import sgd_step
from ._mnist import (
    MNIST,
    RAW_FILES,
    MNISTChecksumError,
    MNISTUnavailable,
    default_cache_root,
    load_mnist,
    locate_mnist,
    verify_raw_files,
)
from ._progress import progress_bar
from ._predictions import initial_growth_spectrum, local_contraction_rate, local_hessian_eigenvalues
from ._provenance import bits_fingerprint, machine
from ._seeds import seeded_generator
from ._descent import (
    AlphaSweepResult,
    SensingDivergenceError,
    SensingTrace,
    alpha_sweep,
    escape_step,
    gradient_descent,
    step_size,
)
from ._sensing import (
    BACKEND_ENV,
    PackedSensingOperator,
    SensingProblem,
    make_sensing_problem,
    resolve_backend,
    sensing_problem_from_tensors,
)

__all__ = [
    "CacheInfo",
    "ResultCache",
    "source_fingerprint",
    "PAPER_ALPHAS",
    "PAPER_SWEEPS",
    "THRESHOLD_M_PER_DR",
    "cached_run",
    "compute_concurrently",
    "estimated_seconds",
    "experiment_spec",
    "experiment_threads",
    "progress_bar",
    "BACKEND_ENV",
    "NATIVE_PASS_ENV",
    "fused_pass_tile",
    "resolve_backend",
    "DepthProbeConfig",
    "DepthProbeResult",
    "SensingConfig",
    "SensingResult",
    "claim_experiments",
    "resolve_device",
    "run",
    "SensingThresholds",
    "sensing_thresholds",
    "initial_growth_spectrum",
    "local_contraction_rate",
    "local_hessian_eigenvalues",
    "seeded_generator",
    "bits_fingerprint",
    "machine",
    "INITS",
    "MLPConfig",
    "LayerBalance",
    "MLPDivergenceError",
    "MLPHistory",
    "build_mlp",
    "initial_gradient_norms",
    "layer_gradient_norms",
    "parameter_count",
    "sgd_step",
    "train_mlp",
    "MNIST",
    "RAW_FILES",
    "MNISTChecksumError",
    "MNISTUnavailable",
    "default_cache_root",
    "load_mnist",
    "locate_mnist",
    "verify_raw_files",
    "NuclearNormSolution",
    "min_nuclear_norm_interpolant",
    "AlphaSweepResult",
    "PackedSensingOperator",
    "SensingDivergenceError",
    "SensingProblem",
    "SensingTrace",
    "alpha_sweep",
    "escape_step",
    "gradient_descent",
    "make_sensing_problem",
    "sensing_problem_from_tensors",
    "step_size",
]
