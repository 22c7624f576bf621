"""The claims' evidence functions (claims.evidence) against oracles on small synthetic inputs."""

import math
from types import SimpleNamespace

import pytest
import torch

from claims import evidence
from core import escape_step


def test_line_fit_recovers_an_exact_line_and_scores_noise_lower():
    x = torch.arange(10, dtype=torch.float64)
    slope, r2 = evidence.line_fit(x, 3 * x - 2)
    assert slope == pytest.approx(3.0) and r2 == pytest.approx(1.0)
    _, noisy_r2 = evidence.line_fit(x, 3 * x + torch.tensor([0.0, 5, -5] * 3 + [0.0], dtype=torch.float64))
    assert noisy_r2 < 0.95


def test_power_law_exponents_and_time_slopes():
    x = torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    assert evidence.loglog_slope(x, 5 * x**-1.5) == pytest.approx(-1.5)
    history = torch.arange(100, dtype=torch.float64).clamp(min=1) ** -0.7  # history[t] = t^-0.7
    assert evidence.time_slope(history, 49, 99) == pytest.approx(-0.7)


def test_first_step_and_escape_step_find_the_first_crossing_or_none():
    history = torch.tensor([1.0, 0.9, 0.6, 0.4, 0.45, 0.1])
    assert evidence.first_step(history < 0.5) == 3
    assert escape_step(history) == 3
    assert escape_step(history, threshold=0.05) is None


def test_contraction_per_step_of_a_geometric_history_is_its_ratio():
    history = 0.9 ** torch.arange(400, dtype=torch.float64)
    assert evidence.contraction_per_step(history, 1e-2, 1e-8) == pytest.approx(0.9)
    assert math.isnan(evidence.contraction_per_step(history, 1e-2, 1e-300))  # the window is never reached


def test_escape_targets_are_half_the_square_roots_of_the_top_eigenvalues():
    x_star = torch.diag(torch.tensor([4.0, 1.0, 0.0], dtype=torch.float64))
    assert evidence.escape_targets(x_star, 2).tolist() == [1.0, 0.5]
    singular_values = torch.tensor([[0.1, 0.1], [1.2, 0.2], [1.5, 0.6]], dtype=torch.float64)
    assert evidence.escape_steps(singular_values, evidence.escape_targets(x_star, 2)) == [1, 2]


def test_steps_per_decade_of_a_tenfold_growth_per_step_is_one():
    assert evidence.steps_per_decade(math.log(10)) == pytest.approx(1.0)


def _history(norms, nll, accuracy):
    norms = torch.tensor(norms, dtype=torch.float64)
    sizes = torch.ones(norms.shape[1], dtype=torch.float64)
    return SimpleNamespace(grad_norms=norms, grad_rms=norms / sizes, train_nll=torch.tensor(nll),
                           test_accuracy=torch.tensor(accuracy))


def test_g1_g3_evidence_reads_the_last_epoch_and_the_curves():
    # six epochs, three layers: norms fall first to last at the end; the last layer peaks at epoch 2
    norms = [[1.0, 0.5, 0.4], [1.0, 0.6, 0.8], [1.1, 0.5, 0.6], [1.0, 0.4, 0.5], [1.0, 0.4, 0.3], [1.0, 0.4, 0.2]]
    e = evidence.g1_g3_evidence(_history(norms, [2.0, 1.0, 0.5, 0.3, 0.2, 0.1], [0.9, 0.95, 0.97, 0.98, 0.98, 0.985]))
    assert e["test_accuracy"] == pytest.approx(0.985)
    assert e["train_nll_last_over_first"] == pytest.approx(0.05)
    assert e["max_successive_ratio"] == pytest.approx(0.5)  # 0.2 / 0.4
    assert e["last_final_over_peak"] == pytest.approx(0.25)  # 0.2 / 0.8
    assert e["first_band_max_over_min"] == pytest.approx(1.0)  # epochs 5-6 of the first layer


def test_p6_crossing_interpolates_between_the_bracketing_measurement_counts():
    config = SimpleNamespace(ms=(80, 100, 120), d=30, r=2)
    e = evidence.p6_evidence(SimpleNamespace(config=config, success_rate=[0.0, 0.25, 0.75]))
    assert e["crossing_m"] == pytest.approx(110.0)
    assert e["rate_at_smallest_m"] == 0.0 and e["rate_at_largest_m"] == 0.75
    never = evidence.p6_evidence(SimpleNamespace(config=config, success_rate=[0.0, 0.1, 0.2]))
    assert math.isnan(never["crossing_m"])


def test_line_fit_is_exact_on_linear_points_and_agrees_with_numpy_elsewhere():
    """The claims' line fits: exactly rounded sums give the exact slope of exactly linear points (MKL's least
    squares gave 8.0 or 8.000000000000002 by process), and numpy's polyfit is the oracle on noisy ones."""
    import numpy as np

    decades = [math.log10(1 / a) for a in (1e-5, 1e-4, 1e-3)]
    assert evidence.line_fit(decades, [31, 23, 15]) == (8.0, 1.0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(40)
    y = 3 * x + 0.5 + 0.1 * rng.standard_normal(40)
    slope, r2 = evidence.line_fit(x, y)
    expected_slope, intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(expected_slope, rel=1e-12)
    assert r2 == pytest.approx(1 - np.sum((y - expected_slope * x - intercept) ** 2) / np.sum((y - y.mean()) ** 2),
                               rel=1e-12)
