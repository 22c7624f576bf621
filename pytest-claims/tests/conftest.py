"""A throwaway suite of claims and one in-process run of it (`run_suite`), shared by the plugin's tests."""

import json

import pytest

SUITE = '''
import math
import pytest
from pytest_claims import Bound, Reference, Source

CONTRACTION = Bound("<=", 0.9, note="seeds 0-4: 0.86-0.88; confirmed on seeds 5-9: 0.85-0.89")

@pytest.mark.claim("C1", source=Source(paper="Li, Ma, Zhang 2018", section="3"))
@pytest.mark.parametrize("x", [1, 3])
def test_bound(claim, x):
    """x stays below two."""
    claim.measure(doubled=[x, 2 * x])
    claim.check("x", x, "<", 2, reference=Reference(1, 1, "seeds 0-4"))

@pytest.mark.claim("C2")
def test_silent(claim):
    """A claim that forgets to check anything."""

@pytest.mark.claim("C3")
@pytest.mark.skip(reason="not today")
def test_skipped(claim):
    """Skipped claim."""

@pytest.mark.claim("C4", source="this harness")
def test_every_check_runs(claim):
    """Three of four checks fail; the test fails once and names all three."""
    claim.check("rate", 0.95, *CONTRACTION)
    claim.check("accuracy", 0.98, ">=", 0.97)
    claim.check("loss", float("nan"), "<=", 1e-5)
    claim.check("slope", float("inf"), ">=", 0.5, "seeds 0-4: 0.6-0.7")

@pytest.mark.claim("C5")
def test_no_fixture():
    """Marked as a claim but never asks for the evidence fixture."""

@pytest.mark.claim("C6")
def test_body_raises(claim):
    """Checks recorded before an exception stay in the report."""
    claim.check("before", 1.0, ">=", 2.0)
    raise RuntimeError("boom")

@pytest.mark.claim("C7")
def test_not_a_number(claim):
    """A measurement that is not a number."""
    claim.check("curve", [1.0, 2.0], "<=", 3.0)
'''


CONFTEST = '''
def pytest_claims_environment(config):
    return {"suite": "throwaway", "seed": 7}
'''


@pytest.fixture
def run_suite(pytester):
    """`run_suite(*args)`: run the suite in-process with the plugin; its output, its JSON report and the claims
    by (id, params)."""
    return lambda *args: _run_suite(pytester, *args)


def _run_suite(pytester: pytest.Pytester, *args: str):
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--claims-report=out/report.json", *args)
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    return result, data, {(c["id"], json.dumps(c["params"])): c for c in data["claims"]}
