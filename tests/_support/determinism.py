"""The small runs the determinism tests repeat, in this process and in child processes, and their digests."""

from __future__ import annotations

import dataclasses
import hashlib

import numba
import torch

from core import MLPConfig, SensingConfig, run
from core.mlp import MNIST

from .fake_mnist import tiny_mnist

SMALL_MLP = MLPConfig(hidden_sizes=(64, 32), epochs=2, batch_size=128, lr=0.05, seed=7, init_batches=3)
SMALL_SENSING = SensingConfig(d=12, r=2, m=120, alphas=(1e-3, 0.1), steps=60, seed=7, top_k=4)


def synthetic_mnist(n=1536, seed=0) -> MNIST:
    """Learnable stand-in data, large enough that the matrix products split across threads."""
    return tiny_mnist(n, seed, test=512)


def run_small(mlp=SMALL_MLP, sensing=SMALL_SENSING):
    return run(mlp, data=synthetic_mnist()), run(sensing)


def tensors(value, prefix=""):
    """Every tensor inside a result, by dotted field name."""
    if torch.is_tensor(value):
        yield prefix, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name != "config":
                yield from tensors(getattr(value, f.name), f"{prefix}.{f.name}".lstrip("."))


def digests(*results) -> dict[str, str]:
    """SHA-256 of the exact bytes of every tensor of every result."""
    return {f"{i}:{name}": hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
            for i, result in enumerate(results) for name, t in tensors(result)}


def set_threads(n: int) -> None:
    """torch's and numba's thread counts, both."""
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
