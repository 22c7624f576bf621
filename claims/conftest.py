"""Experiment fixtures: every experiment the claims use is named in core.claim_experiments.

Each runs at most once per session and, through the on-disk result cache, once across sessions and
pytest-xdist workers (a per-experiment file lock). Tests record which experiments they used, and whether
each was computed or loaded, in their report's user_properties; claims/_plugin.py prints the summary.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import warnings

import pytest
import torch

from claims._figure_policy import BASELINE_DEVICE, BASELINE_SEED
from core import (RecoveryConfig, ResultCache, SensingConfig, cached_run, claim_experiments, compute_concurrently,
                  estimated_seconds, experiment_threads, load_mnist, progress_bar, seed_set, source_fingerprint)

EXPERIMENT_PROPERTY = "experiment"


class ExperimentsInterrupted(Exception):
    """Ends an experiment computed ahead once the session is interrupted."""


class ExperimentResults:
    """Results by experiment name, each computed on first request; a failure is kept and re-raised, not re-run."""

    def __init__(self, configs: dict, device, mnist_root, cache: ResultCache, suspend_capture=contextlib.nullcontext):
        self.configs, self.device, self.mnist_root, self.cache = configs, device, mnist_root, cache
        self.suspend_capture = suspend_capture
        self._done: dict[str, tuple[bool, object, dict]] = {}
        self._mnist = None
        self._mnist_lock = threading.Lock()  # experiments computed side by side share one load
        self._fingerprint = source_fingerprint()

    def _data(self):
        with self._mnist_lock:
            if self._mnist is None:
                self._mnist = load_mnist(self.mnist_root, self.device)
        return self._mnist

    def mnist(self):
        """MNIST on the run's device, loaded once (for tests that train beside the named experiments)."""
        return self._data()

    def _compute(self, name: str, progress=None, side_by_side: int = 1) -> tuple[bool, object, dict]:
        config = self.configs[name]
        try:
            # MNIST is loaded only if the computation runs: a cached MLP result needs no data at all.
            data = None if isinstance(config, (SensingConfig, RecoveryConfig)) else self._data
            result, info = cached_run(config, self.device, self.cache, self._fingerprint, data=data,
                                      progress=progress)
        except Exception as err:  # noqa: BLE001 - kept and re-raised by get() for every request
            return False, err, {"name": name, "failed": f"{type(err).__name__}: {err}"}
        provenance = {"name": name, "loaded": info.loaded, "compute_seconds": round(info.compute_seconds, 2)}
        if not info.loaded:  # say what computed it (core.experiment_threads: 1 for the float32 MLPs)
            provenance["torch_threads"] = experiment_threads(config, self.device) or torch.get_num_threads()
            provenance["side_by_side"] = side_by_side
        return True, result, provenance

    def get(self, name: str):
        """(result, provenance) of the named experiment; re-raises its failure on every request."""
        if name not in self._done:
            config = self.configs[name]
            unit = "epoch" if hasattr(config, "epochs") else "solve" if hasattr(config, "trials") else "step"
            self._done[name] = self._compute(name, progress_bar(name, unit, suspend=self.suspend_capture))
        ok, value, provenance = self._done[name]
        if not ok:
            raise value
        return value, provenance

    def compute_ahead(self, names, workers: int) -> None:
        """Compute the named experiments not yet done, `workers` at a time on one CPU thread each, longest
        first (core.compute_concurrently). The 18 claim experiments took 94-101 s this way on the 2-core
        machine, against 128 s one at a time on two threads."""
        todo = sorted((n for n in set(names) if n not in self._done),
                      key=lambda n: -estimated_seconds(self.configs[n]))
        if workers < 2 or len(todo) < 2 or self.device.type != "cpu":
            return
        bar = progress_bar(f"{len(todo)} experiments, {workers} at a time", "experiment", suspend=self.suspend_capture)
        bar(0, len(todo))
        stop = threading.Event()

        def stop_if_interrupted(done, total):  # the solvers call their progress every step or epoch
            if stop.is_set():
                raise ExperimentsInterrupted("pytest was interrupted while experiments were computed ahead")

        jobs = {name: functools.partial(self._compute, name, stop_if_interrupted, side_by_side=workers)
                for name in todo}
        outcomes = compute_concurrently(jobs, workers, on_done=lambda name, finished: bar(finished, len(todo)),
                                        stop=stop)
        for name, outcome in outcomes.items():
            # _compute returns its failures; an exception here came from outside it (say, memory)
            self._done[name] = outcome if isinstance(outcome, tuple) else \
                (False, outcome, {"name": name, "failed": f"{type(outcome).__name__}: {outcome}"})


def experiments_needed(item, names) -> set[str]:
    """The experiments a collected claim test reads, from its fixtures and parameters."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    fixtures = set(item.fixturenames)
    needed = set()
    if "sensing" in fixtures:
        needed.add(f"sensing-{params.get('m_factor')}dr")
    if "sweeps" in fixtures:
        needed |= {"sensing-10dr", "sensing-5dr"}
    if "nuclear" in fixtures:
        needed.add("nuclear")
    if "recovery" in fixtures:
        needed.add("recovery")
    if "threshold_runs" in fixtures:
        needed |= {n for n in names if n.startswith("threshold-")}
    if "mlp_history" in fixtures:
        needed.add("mlp")
    if "claim_seed_histories" in fixtures:
        needed |= {n for n in names if n.startswith("mlp-g5-")}
    if "depth_probe" in fixtures:
        needed.add(f"depth-probe-{params.get('init')}")
    if "depth_init_history" in fixtures:
        needed.add(f"depth-train-{params.get('init')}-{params.get('depth')}")
    tables = getattr(getattr(item, "module", None), "TABLES", None)  # the numeric baselines read `results`
    if "results" in fixtures and tables is not None and params.get("table") in tables:
        experiment = tables[params["table"]][0]
        needed |= {n for n in names if n.startswith("threshold-")} if experiment == "threshold" else {experiment}
    return needed & set(names)


@pytest.fixture(autouse=True)
def _label_the_seed_set(request, seed):
    """Each claim instance says whether its seeds are calibration seeds, held-out ones or other (core.seed_set)."""
    if request.node.get_closest_marker("claim") is None:
        return
    seeds = [seed]
    if "claim_seed_histories" in request.fixturenames:  # G5: the seeds of its MLPs, as the experiments name them
        configs = claim_experiments(seed, request.config.getoption("claim_seeds"))
        seeds = [config.seed for name, config in configs.items() if name.startswith("mlp-g5-")]
    request.getfixturevalue("claim").param(seed_set=seed_set(seeds))


@pytest.fixture(scope="session")
def results(request, pytestconfig, device, seed) -> ExperimentResults:
    configs = claim_experiments(seed, pytestconfig.getoption("claim_seeds"))
    cache = ResultCache(enabled=not pytestconfig.getoption("no_result_cache"))
    if getattr(pytestconfig.option, "cacheclear", False):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cache.clear()
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    # The bar is drawn past pytest's output capture, so a long experiment shows a live line.
    suspend = capture.global_and_fixture_disabled if capture is not None else contextlib.nullcontext
    results = ExperimentResults(configs, device, pytestconfig.getoption("mnist_root"), cache, suspend)
    # An xdist worker runs only its share of the tests: it computes each experiment when first needed.
    if getattr(pytestconfig, "workerinput", None) is None:
        workers = pytestconfig.getoption("experiment_workers") or torch.get_num_threads()
        names = set().union(*(experiments_needed(item, configs) for item in request.session.items))
        results.compute_ahead(names, workers)
    return results


def _use(request, results: ExperimentResults, name: str):
    result, provenance = results.get(name)
    request.node.user_properties.append((EXPERIMENT_PROPERTY, provenance))
    return result


#: fixture -> the experiment names it reads, for --dist loadgroup (one worker per experiment)
def _experiment_of(item) -> str | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = item.fixturenames
    if "sensing" in names:
        return f"sensing-{params.get('m_factor')}dr"
    if "sweeps" in names:
        return "sensing-10dr"
    for fixture, group in (("nuclear", "nuclear"), ("recovery", "recovery"), ("threshold_runs", "threshold"),
                           ("mlp_history", "mlp"), ("claim_seed_histories", "mlp-seeds"), ("depth_probe", "depth-probe"),
                           ("depth_init_history", "depth-train")):
        if fixture in names:
            return group
    return None


def pytest_collection_modifyitems(items):
    for item in items:
        group = _experiment_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture
def mlp_history(request, results):
    """Problem 1 at paper scale for the base seed: [128, 128, 128], PyTorch init, SGD lr 0.01, 40 epochs."""
    return _use(request, results, "mlp")


@pytest.fixture
def claim_seed_histories(request, results):
    """The same MLP for the --claim-seeds held-out seeds of G5 (core.g5_seed)."""
    return [_use(request, results, name) for name in results.configs if name.startswith("mlp-g5-")]


@pytest.fixture
def depth_probe(request, results, init):
    """Gradient norms at initialization of width-128 MLPs of each probed depth."""
    return _use(request, results, f"depth-probe-{init}")


@pytest.fixture
def depth_init_history(request, results, init, depth):
    """A `depth`-hidden-layer, width-128 MLP trained for 3 epochs from `init`."""
    return _use(request, results, f"depth-train-{init}-{depth}")


@pytest.fixture
def sensing(request, results, m_factor):
    """Problem 2 at paper scale: d=100, r=5, m = m_factor * d * r, every alpha plus the exact run."""
    return _use(request, results, f"sensing-{m_factor}dr")


@pytest.fixture
def sweeps(request, results) -> dict:
    """Both paper-scale sensing results, keyed by m / (d r)."""
    return {f: _use(request, results, f"sensing-{f}dr") for f in (10, 5)}


@pytest.fixture
def nuclear(request, results):
    """d=30, r=2, m=90: GD from small and large alpha, and the convex min-nuclear-norm interpolant."""
    return _use(request, results, "nuclear")


@pytest.fixture
def recovery(request, results):
    """d=30, r=2: the min-trace SDP on 20 problems at each m in (80, 95, 105, 115, 130)."""
    return _use(request, results, "recovery")


@pytest.fixture
def threshold_runs(request, results) -> dict:
    """The P1 sweep over m at d=40, r=2, keyed by m / (d r)."""
    runs = [_use(request, results, name) for name in results.configs if name.startswith("threshold-")]
    return {round(result.config.m_per_dr): result for result in runs}


@pytest.fixture
def baseline_run(seed, device):
    """Skip an image test unless this run uses the seed and device its baselines were drawn from."""
    if seed != BASELINE_SEED or device.type != BASELINE_DEVICE:
        pytest.skip(f"baselines are seed {BASELINE_SEED} on {BASELINE_DEVICE}; this run is seed {seed} on "
                    f"{device.type}, so its curves are not comparable (run with --seed {BASELINE_SEED})")
