"""Experiment fixtures: each experiment runs once per session and is shared by every claim using it."""

from __future__ import annotations

from typing import Callable, Hashable

import pytest
import torch

from core import load_mnist
from core._experiments import (
    SWEEP_STEPS,
    gradient_norms_at_init_by_depth,
    mlp_gradient_norms,
    nuclear_norm_comparison,
    sensing_sweep,
)


class ExperimentCache:
    """Results keyed by the complete description of the experiment that made them."""

    def __init__(self):
        self._results: dict[Hashable, object] = {}

    def get(self, key: Hashable, run: Callable[[], object]):
        if key not in self._results:
            self._results[key] = run()
        return self._results[key]


@pytest.fixture(scope="session")
def experiments() -> ExperimentCache:
    return ExperimentCache()


@pytest.fixture(scope="session")
def mnist(pytestconfig, device):
    """Verified MNIST on the run's device."""
    return load_mnist(pytestconfig.getoption("mnist_root"), device)


@pytest.fixture
def seed_offset() -> int:
    """Which of the run's seeds an experiment uses; claims over several seeds parametrize it."""
    return 0


def _mlp(experiments, mnist, device, seed, **overrides):
    key = ("mlp", seed, str(device), tuple(sorted(overrides.items())))
    return experiments.get(key, lambda: mlp_gradient_norms(mnist, seed, device, **overrides))


@pytest.fixture
def mlp_history(experiments, mnist, device, seed, seed_offset):
    """Problem 1 at paper scale: [128, 128, 128], PyTorch init, SGD lr 0.01, batch 128, 40 epochs."""
    return _mlp(experiments, mnist, device, seed + seed_offset)


@pytest.fixture
def depth_init_history(experiments, mnist, device, seed, depth, init):
    """A `depth`-hidden-layer, width-128 MLP trained for 3 epochs from `init`."""
    return _mlp(experiments, mnist, device, seed, hidden_sizes=(128,) * depth, init=init, epochs=3)


@pytest.fixture
def init_norms_by_depth(experiments, mnist, device, seed, init) -> dict[int, torch.Tensor]:
    """Per-layer gradient norms at initialization of width-128 MLPs of each depth in PROBE_DEPTHS."""
    return experiments.get(("init-norms", init, seed, str(device)),
                           lambda: gradient_norms_at_init_by_depth(mnist, init, seed, device))


def _sweep(experiments, m_factor, seed, device):
    return experiments.get(("sensing", m_factor, seed, str(device)), lambda: sensing_sweep(m_factor, seed, device))


@pytest.fixture
def sweep(experiments, device, seed, m_factor):
    """Problem 2 at paper scale: d=100, r=5, m = m_factor * d * r, every alpha plus the exact run."""
    return _sweep(experiments, m_factor, seed, device)


@pytest.fixture
def nuclear_comparison(experiments, device, seed):
    """Small-instance GD from small and large alpha, and the convex min-nuclear-norm interpolant."""
    return experiments.get(("nuclear", seed, str(device)), lambda: nuclear_norm_comparison(seed, device))


@pytest.fixture
def sweeps(experiments, device, seed) -> dict:
    """Both paper-scale sweeps, keyed by m_factor (m = m_factor * d * r)."""
    return {m: _sweep(experiments, m, seed, device) for m in sorted(SWEEP_STEPS, reverse=True)}
