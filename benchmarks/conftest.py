"""Benchmark fixtures: devices, the memory floor measured in the same run, machine info for the JSON, and rows
whose time was measured elsewhere (`reported`)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

import pytest
import torch

#: Targets from issue 8; every one is a ratio measured within one run, never an absolute time.
TARGETS = {"K1": 1.5, "K2": 2.0, "K3": 1.3, "K4": 1.0}
#: rows recorded with `reported`: written to the benchmark JSON's "reported" list, beside pytest-benchmark's own
REPORTED = pytest.StashKey[list]()
CUDA_SKIP = "no CUDA device on this machine: the CUDA cases (Triton sensing kernel, MLP on GPU) need one"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason=CUDA_SKIP))]


def pytest_addoption(parser):
    group = parser.getgroup("harness benchmarks")
    group.addoption("--claims-junit", default=None, metavar="PATH",
                    help="K4 from a finished run's junit XML: the summed time of its claims/ test cases")
    group.addoption("--k4-subprocess", action="store_true",
                    help="K4 as a timed `pytest claims` subprocess (several minutes; not run in CI)")
    group.addoption("--k4-claims-report", default=None, metavar="PATH",
                    help="the --claims-report JSON of a finished claims run: K4 per experiment, each against "
                         "its own floor measured here")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Versions and threads the ratios depend on, next to pytest-benchmark's own machine info."""
    try:
        import numba

        numba_info = {"version": numba.__version__, "threads": numba.get_num_threads(),
                      "threading_layer_env": os.environ.get("NUMBA_THREADING_LAYER", "default")}
    except ImportError:
        numba_info = None
    machine_info.update({
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numba": numba_info,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average": os.getloadavg(),
    })


@pytest.fixture
def reported(request):
    """reported(**info): a row for this test whose time comes from elsewhere (a finished run's junit XML or claims
    report), so nothing is timed here and pytest-benchmark's fixture is not used. info takes the keys a timed row
    keeps in extra_info, with the time as measured_s; benchmarks/report.py tables these rows with the timed ones."""
    rows = request.config.stash.setdefault(REPORTED, [])

    def add(**info) -> None:
        rows.append({"name": request.node.name, "fullname": request.node.nodeid, "extra_info": info})

    return add


def pytest_benchmark_update_json(config, benchmarks, output_json):
    """pytest-benchmark's hook for extra fields: the reported rows, under their own key so that
    `pytest-benchmark compare` and --benchmark-compare, which read "benchmarks", never mistake them for timings.
    (pytest-benchmark writes no JSON when nothing was timed, so a run of reported rows alone leaves none.)"""
    rows = config.stash.get(REPORTED, [])
    if rows:
        output_json["reported"] = rows


def synchronize(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def median_seconds(call, device, repeats: int, warmup: int = 0) -> float:
    """Median wall time of `repeats` calls after `warmup` untimed ones, each waiting for the device's work."""
    for _ in range(warmup):
        call()
        synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def read_floor_s(tensor: torch.Tensor, repeats: int = 9) -> float:
    """Median time of one reduction over `tensor`: what reading its bytes once costs on this machine, now."""
    return median_seconds(tensor.sum, tensor.device, repeats, warmup=1)


def gemm_anchor_s(m: int, P: int, runs: int, threads: int, block_rows: int = 32, repeats: int = 200) -> float:
    """What MKL takes for one fused pass's arithmetic (R = X A^T, then G += R A: 4 m P runs flops in float64)
    with the operator already in cache: the median of `repeats` blocks of `block_rows` rows (after a warm-up),
    timed on one thread and scaled to m rows on `threads` cores. With many runs the pass is compute-bound,
    and this anchor, not the operator read, is what it can approach."""
    A = torch.randn(block_rows, P, dtype=torch.float64)
    X, G = torch.randn(runs, P, dtype=torch.float64), torch.zeros(runs, P, dtype=torch.float64)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            G.addmm_(X @ A.T, A)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return statistics.median(times[repeats // 5:]) * (m / block_rows) / threads


def record(benchmark, kind: str, nbytes: int, floor_s: float, per_call: int = 1, **extra) -> float:
    """Store bytes, floor_s and floor_ratio (median / (per_call * floor_s)) in the benchmark's extra_info."""
    median = benchmark.stats.stats.median
    ratio = median / (per_call * floor_s)
    benchmark.extra_info.update(kind=kind, bytes=nbytes, floor_s=per_call * floor_s, floor_ratio=ratio,
                                target=TARGETS.get(kind) if extra.pop("has_target", True) else None, **extra)
    return ratio
