"""K4: the whole `pytest claims` run against the issue's 120 s budget on the 2-core CPU machine."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from .conftest import TARGETS, read_floor_s
from .test_mlp_epoch import bare_epoch

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 120.0


def claims_seconds_from_junit(path: Path) -> float:
    """Summed time (setup, call and teardown) of the claims/ test cases in a junit XML report."""
    cases = ET.parse(path).getroot().iter("testcase")
    return sum(float(case.get("time", 0)) for case in cases if case.get("classname", "").startswith("claims."))


def _k4_info(measured: float, source: str) -> dict:
    # K4's "floor" is the issue's budget, not a physical floor: floor_ratio = measured / 120 s.
    return dict(kind="K4", bytes=None, measured_s=measured, source=source, floor_kind="budget", floor_s=BUDGET_S,
                floor_ratio=measured / BUDGET_S, target=TARGETS["K4"])


def test_k4_claims_run(request, pytestconfig, reported):
    """K4. The claims run timed here as a subprocess (--k4-subprocess: a benchmark of its own), or the time of a run
    that already happened, read from its junit XML (--claims-junit, what CI uses: running the claims twice would
    blow its budget). A time read from a report is recorded as such, not passed off as a timed call."""
    junit = pytestconfig.getoption("claims_junit")
    if pytestconfig.getoption("k4_subprocess"):
        benchmark = request.getfixturevalue("benchmark")
        command = [sys.executable, "-m", "pytest", "claims", "-q", "-p", "no:cacheprovider"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        benchmark.pedantic(lambda: subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True),
                           rounds=1)
        benchmark.extra_info.update(_k4_info(benchmark.stats.stats.median, "timed subprocess"))
    elif junit and Path(junit).is_file():
        reported(**_k4_info(claims_seconds_from_junit(Path(junit)), f"junit durations of {junit}"))
    else:
        pytest.skip("K4 needs --k4-subprocess (about 2-5 minutes) or --claims-junit PATH from a finished run")


def experiment_floor_s(config, mnist, bare_epoch_s: dict) -> tuple[float | None, str]:
    """The floor of one experiment of the claims run, measured now on torch's current threads, and what it is."""
    from core import MLPConfig, RecoveryConfig, SensingConfig

    if isinstance(config, MLPConfig):
        key = (config.hidden_sizes, config.init, torch.get_num_threads())
        if key not in bare_epoch_s:
            times = []
            for _ in range(2):
                start = time.perf_counter()
                bare_epoch(mnist, dataclasses.replace(config, epochs=1), "cpu")
                times.append(time.perf_counter() - start)
            bare_epoch_s[key] = min(times)
        return config.epochs * bare_epoch_s[key], f"{config.epochs} bare-loop epochs (the K3 anchor)"
    if isinstance(config, SensingConfig):
        operator = torch.empty(config.m, config.d * (config.d + 1) // 2, dtype=torch.float64).normal_()
        reads = config.steps + 1
        what = f"{reads} reads of the {operator.nbytes / 1e6:.1f} MB operator"
        extra = [part for flag, part in ((config.convex, "the cvxpy solve"), (config.projected, "projected GD on X"))
                 if flag]
        return reads * read_floor_s(operator), what + (f" (plus {' and '.join(extra)}, no floor)" if extra else "")
    if isinstance(config, RecoveryConfig):
        return None, f"no floor: {len(config.ms) * config.trials} interior-point SDP solves"
    return None, "no floor: a few forward/backward passes per depth"


def test_k4_by_experiment(pytestconfig, reported):
    """K4 per part: each experiment's compute time in a finished claims run (its --claims-report JSON) against
    that experiment's floor measured here. Shows which parts a 120 s budget could come from, and which not. The
    times are the report's, so the row is recorded as reported, with no timed call."""
    from core import claim_experiments, load_mnist

    path = pytestconfig.getoption("k4_claims_report")
    if not path or not Path(path).is_file():
        pytest.skip("needs --k4-claims-report PATH: the --claims-report JSON of a claims run on this machine")
    environment = json.loads(Path(path).read_text())["environment"]
    computed = {name: p for name, p in environment.get("experiments", {}).items() if p.get("loaded") is False}
    if not computed:
        pytest.skip(f"{path}: every experiment was loaded from the result cache, so it timed none")
    configs = claim_experiments(environment.get("seed", 0))
    mnist, bare = load_mnist(None, "cpu"), {}
    parts = []
    for name, p in sorted(computed.items(), key=lambda item: -item[1]["compute_seconds"]):
        # Each floor on the threads its experiment had: one each when the run computed them side by side.
        default = torch.get_num_threads()
        threads = p.get("torch_threads") or default
        torch.set_num_threads(threads)
        try:
            floor, what = experiment_floor_s(configs[name], mnist, bare)
        finally:
            torch.set_num_threads(default)
        seconds = p["compute_seconds"]
        parts.append({"experiment": name, "seconds": seconds, "floor_s": floor, "threads": threads,
                      "floor": what + (f", {threads} thread(s)" if floor is not None else ""),
                      "ratio": None if floor is None else seconds / floor})
    # Parts computed side by side share the run's cores: the run took about their sum over that count,
    # and with every floored part at its floor (the rest as measured) it would take that sum over the count.
    side_by_side = max(p.get("side_by_side", 1) for p in computed.values())
    total = sum(part["seconds"] for part in parts) / side_by_side
    at_floors = sum(part["floor_s"] if part["floor_s"] is not None else part["seconds"]
                    for part in parts) / side_by_side
    reported(kind="K4", bytes=None, measured_s=total, floor_s=at_floors, floor_ratio=total / at_floors, target=None,
             parts=parts, side_by_side=side_by_side, budget_s=BUDGET_S, source=f"experiments of {path}")
