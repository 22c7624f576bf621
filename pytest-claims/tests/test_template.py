"""`pytest-claims init NAME`: a claims module for a new paper that runs as written."""

import json

import pytest

from pytest_claims.__main__ import main


def test_the_template_runs_two_claims_and_a_figure_test(pytester, capsys):
    assert main(["init", "demo", "--dir", str(pytester.path)]) == 0
    assert "wrote" in capsys.readouterr().out
    result = pytester.runpytest_inprocess("test_demo.py", "--claims-report=report.json")
    result.assert_outcomes(passed=3) if _has_matplotlib() else result.assert_outcomes(passed=2, skipped=1)
    claims = json.loads((pytester.path / "report.json").read_text())["claims"]
    assert [(c["id"], c["outcome"]) for c in claims] == [("E1", "passed"), ("E2", "passed")]


def test_init_refuses_to_overwrite_and_rejects_a_bad_name(pytester, capsys):
    assert main(["init", "demo", "--dir", str(pytester.path)]) == 0
    for name, message in (("demo", "exists; nothing was written"), ("2fast", "use letters, digits")):
        with pytest.raises(SystemExit) as exit_:
            main(["init", name, "--dir", str(pytester.path)])
        assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_command_names_its_subcommands(capsys):
    assert main([]) == 2
    assert "pytest-claims compare" in capsys.readouterr().err


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
