"""What the baseline checks say of a missing or damaged committed baseline, called in this process (the whole
pytest run on a copy of claims/: tests/integration/test_bad_baselines.py)."""

from pathlib import Path

import numpy as np
import pytest

from claims._baseline_files import csv_problem, png_problem
from tests._support.bad_baselines import BAD_CSVS, DATA, GOOD_CSV

pytest.importorskip("pandas")
pytest.importorskip("pytest_mpl")
pytest.importorskip("pytest_regressions")


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (8, 8), (255, 0, 0)).save(path, format="PNG")
    return path


def test_csv_problem_accepts_a_baseline_that_fits_its_table(tmp_path):
    (tmp_path / "t.csv").write_text(GOOD_CSV)
    assert csv_problem(tmp_path / "t.csv", DATA) is None


@pytest.mark.parametrize("case", ["missing", *BAD_CSVS])
def test_csv_problem_names_what_is_wrong(tmp_path, case):
    path = tmp_path / "t.csv"
    if case != "missing":
        path.write_bytes(BAD_CSVS[case][0])
    expected = "is missing" if case == "missing" else BAD_CSVS[case][1]
    assert expected in (csv_problem(path, DATA) or "")


def test_png_problem(tmp_path):
    good = _png(tmp_path / "good.png")
    assert png_problem(good) is None
    assert png_problem(tmp_path / "absent.png") == "is missing"
    (tmp_path / "truncated.png").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    assert "is not a readable PNG" in png_problem(tmp_path / "truncated.png")
    (tmp_path / "garbage.png").write_bytes(b"not a png at all")
    assert "is not a readable PNG" in png_problem(tmp_path / "garbage.png")
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "jpeg.png", format="JPEG")
    assert png_problem(tmp_path / "jpeg.png") == "is a JPEG image, not a PNG"


def test_a_float_column_landing_on_an_integer_is_compared_with_its_tolerance(tmp_path):
    """pytest-regressions would read 8.0 back as the integer 8 and compare it exactly with a stored
    8.0000000000000018; check_baseline compares such columns itself, with the column's tolerance."""
    from claims.test_baselines import _checked_integral_floats

    path = tmp_path / "table.csv"
    path.write_text(",slope,rate\n0,8.0000000000000018,0.25\n")
    tolerances = {"slope": {"rtol": 1e-12, "atol": 0.0}, "rate": {"rtol": 1e-12, "atol": 0.0}}
    rest = _checked_integral_floats(path, {"slope": np.array([8.0]), "rate": np.array([0.25])}, tolerances)
    assert list(rest) == ["rate"]  # the integral one was checked here; the other goes to num_regression
    with pytest.raises(pytest.fail.Exception, match=r"table.csv, column slope: obtained \[9.0\]"):
        _checked_integral_floats(path, {"slope": np.array([9.0])}, tolerances)
