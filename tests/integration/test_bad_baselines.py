"""A missing or damaged committed baseline fails its own test with one clear message, and nothing is written.

The subprocess runs use a copy of claims/ in tmp_path (the committed baselines are never touched) with one extra
module whose tests go through the real @figure_test and check_baseline, pytest-mpl and pytest-regressions, on
tiny data: no experiment runs.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from claims._baseline_files import REGENERATE_CSV, REGENERATE_PNG, csv_problem, png_problem
from tests._support.bad_baselines import BAD_CSVS, DATA, GOOD_CSV

pytest.importorskip("pandas")
pytest.importorskip("pytest_mpl")
pytest.importorskip("pytest_regressions")

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


# The extra module in the copied claims/: the same decorator and helper the real figure and baseline tests use.
MODULE = '''
import matplotlib.pyplot as plt
import numpy as np
import pytest

from claims._figure_policy import figure_test
from claims.test_baselines import check_baseline

DATA = {"step": np.arange(3), "distance": np.array([1.0, 0.5, 0.25])}
TOLERANCES = {"step": {"rtol": 0, "atol": 0}, "distance": {"rtol": 1e-12, "atol": 0}}


def draw():
    figure, axes = plt.subplots(figsize=(2, 2))
    axes.plot([0, 1, 2], [1.0, 0.5, 0.25])
    return figure


@pytest.mark.parametrize("case", CSV_CASES)
def test_table(case, num_regression, request):
    check_baseline(num_regression, request, DATA, f"table_{case}", TOLERANCES)

''' + "".join(f'''
@figure_test("figure_{case}")
def test_figure_{case}():
    return draw()
''' for case in ("good", "missing", "truncated", "garbage"))


def _tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under root, __pycache__ aside."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture
def project(tmp_path):
    """tmp_path/ with a copy of claims/ (plus the mini module and its baselines), pyproject.toml and conftest.py."""
    shutil.copytree(REPO / "claims", tmp_path / "claims", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy(REPO / name, tmp_path / name)
    claims = tmp_path / "claims"
    (claims / "test_mini.py").write_text(f"CSV_CASES = {['good', 'missing', *BAD_CSVS]!r}\n" + MODULE)
    data = claims / "test_mini"
    data.mkdir()
    (data / "table_good.csv").write_text(GOOD_CSV)
    for case, (content, _) in BAD_CSVS.items():
        (data / f"table_{case}.csv").write_bytes(content)
    # the good figure baseline, drawn under the policy's own style and savefig settings
    code = ("from claims._figure_policy import render_png; from claims.test_mini import draw; "
            "render_png(draw, 'claims/baseline/figure_good.png')")
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=_env(), check=True)
    good = (claims / "baseline" / "figure_good.png").read_bytes()
    (claims / "baseline" / "figure_truncated.png").write_bytes(good[: len(good) // 2])
    (claims / "baseline" / "figure_garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage after the signature")
    return tmp_path


def _env() -> dict:
    # the copy's claims/ first (python -m puts the working directory first), this repository's core/ after it
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def _pytest(project: Path, *args) -> dict[str, tuple[str, str]]:
    """Run pytest on the mini module in `project`; {test name: (outcome, message)} from its JUnit XML."""
    xml = project / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "claims/test_mini.py", "-p", "no:cacheprovider",
                    f"--junitxml={xml}", "--seed", "0", "--device", "cpu", *args],
                   cwd=project, env=_env(), capture_output=True, text=True, timeout=300)
    outcomes = {}
    for case in ElementTree.parse(xml).iter("testcase"):
        failure = case.find("failure")
        skipped = case.find("skipped")
        if failure is not None:
            outcomes[case.get("name")] = ("failed", failure.get("message", "") + (failure.text or ""))
        elif skipped is not None:
            outcomes[case.get("name")] = ("skipped", skipped.get("message", ""))
        elif case.find("error") is not None:
            outcomes[case.get("name")] = ("error", case.find("error").get("message", ""))
        else:
            outcomes[case.get("name")] = ("passed", "")
    xml.unlink()
    return outcomes


def test_a_bad_baseline_fails_only_its_test_naming_the_file_and_the_command_and_writes_nothing(project):
    before = _tree(project / "claims")
    outcomes = _pytest(project)
    assert _tree(project / "claims") == before, "a normal run changed a file under claims/"
    assert outcomes.pop("test_table[good]") == ("passed", "")
    assert outcomes.pop("test_figure_good") == ("passed", "")
    expected = {f"test_table[{case}]": (f"claims/test_mini/table_{case}.csv",
                                        "is missing" if case == "missing" else BAD_CSVS[case][1], REGENERATE_CSV)
                for case in ["missing", *BAD_CSVS]}
    expected.update({f"test_figure_{case}": (f"claims/baseline/figure_{case}.png", problem, REGENERATE_PNG)
                     for case, problem in (("missing", "is missing"), ("truncated", "is not a readable PNG"),
                                           ("garbage", "is not a readable PNG"))})
    assert set(outcomes) == set(expected)
    for name, (outcome, message) in outcomes.items():
        path, problem, command = expected[name]
        assert outcome == "failed", (name, outcome, message)
        assert f"baseline {path} {problem}" in message and command in message, (name, message)
        assert "Traceback" not in message and "nothing was written" in message, (name, message)


def test_only_an_explicit_regeneration_creates_a_missing_baseline(project):
    claims = project / "claims"
    # --force-regen: pytest-regressions creates the file and fails once to say so; the next normal run passes
    assert _pytest(project, "-k", "table and missing", "--force-regen")["test_table[missing]"][0] == "failed"
    assert csv_problem(claims / "test_mini" / "table_missing.csv", DATA) is None
    assert _pytest(project, "-k", "table and missing")["test_table[missing]"] == ("passed", "")
    # --mpl-generate-path: pytest-mpl writes the PNG and skips the comparison
    outcomes = _pytest(project, "-k", "figure_missing", "--mpl-generate-path=claims/baseline")
    assert outcomes["test_figure_missing"][0] == "skipped"
    assert png_problem(claims / "baseline" / "figure_missing.png") is None
    assert _pytest(project, "-k", "figure_missing")["test_figure_missing"] == ("passed", "")
