"""Experiment fixtures: every experiment the claims use is named in core.claim_experiments and runs once per session."""

from __future__ import annotations

import contextlib

import pytest

from claims._figure_policy import BASELINE_DEVICE, BASELINE_SEED
from core import SensingConfig, claim_experiments, load_mnist, run
from core._progress import progress_bar


class ExperimentResults:
    """Results by experiment name, each computed on first request; a failure is kept and re-raised, not re-run."""

    def __init__(self, configs: dict, device, mnist_root, suspend_capture=contextlib.nullcontext):
        self.configs, self.device, self.mnist_root = configs, device, mnist_root
        self.suspend_capture = suspend_capture
        self._done: dict[str, tuple[bool, object]] = {}
        self._mnist = None

    def _data(self):
        if self._mnist is None:
            self._mnist = load_mnist(self.mnist_root, self.device)
        return self._mnist

    def __getitem__(self, name: str):
        if name not in self._done:
            config = self.configs[name]
            try:
                data = None if isinstance(config, SensingConfig) else self._data()
                progress = progress_bar(name, "epoch" if hasattr(config, "epochs") else "step",
                                        suspend=self.suspend_capture)
                self._done[name] = (True, run(config, self.device, data=data, progress=progress))
            except Exception as err:  # noqa: BLE001 - re-raised below and for every later request
                self._done[name] = (False, err)
        ok, value = self._done[name]
        if not ok:
            raise value
        return value


@pytest.fixture(scope="session")
def results(pytestconfig, device, seed) -> ExperimentResults:
    configs = claim_experiments(seed, pytestconfig.getoption("claim_seeds"))
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    # The bar is drawn past pytest's output capture, so a long experiment shows a live line.
    suspend = capture.global_and_fixture_disabled if capture is not None else contextlib.nullcontext
    return ExperimentResults(configs, device, pytestconfig.getoption("mnist_root"), suspend)


@pytest.fixture
def mlp_history(results):
    """Problem 1 at paper scale for the base seed: [128, 128, 128], PyTorch init, SGD lr 0.01, 40 epochs."""
    return results["mlp"]


@pytest.fixture
def claim_seed_histories(results):
    """The same MLP for seeds base + 1 .. base + --claim-seeds."""
    return [results[name] for name in results.configs if name.startswith("mlp-seed+")]


@pytest.fixture
def depth_probe(results, init):
    """Gradient norms at initialization of width-128 MLPs of each probed depth."""
    return results[f"depth-probe-{init}"]


@pytest.fixture
def depth_init_history(results, init, depth):
    """A `depth`-hidden-layer, width-128 MLP trained for 3 epochs from `init`."""
    return results[f"depth-train-{init}-{depth}"]


@pytest.fixture
def sensing(results, m_factor):
    """Problem 2 at paper scale: d=100, r=5, m = m_factor * d * r, every alpha plus the exact run."""
    return results[f"sensing-{m_factor}dr"]


@pytest.fixture
def sweeps(results) -> dict:
    """Both paper-scale sensing results, keyed by m / (d r)."""
    return {f: results[f"sensing-{f}dr"] for f in (10, 5)}


@pytest.fixture
def nuclear(results):
    """d=30, r=2, m=90: GD from small and large alpha, and the convex min-nuclear-norm interpolant."""
    return results["nuclear"]


@pytest.fixture
def threshold_runs(results) -> dict:
    """The P1 sweep over m at d=40, r=2, keyed by m / (d r)."""
    runs = [results[name] for name in results.configs if name.startswith("threshold-")]
    return {round(result.config.m_per_dr): result for result in runs}


@pytest.fixture
def baseline_run(seed, device):
    """Skip an image test unless this run uses the seed and device its baselines were drawn from."""
    if seed != BASELINE_SEED or device.type != BASELINE_DEVICE:
        pytest.skip(f"baselines are seed {BASELINE_SEED} on {BASELINE_DEVICE}; this run is seed {seed} on "
                    f"{device.type}, so its curves are not comparable (run with --seed {BASELINE_SEED})")
