"""The claims report of a run under pytest-xdist: the records cross from the worker processes intact."""

import pytest


def test_records_survive_xdist(run_suite):
    """Under pytest-xdist the records cross from the workers intact: the same claims, checks and messages."""
    pytest.importorskip("xdist")
    _, _, serial = run_suite("-p", "pytest_claims")
    # One worker is enough to cross the process boundary, and keeps the run light.
    _, _, distributed = run_suite("-p", "pytest_claims", "-n", "1")
    assert distributed.keys() == serial.keys()
    for key, claim in serial.items():
        assert {**distributed[key], "duration_s": 0} == {**claim, "duration_s": 0}
