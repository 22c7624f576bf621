"""Under pytest-xdist every experiment is computed once across workers, through cached_run's file lock."""

import json
from pathlib import Path

import pytest

pytest.importorskip("xdist")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

SUITE = '''
import json, os
import pytest
from core import ResultCache, SensingConfig, cached_run

CONFIG = SensingConfig(d=6, r=1, m=60, alphas=(1e-3,), steps=40, seed=5)

@pytest.fixture(scope="session")
def result():
    value, info = cached_run(CONFIG, "cpu", ResultCache(os.environ["RESULTS_DIR"]))
    with open(os.environ["LOG"], "a") as log:
        log.write(json.dumps({"worker": os.environ.get("PYTEST_XDIST_WORKER"), "loaded": info.loaded}) + "\\n")
    return value

@pytest.mark.parametrize("i", range(6))
def test_uses_the_experiment(result, i):
    assert result.config == CONFIG and result.sweep.trace.loss.shape[-1] == 41
'''


def test_two_workers_compute_a_shared_experiment_once(pytester, monkeypatch, tmp_path):
    """Six tests on two workers, one session fixture each: one computation, the other worker loads it."""
    pytester.makepyfile(test_suite=SUITE)
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LOG", str(log))
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "-p", "no:mpl")
    result.assert_outcomes(passed=6)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert len({c["worker"] for c in calls}) == 2, "both workers should have asked for the experiment"
    assert sum(not c["loaded"] for c in calls) == 1, f"computed more than once: {calls}"


THREADS_SUITE = '''
import os, torch

def test_threads(seed):
    with open(os.environ["LOG"], "a") as log:
        log.write(f"{os.environ['PYTEST_XDIST_WORKER']} {torch.get_num_threads()}\\n")
'''


@pytest.mark.parametrize("omp", [None, "2"], ids=["default", "OMP_NUM_THREADS=2"])
def test_each_xdist_worker_gets_its_share_of_the_cores(pytester, monkeypatch, tmp_path, omp):
    """Two workers each run torch (and so the sensing kernel) on cpu_count // 2 threads, not on every core;
    an explicit OMP_NUM_THREADS is left as it is."""
    import os

    import torch

    pytester.makeconftest("pytest_plugins = ['claims._plugin']\n")
    pytester.makepyfile(test_a=THREADS_SUITE, test_b=THREADS_SUITE)
    log = tmp_path / "threads.log"
    monkeypatch.setenv("LOG", str(log))
    if omp is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", omp)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider", "-p", "no:mpl",
                                           "-o", f"pythonpath={REPO}", timeout=300)
    result.assert_outcomes(passed=2)
    seen = dict(line.split() for line in log.read_text().splitlines())
    assert len(seen) == 2, seen
    expected = int(omp) if omp else max(1, min((os.cpu_count() or 1) // 2, torch.get_num_threads()))
    assert set(seen.values()) == {str(expected)}, seen
