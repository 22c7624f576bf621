"""Each claim is labelled in the claims report with the set its seeds come from (a pytest run in a child process)."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_held_out_moves_the_base_seed_and_the_report_says_so(pytester, monkeypatch):
    """--held-out --seed 2 runs seed 1002, and the report labels the claim held-out (a tiny stand-in claim)."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))  # `claims` is not installed
    pytester.makeconftest('pytest_plugins = ["claims._plugin"]\nfrom claims.conftest import _label_the_seed_set\n')
    pytester.makepyfile(test_stand_in='''
import pytest

@pytest.mark.claim("X1", source="a test")
def test_stand_in(claim, seed):
    claim.param(seed=seed)
    claim.check("seed", seed, ">=", 0)
''')
    result = pytester.runpytest_subprocess("--held-out", "--seed", "2", "--claims-report=report.json", "-p", "no:mpl")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "report.json").read_text())
    (entry,) = report["claims"]
    assert entry["params"]["seed"] == 1002 and entry["params"]["seed_set"] == "held-out"
    assert report["environment"]["seed"] == 1002
