"""The claims report: rows, outcomes and JSON shape, checked on a throwaway test suite."""

import json
from pathlib import Path

pytest_plugins = ["pytester"]

SUITE = '''
import pytest

@pytest.mark.claim("C1")
@pytest.mark.parametrize("x", [1, 3])
def test_bound(claim, x):
    """x stays below two."""
    claim.measure(doubled=[x, 2 * x])
    claim.check("x", x, "<", 2)

@pytest.mark.claim("C2")
def test_silent(claim):
    """A claim that forgets to check anything."""

@pytest.mark.claim("C3")
@pytest.mark.skip(reason="not today")
def test_skipped(claim):
    """Skipped claim."""
'''


def test_claims_report_rows_outcomes_and_json(pytester, monkeypatch):
    """One run, checked for both the table and the JSON."""
    pytester.makepyfile(test_suite=SUITE)
    # A subprocess: an in-process run would unload torch modules that cannot be registered twice.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    result = pytester.runpytest_subprocess("-p", "claims._plugin",
                                           "--claims-report=out/report.json", "--seed=7")
    data = json.loads((pytester.path / "out" / "report.json").read_text())

    assert set(data["environment"]) >= {"python", "torch", "torchvision", "numpy", "device", "seed"}
    assert data["environment"]["seed"] == 7
    outcomes = {(c["id"], json.dumps(c["params"])): c["outcome"] for c in data["claims"]}
    assert outcomes == {("C1", '{"x": 1}'): "passed", ("C1", '{"x": 3}'): "failed",
                        ("C2", "{}"): "error", ("C3", "{}"): "skipped"}
    first = next(c for c in data["claims"] if c["params"] == {"x": 1})
    assert first["statement"] == "x stays below two."
    assert first["measured"] == {"doubled": [1, 2], "x": 1} and first["thresholds"] == ["x < 2"]

    result.stdout.fnmatch_lines(["*claims report*", "claim*statement*params*measured*threshold*verdict*",
                                 "claims: 1 passed, 1 failed, 1 error, 1 skipped"])
    result.stdout.fnmatch_lines(["*C1: x = 3 violates < 2*"])
    result.stdout.fnmatch_lines(["*C2: the claim test checked nothing*"])
