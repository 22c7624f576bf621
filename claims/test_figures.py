"""Figures F1-F5 drawn from the claims' own session data and compared to the PNGs in claims/baseline.

Regenerate the baselines (review the diff before committing) with
    pytest claims/test_figures.py --mpl-generate-path=claims/baseline
"""

import dataclasses
from pathlib import Path

import pytest
from matplotlib.testing.compare import compare_images

from claims._figure_policy import BASELINE_DIR, TOLERANCE, figure_test, render_png
from core.figures import (
    alpha_distance_figure,
    exact_distance_figure,
    gradient_norm_figure,
    nll_figure,
    singular_value_figure,
)

pytestmark = pytest.mark.baseline  # the numeric-baseline tier (docs/verdicts.md)


@figure_test("F1_nll")
def test_f1_nll(mlp_history):
    """F1: train and test NLL against epoch."""
    return nll_figure(mlp_history)


@figure_test("F2_gradient_norms")
def test_f2_gradient_norms(mlp_history):
    """F2: per-layer gradient norms against epoch."""
    return gradient_norm_figure(mlp_history)


@figure_test("F3_exact_distance")
def test_f3_exact_distance(sweeps):
    """F3: distance to X* of the exact R = r run, m = 10dr."""
    return exact_distance_figure(sweeps[10])


@figure_test("F4_distance_by_alpha")
def test_f4_distance_by_alpha(sweeps):
    """F4: distance to X* per alpha, m = 10dr and 5dr."""
    return alpha_distance_figure(list(sweeps.values()))


@figure_test("F5_singular_values")
def test_f5_singular_values(sweeps):
    """F5: top-10 singular values of U_t, small alpha and alpha = 0.1."""
    return singular_value_figure(sweeps[10])


def _last_layer_scaled(history, factor=1.05):
    grad_norms = history.grad_norms.clone()
    grad_norms[:, -1] *= factor
    return gradient_norm_figure(dataclasses.replace(history, grad_norms=grad_norms))


def _compare(baseline: Path, rendered: Path):
    """None when the rendering passes the policy's comparison, else matplotlib's failure record."""
    return compare_images(str(baseline), str(rendered), tol=TOLERANCE, in_decorator=True)


def test_baseline_comparison_catches_a_planted_change(baseline_run, mlp_history, tmp_path):
    """F2's committed baseline accepts the real rendering and rejects one with the last layer's curve 5% higher."""
    baseline = Path(__file__).parent / BASELINE_DIR / "F2_gradient_norms.png"
    assert baseline.is_file(), f"{baseline} is missing; generate it (see this module's docstring)"
    render_png(lambda: gradient_norm_figure(mlp_history), tmp_path / "real.png")
    render_png(lambda: _last_layer_scaled(mlp_history), tmp_path / "planted.png")
    # Without the first check a tolerance so large that nothing fails would pass this test.
    assert _compare(baseline, tmp_path / "real.png") is None
    failure = _compare(baseline, tmp_path / "planted.png")
    assert failure is not None, f"a 5% change to one curve is within the tolerance {TOLERANCE}"
    # Seed 0, CPU: RMS 15.8 against the tolerance 8.0 (README, "Image regression tests").
    assert failure["rms"] > TOLERANCE
