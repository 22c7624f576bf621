"""Calibration and held-out seeds are kept apart by construction, and a set of seeds is named by its set (the label
in the claims report: tests/integration/test_seed_sets.py)."""

import pytest

from core import CALIBRATION_SEEDS, HELD_OUT_START, seed_set


def test_the_held_out_range_never_meets_the_calibration_seeds():
    assert max(CALIBRATION_SEEDS) < HELD_OUT_START


@pytest.mark.parametrize("seeds, label", [([0], "calibration"), ([1, 2, 3], "calibration"), ([9], "calibration"),
                                          ([1000], "held-out"), ([1001, 1002, 1003], "held-out"),
                                          ([10], "other"), ([9, 10], "other"), ([999, 1000], "other"), ([], "other")])
def test_seed_set_labels(seeds, label):
    assert seed_set(seeds) == label
