"""The generic claims plugin: outcomes, checks, margins and JSON shape, checked on one throwaway test suite."""

import json
import re

import pytest

from pytest_claims import Bound, Claim, margin

SUITE = '''
import math
import pytest
from pytest_claims import Bound

CONTRACTION = Bound("<=", 0.9, "seeds 0-4: 0.86-0.88; confirmed on seeds 5-9: 0.85-0.89")

@pytest.mark.claim("C1", source="Li, Ma, Zhang 2018, Sec. 3")
@pytest.mark.parametrize("x", [1, 3])
def test_bound(claim, x):
    """x stays below two."""
    claim.measure(doubled=[x, 2 * x])
    claim.check("x", x, "<", 2, reference="seeds 0-4: 1-1")

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

_RUNS: dict = {}  # one in-process run of the suite, shared by the tests that read it


def _run_suite(pytester: pytest.Pytester, *args: str):
    """Run the suite in-process with the generic plugin; its output, its JSON report and the claims by (id, params)."""
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--claims-report=out/report.json", *args)
    data = json.loads((pytester.path / "out" / "report.json").read_text())
    return result, data, {(c["id"], json.dumps(c["params"])): c for c in data["claims"]}


@pytest.fixture
def run(pytester):
    """The suite, run once for every test of the report that reads it."""
    if "serial" not in _RUNS:
        _RUNS["serial"] = _run_suite(pytester, "-p", "pytest_claims")
    return _RUNS["serial"]


def test_outcomes_environment_and_message(run):
    """Each claim instance gets the outcome its evidence earns, and the JSON says why it did not pass."""
    result, data, claims = run
    # The generic plugin knows python and platform; the suite's conftest adds its own fields between them.
    assert list(data["environment"]) == ["python", "suite", "seed", "platform"]
    assert (data["environment"]["suite"], data["environment"]["seed"]) == ("throwaway", 7)
    assert {key: c["outcome"] for key, c in claims.items()} == {
        ("C1", '{"x": 1}'): "passed", ("C1", '{"x": 3}'): "failed", ("C2", "{}"): "error",
        ("C3", "{}"): "skipped", ("C4", "{}"): "failed", ("C5", "{}"): "error", ("C6", "{}"): "failed",
        ("C7", "{}"): "failed"}
    assert claims["C1", '{"x": 1}']["message"] is None
    assert claims["C3", "{}"]["message"] == "not today"
    assert claims["C6", "{}"]["message"] == "RuntimeError: boom"
    result.stdout.fnmatch_lines(["claims: 1 passed, 4 failed, 2 error, 1 skipped"])


def test_all_checks_run_and_the_failure_lists_every_failing_one(run):
    """C4 fails once, at the end, naming each of its three failing checks and no passing one."""
    result, _, claims = run
    c4 = claims["C4", "{}"]
    assert [(k["name"], k["passed"]) for k in c4["checks"]] == [
        ("rate", False), ("accuracy", True), ("loss", False), ("slope", False)]
    assert c4["message"].splitlines() == [
        "C4: 3 of 4 checks failed",
        "  rate = 0.95 violates <= 0.9, margin 0.947; reference: seeds 0-4: 0.86-0.88; confirmed on seeds 5-9: 0.85-0.89",
        "  loss = nan is not finite (expected <= 1e-05)",
        "  slope = inf is not finite (expected >= 0.5); reference: seeds 0-4: 0.6-0.7"]
    # One failure for the whole test: its message's lines appear once, not one failure per check. The short
    # summary repeats the message in full when CI is set, so count before it.
    failures = result.stdout.lines[: next((i for i, line in enumerate(result.stdout.lines)
                                           if "short test summary info" in line), None)]
    for line in c4["message"].splitlines()[1:]:
        assert failures.count(line) == 1
    assert "accuracy = " not in c4["message"]


def test_checks_carry_margin_and_reference(run):
    """Every check in the JSON has all its fields; margins are oriented so that above 1 passes."""
    _, _, claims = run
    rate, accuracy, loss, slope = claims["C4", "{}"]["checks"]
    assert rate == {"name": "rate", "op": "<=", "threshold": 0.9, "measured": 0.95, "passed": False,
                    "margin": pytest.approx(0.9 / 0.95),
                    "reference": "seeds 0-4: 0.86-0.88; confirmed on seeds 5-9: 0.85-0.89"}
    assert accuracy["margin"] == pytest.approx(0.98 / 0.97) and accuracy["reference"] is None
    assert (loss["measured"], loss["margin"]) == ("nan", None)
    assert (slope["measured"], slope["margin"]) == ("inf", None)
    passed = claims["C1", '{"x": 1}']
    assert passed["checks"] == [{"name": "x", "op": "<", "threshold": 2, "measured": 1, "passed": True,
                                 "margin": 2.0, "reference": "seeds 0-4: 1-1"}]
    assert passed["thresholds"] == ["x < 2"] and passed["measured"] == {"doubled": [1, 2], "x": 1}


def test_source_statement_and_table(run):
    """The table shows the source, each check's threshold, measurement, margin and reference."""
    result, _, claims = run
    assert claims["C1", '{"x": 1}']["source"] == "Li, Ma, Zhang 2018, Sec. 3"
    assert claims["C2", "{}"]["source"] is None
    assert claims["C1", '{"x": 1}']["statement"] == "x stays below two."
    result.stdout.fnmatch_lines([
        "*claims report*",
        "claim*statement / check*measured*margin*reference / source*verdict",
        "C1 *x stays below two.*Li, Ma, Zhang 2018, Sec. 3*PASSED",
        "*params: x=1",
        "*  x < 2 *1 *2 *seeds 0-4: 1-1 *ok",
        "*  doubled = [[]1, 2]",
    ])
    result.stdout.fnmatch_lines([
        "C4 *Three of four checks fail*this harness*FAILED",
        "*  rate <= 0.9 *0.95 *0.947 *seeds 0-4: 0.86-0.88;*FAIL",
        "*on seeds 5-9: 0.85-0.89",
        "*  accuracy >= 0.97 *0.98 *1.01 *- *ok",
        "*  loss <= 1e-05 *nan *- *- *FAIL",
    ])
    result.stdout.fnmatch_lines(["C2 *A claim that forgets*- *ERROR"])


def test_claims_without_evidence_are_errors(run):
    """A marked claim that checks nothing errors, whether or not it asked for the fixture."""
    result, _, claims = run
    for claim_id in ("C2", "C5"):
        assert claims[claim_id, "{}"]["checks"] == []
        assert claims[claim_id, "{}"]["message"] == (
            f"{claim_id}: the claim test checked nothing; a claim needs evidence (claim.check)")
    result.stdout.fnmatch_lines(["ERROR test_suite.py::test_no_fixture - Failed: C5: the claim test checked*"])


def test_body_exception_keeps_earlier_checks_and_bad_values_name_the_quantity(run):
    """An exception in the body fails as usual with its checks reported; a non-number names the check."""
    _, _, claims = run
    assert [(k["name"], k["passed"]) for k in claims["C6", "{}"]["checks"]] == [("before", False)]
    assert claims["C7", "{}"]["message"] == "TypeError: C7: measured curve must be a real number, got list [1.0, 2.0]"


@pytest.mark.parametrize("measured, op, threshold, expected", [
    (2.0, ">=", 1.0, 2.0), (0.5, ">", 1.0, 0.5), (0.5, "<=", 1.0, 2.0), (4.0, "<", 2.0, 0.5),
    (-0.5, ">=", -1.0, 2.0), (-2.0, "<=", -1.0, 2.0), (-2.0, ">=", -1.0, 0.5),
    (1.0, "==", 1.0, None), (0.0, ">=", 1.0, None), (1.0, "<=", 0.0, None), (-1.0, ">=", 1.0, None),
    (float("nan"), "<=", 1.0, None)])
def test_margin_is_above_one_exactly_when_passing_with_room(measured, op, threshold, expected):
    """The margin's orientation for each op and sign, and None where a ratio means nothing."""
    assert margin(measured, op, threshold) == expected


def test_bound_unpacks_into_check_arguments():
    """A Bound is immutable and unpacks as (op, threshold, reference)."""
    op, threshold, reference = Bound(">=", 0.37, "seeds 0-4: 0.37-0.38")
    assert (op, threshold, reference) == (">=", 0.37, "seeds 0-4: 0.37-0.38")
    assert tuple(Bound("<", 1.0)) == ("<", 1.0, None)
    with pytest.raises(AttributeError):
        Bound("<", 1.0).threshold = 2.0


@pytest.mark.parametrize("args, error, text", [
    (("q", 1.0, "=>", 1.0), ValueError, "unknown comparison '=>' for q"),
    (("q", "0.5", "<=", 1.0), TypeError, "measured q must be a real number, got str '0.5'"),
    (("q", 0.5, "<=", None), TypeError, "threshold of q must be a real number, got NoneType"),
    (("q", 0.5, "<=", float("nan")), ValueError, "threshold of q is nan"),
])
def test_misuse_raises_naming_the_quantity(args, error, text):
    """A bad op, a non-number or a non-finite threshold is a usage error that names the check."""
    with pytest.raises(error, match="^X: " + re.escape(text)):
        Claim("X", "statement", {}).check(*args)


def test_records_survive_xdist(pytester, run):
    """Under pytest-xdist the records cross from the workers intact: the same claims, checks and messages."""
    pytest.importorskip("xdist")
    _, _, serial = run
    # One worker is enough to cross the process boundary, and keeps the run light.
    _, _, distributed = _run_suite(pytester, "-p", "pytest_claims", "-n", "1")
    assert distributed.keys() == serial.keys()
    for key, claim in serial.items():
        assert {**distributed[key], "duration_s": 0} == {**claim, "duration_s": 0}


def test_unusable_report_path_is_a_usage_error_before_the_run(pytester):
    """--claims-report into a path that cannot be created fails at once, naming the path."""
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    blocker = pytester.path / "file"
    blocker.write_text("x")
    result = pytester.runpytest("-p", "pytest_claims", f"--claims-report={blocker}/sub/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--claims-report {blocker}/sub/r.json: not writable*"])


def test_line_fit_is_exact_on_linear_points_and_agrees_with_numpy_elsewhere():
    """The claims' line fits: exactly rounded sums give the exact slope of exactly linear points (MKL's least
    squares gave 8.0 or 8.000000000000002 by process), and numpy's polyfit is the oracle on noisy ones."""
    import math

    import numpy as np

    from claims._analysis import line_fit

    decades = [math.log10(1 / a) for a in (1e-5, 1e-4, 1e-3)]
    assert line_fit(decades, [31, 23, 15]) == (8.0, 1.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    y = 3 * x + 0.5 + 0.1 * rng.standard_normal(40)
    slope, r2 = line_fit(x, y)
    expected_slope, intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(expected_slope, rel=1e-12)
    assert r2 == pytest.approx(1 - np.sum((y - expected_slope * x - intercept) ** 2) / np.sum((y - y.mean()) ** 2),
                               rel=1e-12)
