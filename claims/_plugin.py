"""This project's part of the harness: run options, the device and seed fixtures, and environment fields.

The claim marker, the ``claim`` fixture and the report come from the generic ``pytest_claims``
plugin, loaded here when its entry point has not loaded it already.
"""

from __future__ import annotations

import os

import pytest
import torch

from core import resolve_device
from core.experiments import kernel_path, machine

# pytest skips a plugin already registered under this name, which is also its entry point's name.
pytest_plugins = ["pytest_claims"]

_DEVICE = pytest.StashKey[torch.device]()
_LOG = pytest.StashKey["ExperimentLog"]()


def pytest_addoption(parser):
    group = parser.getgroup("claims", "reproducibility claims")
    group.addoption("--seed", type=int, default=0, help="base seed; every experiment's seed moves with it (default 0)")
    group.addoption("--held-out", action="store_true",
                    help="move the base seed into the held-out range (1000 + --seed), where no threshold was "
                         "calibrated; the report labels each claim calibration, held-out or other")
    group.addoption("--device", default=None,
                    help="torch device for the experiments (default: cuda when available, else cpu)")
    group.addoption("--mnist-root", default=None,
                    help="torchvision-style root holding MNIST/raw/ (overrides $MNIST_ROOT)")
    group.addoption("--claim-seeds", type=int, default=3, metavar="N",
                    help="held-out seeds (core.g5_seed: 1000 + 100 x base + 1..N, N <= 99) on which G5 re-checks "
                         "G1-G3 (default 3)")
    group.addoption("--experiment-workers", type=int, default=None, metavar="N",
                    help="on the CPU, compute the selected experiments N at a time, one thread each, before the "
                         "first claim (default: torch's thread count; 1 computes each when first needed)")
    group.addoption("--no-result-cache", action="store_true",
                    help="compute every experiment afresh and store nothing (default: the on-disk result cache)")
    group.addoption("--clear-results", action="store_true",
                    help="empty the on-disk result cache before the run (--cache-clear, pytest's own flag, leaves "
                         "it alone: it empties .pytest_cache only)")
    parser.addini("mnist_root", "torchvision-style root holding MNIST/raw/ (as --mnist-root)", default=None)
    parser.addini("experiment_workers", "experiments computed side by side (as --experiment-workers)", default=None)


def setting(config, name: str):
    """An option of this plugin, else its ini key (experiment_workers as an int), else None."""
    value = config.getoption(name)
    if value is None and config.getini(name):
        value = config.getini(name)
        if name == "experiment_workers":
            try:
                value = int(value)
            except ValueError:
                raise pytest.UsageError(f"ini experiment_workers = {value!r}: must be an integer") from None
    return value


def _resolve_device(config) -> torch.device:
    try:
        return resolve_device(config.getoption("device"))
    except ValueError as err:
        raise pytest.UsageError(f"--device: {err}") from None


@pytest.fixture(scope="session")
def device(pytestconfig) -> torch.device:
    """Device every experiment runs on (--device)."""
    return pytestconfig.stash[_DEVICE]


@pytest.fixture(scope="session")
def seed(pytestconfig) -> int:
    """Base seed of the run (--seed)."""
    return run_seed(pytestconfig)


def run_seed(config) -> int:
    """The base seed of the run: --seed, moved to HELD_OUT_START + --seed by --held-out."""
    from core import HELD_OUT_START

    seed = config.getoption("seed")
    return HELD_OUT_START + seed if config.getoption("held_out") else seed


class ExperimentLog:
    """Which experiments the run used and whether each was computed or loaded, from the tests' reports."""

    def __init__(self):
        self.experiments: dict[str, dict] = {}

    def pytest_runtest_logreport(self, report):
        # user_properties travel from xdist workers, so the controller sees every worker's experiments.
        for key, provenance in report.user_properties:
            if key == "experiment":
                seen = self.experiments.setdefault(provenance["name"], provenance)
                if seen.get("loaded") and provenance.get("loaded") is False:
                    self.experiments[provenance["name"]] = provenance  # computed somewhere: say so

    def pytest_terminal_summary(self, terminalreporter):
        if not self.experiments:
            return
        terminalreporter.section("experiments")
        for name, p in sorted(self.experiments.items()):
            if "failed" in p:
                line = f"failed: {p['failed']}"
            else:
                threads = f" on {p['torch_threads']} thread(s)" if "torch_threads" in p else ""
                threads += f", {p['side_by_side']} side by side" if p.get("side_by_side", 1) > 1 else ""
                line = ("loaded from the result cache" if p["loaded"] else "computed") + \
                    f" ({p['compute_seconds']:.1f} s to compute{threads})"
            terminalreporter.write_line(f"{name:24s} {line}")


def _check_options(config) -> None:
    """Reject an unusable --claim-seeds or --mnist-root before any experiment starts."""
    from core import claim_experiments

    try:
        claim_experiments(run_seed(config), config.getoption("claim_seeds"))
    except ValueError as err:
        raise pytest.UsageError(f"--claim-seeds: {err}") from None
    workers = setting(config, "experiment_workers")
    if workers is not None and workers < 1:
        raise pytest.UsageError(f"--experiment-workers {workers}: must be at least 1")
    root = setting(config, "mnist_root")
    if root is not None and not os.path.isdir(root):
        raise pytest.UsageError(f"--mnist-root {root}: not a directory")


def _share_cores_among_workers(config) -> None:
    """Under pytest-xdist, each worker gets its share of the cores for torch and the sensing kernel.

    Two workers with torch's default of one thread per core would run four threads on two cores, and
    the MLP's small matrix products then wait on descheduled threads (epochs 10-30x slower). An explicit
    OMP_NUM_THREADS is left alone. The thread count moves the float32 MLP by rounding only (README).
    """
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or "OMP_NUM_THREADS" in os.environ:
        return
    share = max(1, (os.cpu_count() or 1) // int(workerinput.get("workercount", 1)))
    torch.set_num_threads(min(share, torch.get_num_threads()))


def pytest_configure(config):
    _check_options(config)
    _share_cores_among_workers(config)
    config.stash[_DEVICE] = _resolve_device(config)
    config.stash[_LOG] = ExperimentLog()
    config.pluginmanager.register(config.stash[_LOG], "claims-experiment-log")


# optionalhook: with the generic plugin blocked (-p no:pytest_claims) nobody asks for these fields.
@pytest.hookimpl(optionalhook=True)
def pytest_claims_environment(config) -> dict:
    """Versions and settings of this project that a claim's verdict depends on, and the machine (core.machine):
    a value that moved between two reports is then read beside what changed (pytest-claims compare)."""
    import numpy
    import torchvision

    device = config.stash[_DEVICE]
    return {"torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "device": str(device), "seed": run_seed(config),
            "experiments": config.stash[_LOG].experiments, "kernel_path": kernel_path(device), "machine": machine()}
