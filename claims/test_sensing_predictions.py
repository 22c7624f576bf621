"""Claims P1-P3, P5, P6: predictions from the literature for sensing, derived before the runs are read.

P1 and P5 run their own sweep over m at d = 40, r = 2 (thresholds at m/dr ~ 1.9 and 5.6, as at d = 100, but
each run is ~10x cheaper); P2 and P3 read the paper-scale sweeps of S1-S6; P6 solves 100 SDPs at d = 30.
Thresholds: calibrated on seeds 0-9 and confirmed on held-out seeds from 1000; the ranges beside them come
from claims/references.json (`python -m claims._calibrate`).
"""

import math

import pytest

from claims._bounds import at_least, at_most, below, between, check_all, exactly
from claims.evidence import P5_M_PER_DR, p1_evidence, p2_evidence, p3_evidence, p5_evidence, p6_evidence, threshold_run
from core import sensing_thresholds
from core.experiments import THRESHOLD_M_PER_DR
from pytest_claims import Source

M_FACTORS = pytest.mark.parametrize("m_factor", [10, 5], ids=["m=10dr", "m=5dr"])

BOUNDS = {
    ("P1", "large_alpha_loss_reduction", "below"): at_most(1e-6),
    ("P1", "large_alpha_rel_distance", "below"): at_least(0.5),
    ("P1", "large_alpha_time_slope", "below"): between(-0.01, 0.01),
    # Above m_psd the distance decays; at 6dr, 7% above it, slowly (a held-out seed: -0.066). The bound asks
    # only that the slope leave the plateau's band, not for a pace.
    ("P1", "large_alpha_time_slope", "above"): below(-0.01),
    # At 3dr, 1.6x m_nuc, small alpha's finite-alpha distance is larger (a calibration seed: 1.3%).
    ("P1", "small_alpha_rel_distance", "3dr"): at_most(0.03),
    ("P1", "small_alpha_rel_distance"): at_most(0.01),
    # Near-degenerate mu_k, mu_(k+1) mix their directions within the window (+-2.6% on the seeds seen): +-5%.
    ("P2", "rate_ratio_top_r"): between(0.95, 1.05),
    ("P2", "rate_ratio_r_plus_1"): between(0.8, 1.03),
    # A rival is rejected when it misses the measurement by more than the band the prediction meets.
    # P2's rival misses by 5-15% at 10dr, about the band: the check compares the two misses per seed instead.
    ("P2", "rival_miss_over_prediction_miss"): at_least(2.0, "rival: population rates"),
    ("P3", "rival_log_miss"): at_least(math.log(1.25), "rival: one pace for all; the band, ln 1.25"),
    ("P5", "projected_rel_distance", "above"): at_most(1e-6),
    ("P5", "projected_rel_distance", "below"): at_least(0.5),
    ("P5", "projected_loss_reduction"): at_most(1e-6),
    # Predicted before the run: m_nuc (core.sensing_thresholds(30, 2), 107); +-10% is about the transition's
    # width at d = 30 (Amelunxen et al.: O(sqrt(m_nuc)) measurements) and the resolution of 20 trials per m.
    ("P6", "crossing_over_m_nuc"): between(0.9, 1.1, "predicted 1"),
    ("P6", "rate_at_smallest_m"): below(0.5, "m = 80; rival (degrees of freedom, 59) predicts >= 1/2"),
    ("P6", "rate_at_largest_m"): at_least(0.5, "m = 130; rival (m_psd) predicts 0"),
    ("P3", "escape_order_inversions"): exactly(0),
    # Escape steps are integers, and the slope over three decades moves by up to 1 step per decade: 11-16% of
    # the predicted 6-10 steps. With the model's own few % (the last component, nearest the bulk edge, escapes
    # slowest: up to 1.17 on the calibration seeds), the band is -20%/+25%.
    ("P3", "slope_ratio"): between(0.8, 1.25),
}


@pytest.mark.claim("P1", source=Source(paper="Amelunxen, Lotz, McCoy, Tropp 2014", arxiv="1303.6672", section="4", equation="Thm II", note="the PSD cone's threshold; GD's behaviour: this harness"))
@pytest.mark.parametrize("m_per_dr", THRESHOLD_M_PER_DR, ids=[f"m={f}dr" for f in THRESHOLD_M_PER_DR])
def test_large_alpha_finds_x_star_only_above_the_uniqueness_threshold(claim, threshold_runs, m_per_dr):
    """d=40, r=2, T=4000: below m_psd (Monte Carlo, ~5.6dr) GD from alpha=0.1 cuts the loss >= 1e6-fold while its distance to X* stays flat >= 0.5 away; above m_psd its log-log slope in t over [T/2, T] leaves that band (< -0.01), decaying; alpha=1e-4 ends within 1% of X* for every m >= 5dr, within 3% at 3dr."""
    result, config, thresholds = threshold_run(threshold_runs, m_per_dr)
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
        bound = BOUNDS["P1", "small_alpha_rel_distance", "3dr"] if m_per_dr == 3 else BOUNDS["P1", "small_alpha_rel_distance"]
        check_all(claim, "small_alpha_rel_distance", e["small_alpha_rel_distance"], bound)


@pytest.mark.claim("P2", source=Source(paper="Stöger, Soltanolkotabi 2021", arxiv="2106.15013", section="3", note="the spectral phase"))
@M_FACTORS
def test_spectral_phase_grows_at_the_rates_of_m(claim, sensing, m_factor):
    """alpha=1e-5: over the second half of the phase before sigma_1(U_t) reaches 0.1, log sigma_k(U_t) grows per step at ln(1 + 4 lr mu_k(M)), M = (1/m) sum y_i S_i: within 5% for k <= r, and 80-103% of it for k = r+1 (the bulk's edge); the rival population rates ln(1 + 4 lr lambda_k(X*)) miss the measured ones at least twice as far."""
    e = p2_evidence(sensing)
    claim.param(m=sensing.config.m, alpha=1e-5, window=e["window"])
    claim.measure(measured_rates=e["measured_rates"], predicted_rates=e["predicted_rates"],
                  rival_rates=e["rival_rates"], rival_ratio_top_r=e["rival_ratio_top_r"],
                  prediction_log_miss=e["prediction_log_miss"], rival_log_miss=e["rival_log_miss"])
    # The measured rates must lie at least twice as far (worst k <= r, in log) from the rival as from the
    # prediction; at k = r+1 the rival predicts no growth at all, which rate_ratio_k6 rejects by itself.
    check_all(claim, "rival_miss_over_prediction_miss", e["rival_miss_over_prediction_miss"],
              BOUNDS["P2", "rival_miss_over_prediction_miss"])
    for k, ratio in enumerate(e["rate_ratio_top_r"].tolist(), start=1):
        check_all(claim, f"rate_ratio_k{k}", ratio, BOUNDS["P2", "rate_ratio_top_r"])
    check_all(claim, f"rate_ratio_k{sensing.config.r + 1}", e["rate_ratio_r_plus_1"], BOUNDS["P2", "rate_ratio_r_plus_1"])


@pytest.mark.claim("P3", source=Source(paper="Jin, Li, Lyu, Du, Lee 2023", arxiv="2301.11500", section="4", note="incremental learning; the rates: Stöger and Soltanolkotabi 2021"))
@M_FACTORS
def test_components_escape_in_order_at_the_predicted_pace(claim, sensing, m_factor):
    """alpha in {1e-5, 1e-4, 1e-3}: components escape (sigma_k >= sqrt(lambda_k)/2) in order, t_1 <= ... <= t_r with no inversion, and t_k moves by ln 10 / ln(1 + 4 lr mu_k) steps per decade of alpha, within -20%/+25% (integer escape steps resolve a slope to 1 step per decade); the rival "one pace for all" misses by more."""
    e = p3_evidence(sensing)
    claim.param(m=sensing.config.m, alphas=(1e-5, 1e-4, 1e-3))
    # Ties happen when mu_k ~ mu_(k+1) (e.g. 1.005 and 0.996): the two escape within the same step.
    claim.measure(escape_steps=e["escape_steps"], slopes=e["slopes"], predicted_slopes=e["predicted_slopes"],
                  escape_ties=e["escape_ties"], rival_slope_ratio=e["rival_slope_ratio"],
                  population_slope_ratio=e["population_slope_ratio"])
    check_all(claim, "escape_order_inversions", e["escape_order_inversions"], BOUNDS["P3", "escape_order_inversions"])
    check_all(claim, "rival_log_miss", e["rival_log_miss"], BOUNDS["P3", "rival_log_miss"])
    for k, ratio in enumerate(e["slope_ratio"], start=1):
        check_all(claim, f"slope_ratio_k{k}", ratio, BOUNDS["P3", "slope_ratio"])


@pytest.mark.claim("P5", source=Source(paper="Geyer, Kyrillidis, Kalev 2018", note="PSD-projected GD; threshold: Amelunxen et al. 2014, Thm II"))
@pytest.mark.parametrize("m_per_dr", P5_M_PER_DR, ids=[f"m={f}dr" for f in P5_M_PER_DR])
def test_projected_gd_on_x_finds_x_star_only_above_the_uniqueness_threshold(claim, threshold_runs, m_per_dr):
    """d=40, r=2, T=4000, GD on X itself projected onto the PSD cone from a random PSD start at lr = 1/L: at 10dr (m > m_psd ~ 5.6dr) it ends within 1e-6 of X*; below m_psd (2, 3, 5dr) it interpolates (loss down >= 1e6-fold) yet ends >= 0.5 from X*, where small-alpha GD on U U^T is within 3% (P1): the rival "the PSD constraint alone regularizes like small alpha" fails there. (6dr, 7% above m_psd, converges too slowly to claim a level by T.)"""
    result, config, thresholds = threshold_run(threshold_runs, m_per_dr)
    e = p5_evidence(result, thresholds.psd_uniqueness)
    claim.param(d=config.d, r=config.r, m=config.m, steps=config.steps, m_psd=round(thresholds.psd_uniqueness),
                lr=e["lr"])
    claim.measure(side_of_m_psd=e["side"], projected_rel_distance=e["projected_rel_distance"],
                  projected_loss_reduction=e["projected_loss_reduction"],
                  small_alpha_gd_rel_distance=result.sweep.alpha_trace(min(result.sweep.alphas)).rel_distance[-1].item())
    if e["side"] == "below":
        check_all(claim, "projected_rel_distance", e["projected_rel_distance"], BOUNDS["P5", "projected_rel_distance", "below"])
        check_all(claim, "projected_loss_reduction", e["projected_loss_reduction"], BOUNDS["P5", "projected_loss_reduction"])
    else:
        check_all(claim, "projected_rel_distance", e["projected_rel_distance"], BOUNDS["P5", "projected_rel_distance", "above"])


@pytest.mark.claim("P6", source=Source(paper="Amelunxen, Lotz, McCoy, Tropp 2014", arxiv="1303.6672", equation="Thm II", note="the statistical dimension of the trace norm's descent cone"))
def test_convex_recovery_rate_crosses_one_half_at_the_statistical_dimension(claim, recovery):
    """d=30, r=2, 20 problems at each m in (80, 95, 105, 115, 130): the min-trace SDP recovers X* (within 1e-4) on a fraction of them that crosses 1/2 within 10% of the statistical dimension m_nuc ~ 107, computed before the run; rivals rejected: the 59 degrees of freedom of rank-2 PSD matrices (rate >= 1/2 from m = 59 on, so at 80) and the PSD-uniqueness threshold m_psd (rate 0 below it, so at 130)."""
    config = recovery.config
    thresholds = sensing_thresholds(config.d, config.r)
    e = p6_evidence(recovery)
    dof = config.r * (2 * config.d - config.r + 1) // 2
    claim.param(d=config.d, r=config.r, ms=config.ms, trials=config.trials, tolerance=config.tolerance,
                m_nuc=round(thresholds.nuclear_recovery, 1), rival_dof=dof, rival_m_psd=round(thresholds.psd_uniqueness))
    claim.measure(success_rate=e["success_rate"], crossing_m=e["crossing_m"],
                  median_rel_distance=recovery.rel_distance.median(dim=1).values)
    check_all(claim, "crossing_over_m_nuc", e["crossing_over_m_nuc"], BOUNDS["P6", "crossing_over_m_nuc"])
    check_all(claim, "rate_at_smallest_m", e["rate_at_smallest_m"], BOUNDS["P6", "rate_at_smallest_m"])
    check_all(claim, "rate_at_largest_m", e["rate_at_largest_m"], BOUNDS["P6", "rate_at_largest_m"])
