"""Models, data and solvers behind the claims; the public API is re-exported here."""

from ._mlp import (
    INITS,
    MLPConfig,
    MLPHistory,
    build_mlp,
    initial_gradient_norms,
    layer_gradient_norms,
    parameter_count,
    train_mlp,
)
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

__all__ = [
    "INITS",
    "MLPConfig",
    "MLPHistory",
    "build_mlp",
    "initial_gradient_norms",
    "layer_gradient_norms",
    "parameter_count",
    "train_mlp",
    "MNIST",
    "RAW_FILES",
    "MNISTChecksumError",
    "MNISTUnavailable",
    "default_cache_root",
    "load_mnist",
    "locate_mnist",
    "verify_raw_files",
]
