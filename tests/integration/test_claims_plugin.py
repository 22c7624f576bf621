"""This project's part of the claims plugin (claims/_plugin.py), loaded beside the generic one."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

# One claim whose evidence is a torch tensor, and a conftest that loads this project's part and prints the names
# the generic plugin is registered under (it must be registered once).
SUITE = '''
import pytest, torch

@pytest.mark.claim("E1")
def test_claim(claim):
    """A tensor is evidence like any number."""
    claim.check("x", torch.tensor(1.0), "<", 2.0)
'''
CONFTEST = (
    "import sys\n"
    "pytest_plugins = ['claims._plugin']\n"
    "def pytest_configure(config):\n"
    "    plugin = sys.modules.get('pytest_claims')\n"
    "    print('REGISTERED', [n for n, p in config.pluginmanager.list_name_plugin() if p is plugin])\n"
)


def _run_project_part(pytester, *args):
    """Run the suite with this project's part loaded by its conftest, as the root conftest does.

    A subprocess: torch registers native libraries once per process, so its modules cannot be
    unloaded and imported again as an in-process run would. pytest's own `pythonpath` setting
    makes this checkout importable there.
    """
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "-o", f"pythonpath={ROOT}", *args,
                                         timeout=300)


def test_project_part_adds_its_options_and_environment(pytester):
    """claims._plugin loads the generic plugin once and fills the environment with torch, device and seed."""
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST)
    result = _run_project_part(pytester, "-p", "pytest_claims", "--seed=7", "--device=cpu",
                               "--claims-report=report.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["REGISTERED ['pytest_claims']", "claims: 1 passed"])
    environment = json.loads((pytester.path / "report.json").read_text())["environment"]
    assert list(environment) == ["python", "torch", "torchvision", "numpy", "device", "seed", "experiments",
                                 "kernel_path", "machine", "platform"]
    assert environment["kernel_path"] in ("numba", "torch") and environment["machine"]["isa_level"]
    assert (environment["device"], environment["seed"]) == ("cpu", 7)


def test_project_part_runs_with_the_generic_plugin_blocked(pytester):
    """Blocking the generic plugin leaves the project's options working: its environment hook is optional."""
    pytester.makepyfile(test_suite="def test_seed(seed):\n    assert seed == 3\n")
    pytester.makeconftest("pytest_plugins = ['claims._plugin']\n")
    result = _run_project_part(pytester, "-p", "no:pytest_claims", "--seed=3", "--device=cpu")
    assert result.ret == 0, result.stdout.str()
