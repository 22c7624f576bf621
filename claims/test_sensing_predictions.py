"""Claims P1-P3: predictions from the literature for GD on U U^T, derived before the runs are read.

P1 runs its own sweep over m at d = 40, r = 2 (thresholds at m/dr ~ 1.9 and 5.6, as at d = 100, but each
run is ~10x cheaper); P2 and P3 read the paper-scale sweeps of S1-S6. Thresholds: calibrated on seeds
0-4, confirmed on seeds 5-9 (torch 2.14.1, CPU).
"""

import math

import pytest
import torch

from claims._analysis import (
    at_least,
    at_most,
    between,
    check_all,
    escape_steps,
    exactly,
    first_step,
    line_fit,
    steps_per_decade,
    time_slope,
)
from core import sensing_thresholds
from core import THRESHOLD_M_PER_DR

M_FACTORS = pytest.mark.parametrize("m_factor", [10, 5], ids=["m=10dr", "m=5dr"])
#: the spectral phase ends once sigma_1(U_t) reaches this (where U U^T stops being negligible)
SPECTRAL_PHASE_END = 0.1

BOUNDS = {
    ("P1", "large_alpha_loss_reduction", "below"): at_most(
        1e-6, "2-3dr seeds 0-7: 1.6e-32-5.6e-32; 5dr seeds 0-4: 3.1e-22-1.5e-8, 5-7: 3.5e-19-3.4e-9"),
    ("P1", "large_alpha_rel_distance", "below"): at_least(0.5, "2-5dr seeds 0-4: 1.00-2.00, 5-7: 0.87-2.05"),
    ("P1", "large_alpha_time_slope", "below"): between(-0.01, 0.01, "2-5dr seeds 0-7: -0.0013 to 0.0006"),
    ("P1", "large_alpha_time_slope", "above"): at_most(
        -0.1, "6dr seeds 0-4: -0.54 to -0.18, 5-7: -0.58 to -0.38; 10dr seeds 0-7: -0.94 to -0.92"),
    ("P1", "small_alpha_rel_distance"): at_most(0.01, "3-10dr seeds 0-4: 1.4e-4-4.4e-3, 5-7: 1.3e-4-5.6e-3"),
    ("P2", "rate_ratio_top_r"): between(
        0.96, 1.02,
        "k <= r, 10dr seeds 0-4: 0.990-1.004, 5-7: 0.975-1.007; "
        "5dr seeds 0-4: 0.980-1.003, 5-6: 0.983-1.006"),
    ("P2", "rate_ratio_r_plus_1"): between(
        0.8, 1.01,
        "10dr seeds 0-4: 0.911-0.960, 5-7: 0.872-0.941; "
        "5dr seeds 0-4: 0.933-0.962, 5-6: 0.956-0.970"),
    ("P3", "escape_order_inversions"): exactly(0, "10dr seeds 0-7: 0; 5dr seeds 0-4: 0, 5-6: 0"),
    ("P3", "slope_ratio"): between(
        0.85, 1.15,
        "10dr seeds 0-4: 0.94-1.05, 5-7: 0.97-1.10; "
        "5dr seeds 0-4: 0.99-1.11, 5-6: 0.97-1.09"),
}


def p1_evidence(result, m_psd: float) -> dict:
    """Where the large-alpha run ends (loss, distance, decay in t over [T/2, T]) and how close small alpha gets."""
    sweep, T = result.sweep, result.config.steps
    small, large = sweep.alpha_trace(min(sweep.alphas)), sweep.alpha_trace(max(sweep.alphas))
    return {"side": "below" if result.config.m < m_psd else "above",
            "small_alpha_rel_distance": small.rel_distance[-1].item(),
            "large_alpha_rel_distance": large.rel_distance[-1].item(),
            "large_alpha_loss_reduction": (large.loss[-1] / large.loss[0]).item(),
            "large_alpha_time_slope": time_slope(large.distance, T // 2, T)}


@pytest.mark.claim("P1", source="Amelunxen et al. 2014 (Thm II; PSD cone, Sec. 4); GD behaviour: this harness")
@pytest.mark.parametrize("m_per_dr", THRESHOLD_M_PER_DR, ids=[f"m={f}dr" for f in THRESHOLD_M_PER_DR])
def test_large_alpha_finds_x_star_only_above_the_uniqueness_threshold(claim, threshold_runs, m_per_dr):
    """d=40, r=2, T=4000: below m_psd (Monte Carlo, ~5.6dr) GD from alpha=0.1 cuts the loss >= 1e6-fold while its distance to X* stays flat >= 0.5 away; above m_psd the distance keeps decaying as a power of t; alpha=1e-4 ends within 1% of X* for every m >= 3dr."""
    result = threshold_runs[m_per_dr]
    config = result.config
    thresholds = sensing_thresholds(config.d, config.r)
    e = p1_evidence(result, thresholds.psd_uniqueness)
    claim.param(d=config.d, r=config.r, m=config.m, steps=config.steps, alphas=config.alphas,
                m_psd=round(thresholds.psd_uniqueness), m_nuc=round(thresholds.nuclear_recovery))
    claim.measure(side_of_m_psd=e["side"], small_alpha_rel_distance=e["small_alpha_rel_distance"],
                  large_alpha_rel_distance=e["large_alpha_rel_distance"])
    side = e["side"]
    check_all(claim, "large_alpha_time_slope", e["large_alpha_time_slope"], BOUNDS["P1", "large_alpha_time_slope", side])
    if side == "below":
        check_all(claim, "large_alpha_loss_reduction", e["large_alpha_loss_reduction"],
                  BOUNDS["P1", "large_alpha_loss_reduction", side])
        check_all(claim, "large_alpha_rel_distance", e["large_alpha_rel_distance"], BOUNDS["P1", "large_alpha_rel_distance", side])
    if m_per_dr >= 3:  # at 2dr small alpha plateaus a few % from X* (reported above, not claimed)
        check_all(claim, "small_alpha_rel_distance", e["small_alpha_rel_distance"], BOUNDS["P1", "small_alpha_rel_distance"])


def p2_evidence(result, alpha: float = 1e-5) -> dict:
    """Growth rate of log sigma_k(U_t), k <= r+1, over the second half of the spectral phase, against prediction."""
    r, trace = result.config.r, result.sweep.alpha_trace(alpha)
    sv, lr = trace.singular_values, trace.lr.item()
    end = first_step(sv[:, 0] >= SPECTRAL_PHASE_END)
    start = end // 2  # the first half lets the top eigen-directions of M separate from the bulk
    measured = (sv[end, : r + 1].log() - sv[start, : r + 1].log()) / (end - start)
    predicted = torch.log1p(4 * lr * result.growth_spectrum[: r + 1])
    ratio = measured / predicted
    return {"window": [start, end], "measured_rates": measured, "predicted_rates": predicted,
            "rate_ratio_top_r": ratio[:r], "rate_ratio_r_plus_1": ratio[r].item()}


@pytest.mark.claim("P2", source="Stoger and Soltanolkotabi 2021 (Sec. 3, spectral phase)")
@M_FACTORS
def test_spectral_phase_grows_at_the_rates_of_m(claim, sensing, m_factor):
    """alpha=1e-5: over the second half of the phase before sigma_1(U_t) reaches 0.1, log sigma_k(U_t) grows per step at ln(1 + 4 lr mu_k(M)), M = (1/m) sum y_i S_i: within -4%/+2% for k <= r, and 80-101% of it for k = r+1 (the bulk's edge)."""
    e = p2_evidence(sensing)
    claim.param(m=sensing.config.m, alpha=1e-5, window=e["window"])
    claim.measure(measured_rates=e["measured_rates"], predicted_rates=e["predicted_rates"])
    for k, ratio in enumerate(e["rate_ratio_top_r"].tolist(), start=1):
        check_all(claim, f"rate_ratio_k{k}", ratio, BOUNDS["P2", "rate_ratio_top_r"])
    check_all(claim, f"rate_ratio_k{sensing.config.r + 1}", e["rate_ratio_r_plus_1"], BOUNDS["P2", "rate_ratio_r_plus_1"])


def p3_evidence(result, alphas=(1e-5, 1e-4, 1e-3)) -> dict:
    """Escape step t_k (sigma_k >= sqrt(lambda_k)/2) per component and alpha; slope per decade against prediction."""
    sweep, r = result.sweep, result.config.r
    targets = torch.linalg.eigvalsh(sweep.x_star).flip(0)[:r].clamp(min=0).sqrt() / 2
    steps = [escape_steps(sweep.alpha_trace(a).singular_values, targets) for a in alphas]
    lr = sweep.alpha_trace(alphas[0]).lr.item()
    decades = [math.log10(1 / a) for a in alphas]
    slopes = [line_fit(decades, [s[k] for s in steps])[0] for k in range(r)]
    predicted = [steps_per_decade(math.log1p(4 * lr * mu)) for mu in result.growth_spectrum[:r].tolist()]
    inversions = sum(a > b for s in steps for a, b in zip(s, s[1:]))
    ties = sum(a == b for s in steps for a, b in zip(s, s[1:]))
    return {"escape_steps": steps, "slopes": slopes, "predicted_slopes": predicted,
            "slope_ratio": [s / p for s, p in zip(slopes, predicted)], "escape_order_inversions": inversions,
            "escape_ties": ties}


@pytest.mark.claim("P3", source="incremental learning, e.g. Jin et al. 2023 (Sec. 4); rates: Stoger-Soltanolkotabi 2021")
@M_FACTORS
def test_components_escape_in_order_at_the_predicted_pace(claim, sensing, m_factor):
    """alpha in {1e-5, 1e-4, 1e-3}: components escape (sigma_k >= sqrt(lambda_k)/2) in order, t_1 <= ... <= t_r with no inversion, and t_k moves by ln 10 / ln(1 + 4 lr mu_k) steps per decade of alpha, within 15%."""
    e = p3_evidence(sensing)
    claim.param(m=sensing.config.m, alphas=(1e-5, 1e-4, 1e-3))
    # Ties happen when mu_k ~ mu_(k+1) (e.g. 1.005 and 0.996): the two escape within the same step.
    claim.measure(escape_steps=e["escape_steps"], slopes=e["slopes"], predicted_slopes=e["predicted_slopes"],
                  escape_ties=e["escape_ties"])
    check_all(claim, "escape_order_inversions", e["escape_order_inversions"], BOUNDS["P3", "escape_order_inversions"])
    for k, ratio in enumerate(e["slope_ratio"], start=1):
        check_all(claim, f"slope_ratio_k{k}", ratio, BOUNDS["P3", "slope_ratio"])
