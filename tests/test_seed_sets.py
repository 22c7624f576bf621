"""Calibration and held-out seeds are kept apart by construction, and each claim is labelled with its set."""

import json
from pathlib import Path

import pytest

from core import CALIBRATION_SEEDS, HELD_OUT_START, seed_set


def test_the_held_out_range_never_meets_the_calibration_seeds():
    assert max(CALIBRATION_SEEDS) < HELD_OUT_START


@pytest.mark.parametrize("seeds, label", [([0], "calibration"), ([1, 2, 3], "calibration"), ([9], "calibration"),
                                          ([1000], "held-out"), ([1001, 1002, 1003], "held-out"),
                                          ([10], "other"), ([9, 10], "other"), ([999, 1000], "other"), ([], "other")])
def test_seed_set_labels(seeds, label):
    assert seed_set(seeds) == label


def test_held_out_moves_the_base_seed_and_the_report_says_so(pytester, monkeypatch):
    """--held-out --seed 2 runs seed 1002, and the report labels the claim held-out (a tiny stand-in claim)."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # `claims` is not installed
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
