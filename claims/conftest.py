"""Experiment fixtures: every experiment the claims use is named in core.claim_experiments, and which
fixture reads which is written once, in claims/_experiment_map.py.

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

from claims._experiment_map import READS, Reads, group_of, names_read, params_of, provide, sources_of
from claims._figure_policy import BASELINE_DEVICE, BASELINE_SEED
from claims._plugin import setting
from core import ResultCache, cached_run, claim_experiments, load_mnist, seed_set
from core.experiments import compute_concurrently, progress_bar, source_fingerprint
from pytest_claims import report_progress

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
        self._expected: frozenset[str] = frozenset()
        self._counted: set[str] = set()
        self._count_lock = threading.Lock()

    def expect(self, names) -> None:
        """The experiments this run will read: a seed study's progress counts them (report_progress)."""
        self._expected = frozenset(names)
        report_progress(len(self._counted & self._expected), len(self._expected), "experiment")

    def _count(self, name: str) -> None:
        with self._count_lock:
            if name in self._expected and name not in self._counted:
                self._counted.add(name)
                report_progress(len(self._counted), len(self._expected), "experiment")

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
            data = self._data if config.needs_mnist else None
            result, info = cached_run(config, self.device, self.cache, self._fingerprint, data=data,
                                      progress=progress)
        except Exception as err:  # noqa: BLE001 - kept and re-raised by get() for every request
            self._count(name)
            return False, err, {"name": name, "failed": f"{type(err).__name__}: {err}"}
        self._count(name)
        provenance = {"name": name, "loaded": info.loaded, "compute_seconds": round(info.compute_seconds, 2)}
        if not info.loaded:  # say what computed it (Experiment.threads: 1 for the float32 MLPs)
            provenance["torch_threads"] = config.threads(self.device) or torch.get_num_threads()
            provenance["side_by_side"] = side_by_side
        return True, result, provenance

    def get(self, name: str):
        """(result, provenance) of the named experiment; re-raises its failure on every request."""
        if name not in self._done:
            config = self.configs[name]
            bar = progress_bar(name, config.progress_unit, suspend=self.suspend_capture)
            self._done[name] = self._compute(name, bar)
        ok, value, provenance = self._done[name]
        if not ok:
            raise value
        return value, provenance

    def compute_ahead(self, names, workers: int) -> None:
        """Compute the named experiments not yet done, `workers` at a time on one CPU thread each, longest
        first (core.experiments.compute_concurrently): sooner than one at a time on every thread
        (docs/benchmarks.md)."""
        todo = sorted((n for n in set(names) if n not in self._done),
                      key=lambda n: -self.configs[n].estimated_seconds())
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
    """The experiments a collected claim test reads, from its fixtures and parameters (claims/_experiment_map.py)."""
    params = params_of(item)
    return {name for source in sources_of(item) for name in names_read(source, params, names)}


@pytest.fixture(autouse=True)
def _label_the_seed_set(request, seed):
    """Each claim instance says whether its seeds are calibration seeds, held-out ones or other (core.seed_set)."""
    if request.node.get_closest_marker("claim") is None:
        return
    seeds = [seed]
    if "claim_seed_histories" in request.fixturenames:  # G5: the seeds of its MLPs, as the experiments name them
        configs = claim_experiments(seed, request.config.getoption("claim_seeds"))
        seeds = [configs[name].seed for name in names_read("claim_seed_histories", {}, configs)]
    request.getfixturevalue("claim").param(seed_set=seed_set(seeds))


def session_cache(config, root=None) -> ResultCache:
    """The run's result cache: --no-result-cache bypasses it and --clear-results empties it first. pytest's own
    --cache-clear is not about it: that flag empties .pytest_cache, and the results stay."""
    cache = ResultCache(root, enabled=not config.getoption("no_result_cache"))
    if config.getoption("clear_results"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cache.clear()
    return cache


@pytest.fixture(scope="session")
def results(request, pytestconfig, device, seed) -> ExperimentResults:
    configs = claim_experiments(seed, pytestconfig.getoption("claim_seeds"))
    cache = session_cache(pytestconfig)
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    # The bar is drawn past pytest's output capture, so a long experiment shows a live line.
    suspend = capture.global_and_fixture_disabled if capture is not None else contextlib.nullcontext
    results = ExperimentResults(configs, device, setting(pytestconfig, "mnist_root"), cache, suspend)
    # An xdist worker runs only its share of the tests: it computes each experiment when first needed.
    if getattr(pytestconfig, "workerinput", None) is None:
        workers = setting(pytestconfig, "experiment_workers") or torch.get_num_threads()
        names = set().union(*(experiments_needed(item, configs) for item in request.session.items))
        results.expect(names)
        results.compute_ahead(names, workers)
    return results


def _use(request, results: ExperimentResults, name: str):
    result, provenance = results.get(name)
    request.node.user_properties.append((EXPERIMENT_PROPERTY, provenance))
    return result


def pytest_collection_modifyitems(items):
    """One xdist group per experiment (--dist loadgroup): its tests run on the worker that computes it."""
    for item in items:
        sources = sources_of(item)
        if sources:
            item.add_marker(pytest.mark.xdist_group(group_of(sources[0], params_of(item))))


def _experiment_fixture(source: str, reads: Reads):
    """The fixture named `source`: its experiments' results as READS describes them, each one's provenance
    recorded in the test's report."""
    def fixture(request, results):
        return provide(source, params_of(request.node), results.configs, lambda name: _use(request, results, name))

    fixture.__name__ = fixture.__qualname__ = source
    fixture.__doc__ = reads.doc
    return pytest.fixture(name=source)(fixture)


for _source, _reads in READS.items():
    globals()[_source] = _experiment_fixture(_source, _reads)


@pytest.fixture
def baseline_run(seed, device):
    """Skip an image test unless this run uses the seed and device its baselines were drawn from."""
    if seed != BASELINE_SEED or device.type != BASELINE_DEVICE:
        pytest.skip(f"baselines are seed {BASELINE_SEED} on {BASELINE_DEVICE}; this run is seed {seed} on "
                    f"{device.type}, so its curves are not comparable (run with --seed {BASELINE_SEED})")
