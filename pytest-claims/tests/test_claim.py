"""The plugin's records: outcomes, checks, margins and the JSON's shape, checked on one throwaway test suite
(tests/conftest.py) run in this process (under xdist: tests/test_xdist.py)."""

import re

import pytest

from pytest_claims import Bound, Claim, Reference, margin

_RUNS: dict = {}  # one in-process run of the suite, shared by the tests that read it


@pytest.fixture
def run(run_suite):
    """The suite, run once for every test of the report that reads it."""
    if "serial" not in _RUNS:
        _RUNS["serial"] = run_suite("-p", "pytest_claims")
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
        "  rate = 0.95 violates <= 0.9, margin 0.947; reference: seeds 0-4: 0.86-0.88; "
        "confirmed on seeds 5-9: 0.85-0.89",
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
                    "drift": False, "margin": pytest.approx(0.9 / 0.95), "reference": None,
                    "note": "seeds 0-4: 0.86-0.88; confirmed on seeds 5-9: 0.85-0.89"}
    assert accuracy["margin"] == pytest.approx(0.98 / 0.97) and accuracy["reference"] is None
    assert (loss["measured"], loss["margin"]) == ("nan", None)
    assert (slope["measured"], slope["margin"]) == ("inf", None)
    passed = claims["C1", '{"x": 1}']
    assert passed["checks"] == [{"name": "x", "op": "<", "threshold": 2, "measured": 1, "passed": True,
                                 "drift": False, "margin": 2.0, "note": None,
                                 "reference": {"low": 1, "high": 1, "seeds": "seeds 0-4", "rtol": 0.0, "atol": 0.0}}]
    assert passed["thresholds"] == ["x < 2"] and passed["measured"] == {"doubled": [1, 2], "x": 1}


def test_source_statement_and_table(run):
    """The table shows the source, each check's threshold, measurement, margin and reference."""
    result, _, claims = run
    assert claims["C1", '{"x": 1}']["source"] == {"paper": "Li, Ma, Zhang 2018", "section": "3"}
    assert claims["C2", "{}"]["source"] is None
    assert claims["C1", '{"x": 1}']["statement"] == "x stays below two."
    result.stdout.fnmatch_lines([
        "*claims report*",
        "claim*statement / check*measured*margin*reference / source*verdict",
        "C1 *x stays below two.*Li, Ma, Zhang 2018, Sec. 3*PASSED",
        "*params: x=1",
        "*  x < 2 *1 *2 *seeds 0-4: 1 *ok",
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
    """A Bound is immutable and unpacks as (op, threshold, reference, note), check's last four arguments."""
    reference = Reference(0.37, 0.38, "seeds 0-4")
    assert tuple(Bound(">=", 0.37, reference, "a note")) == (">=", 0.37, reference, "a note")
    assert tuple(Bound("<", 1.0)) == ("<", 1.0, None, None)
    claim = Claim("B1", "statement", {})
    assert claim.check("q", 0.375, *Bound(">=", 0.37, reference, "a note"))
    assert claim.checks[0]["note"] == "a note" and not claim.checks[0]["drift"]
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


def test_unusable_report_path_is_a_usage_error_before_the_run(pytester):
    """--claims-report into a path that cannot be created fails at once, naming the path."""
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    blocker = pytester.path / "file"
    blocker.write_text("x")
    result = pytester.runpytest("-p", "pytest_claims", f"--claims-report={blocker}/sub/r.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--claims-report {blocker}/sub/r.json: not writable*"])
