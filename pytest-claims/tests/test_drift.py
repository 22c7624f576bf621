"""DRIFT: a check that passes its threshold outside its reference range is a warning, or a failure when strict."""

import json

import pytest

SUITE = '''
import pytest
from pytest_claims import Bound, Reference

SEEN = Reference(0.97, 0.98, "seeds 0-9")

@pytest.mark.claim("D1")
def test_inside(claim):
    """Inside the range measured before."""
    claim.check("accuracy", 0.975, ">=", 0.9, SEEN)

@pytest.mark.claim("D2")
def test_planted_drift(claim):
    """Passes its threshold, but outside the range measured before."""
    claim.check("accuracy", 0.95, *Bound(">=", 0.9, SEEN, "the handout's bar"))

@pytest.mark.claim("D3")
def test_within_the_rounding_allowance(claim):
    """Just outside the range, but within its rtol: not a drift."""
    claim.check("accuracy", 0.9801, ">=", 0.9, Reference(0.97, 0.98, "seeds 0-9", rtol=1e-3))
'''


def test_a_planted_reference_range_gives_drift_not_failure(pytester):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--claims-report=report.json")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["D2 *Passes its threshold*DRIFT",
                                 "*accuracy >= 0.9 *0.95 *the handout's bar; seeds 0-9:*DRIFT",
                                 "claims: 2 passed, 1 drift",
                                 "DRIFT test_suite.py::test_planted_drift: accuracy passed outside*"])
    claims = {c["id"]: c for c in json.loads((pytester.path / "report.json").read_text())["claims"]}
    assert [claims[k]["outcome"] for k in ("D1", "D2", "D3")] == ["passed", "drift", "passed"]
    assert claims["D2"]["checks"][0]["drift"] and claims["D2"]["checks"][0]["passed"]


@pytest.mark.parametrize("how", [("--claims-strict",), ("-o", "claims_strict=true")], ids=["flag", "ini"])
def test_strict_turns_a_drift_into_a_failure(pytester, how):
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", *how)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*D2: 1 of 1 checks failed or drifted (--claims-strict)",
                                 "*accuracy = 0.95 passes, but drifted outside its reference range*"])
    result.assert_outcomes(passed=2, failed=1)


def test_a_reference_must_be_a_range_or_text(pytester):
    pytester.makepyfile(test_suite='''
import pytest

@pytest.mark.claim("D4")
def test_bad(claim):
    """A reference that is neither."""
    claim.check("x", 1.0, "<", 2.0, reference=(0, 1))
''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*TypeError: D4: reference of x must be a Reference or a string, got tuple"])
