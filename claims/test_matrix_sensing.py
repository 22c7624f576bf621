"""Problem 2: implicit regularization in over-parameterized matrix sensing (claims S1-S6).

d = 100, r = 5, eta = 0.1, at m = 10dr = 5000 (the handout, T = 600) and m = 5dr = 2500 (Li, Ma and Zhang
2018's regime, T = 3000). The PSD interpolant is unique above m_psd ~ 2770 (core.sensing_thresholds), so at 10dr
every alpha converges to X* eventually and at 5dr other interpolants exist.

Every threshold sits in BOUNDS: calibrated on seeds 0-9, confirmed on held-out seeds from 1000; the measured
ranges shown beside them come from claims/references.json (`python -m claims._calibrate`).
"""

import math

import pytest

from claims._bounds import at_least, at_most, below, between, check_all
from claims.evidence import S6_MIN_GAP, s1_evidence, s2_evidence, s3_evidence, s4_evidence, s5_evidence, s6_evidence
from core import sensing_thresholds
from pytest_claims import Source

M_FACTORS = pytest.mark.parametrize("m_factor", [10, 5], ids=["m=10dr", "m=5dr"])

BOUNDS = {
    ("S1", "final_rel_distance"): at_most(1e-10, "the handout's bar"),
    # >= 1 in theory: in the tail every mode decays at least as fast as the slowest; the neighbouring
    # Hessian eigenvalues (within a few % of h_min) keep the ratio a few % above 1 at these horizons.
    ("S1", "rate_exponent_ratio"): between(0.99, 1.10),
    ("S1", "rival_log_miss"): at_least(math.log(1.10), "rival: the population rate 1 - 4 lr lambda_r; the band"),
    ("S2", "distance_over_next_alpha"): below(1.0),
    ("S2", "p_T", 10): between(0.85, 1.25),
    ("S2", "p_T", 5): between(0.5, 0.75),
    ("S3", "small_alpha_rel_distance"): at_most(0.01),
    ("S3", "large_alpha_time_slope", 10): at_most(-0.3),
    ("S3", "large_alpha_time_slope", 5): between(-0.02, 0.02),
    ("S3", "large_alpha_rel_distance", 5): at_least(1.0),
    # The large-alpha tail is sublinear, so how far the loss has fallen by T depends on T (an earlier seed
    # stream had one seed at 3e-7 at T=3000): the bound asks for six orders of magnitude, not a level.
    ("S3", "large_alpha_loss_reduction", 5): at_most(1e-6),
    ("S4", "sigma_ratio_max"): at_most(0.2),
    ("S4", "final_sigma_ratio"): at_least(0.5),
    ("S5", "power_law_over_linear_residual"): at_least(2.0, "rival: a power law in alpha"),
    ("S5", "linear_fit_r2"): at_least(0.97),
    # Below m_nuc, X_cvx != X*; how far apart varies by seed (0.12-0.43 on the seeds seen). Closer than
    # S6_MIN_GAP the two predictions cannot be told apart at these alphas: the claim is skipped, not passed.
    # Interpolation to a residual of 1e-4 relative (loss ratio 1e-8) leaves the distances compared (>= 1e-2)
    # unmoved; alpha = 1e-6 is still finishing its escape on some seeds at T (up to 8e-11 seen).
    ("S6", "max_final_loss_ratio"): at_most(1e-8, "interpolation"),
    ("S6", "x_star_distance_max_successive_ratio"): below(0.9),
    ("S6", "smallest_alpha_convex_distance_over_gap"): at_least(0.5, "rival predicts 0"),
    ("S6", "large_alpha_nuclear_excess"): at_least(5.0),
}


@pytest.mark.claim("S1", source=Source(paper="the 2020 problem set's handout, Problem 2", note="linear convergence; the rate, from the local Hessian of f at U*: this harness"))
@M_FACTORS
def test_exact_parameterization_converges_at_the_local_hessian_rate(claim, sensing, m_factor):
    """R = r = 5 from 1e-3 W: rel. distance <= 1e-10 by T, and the tail contracts per step at 1 - lr h_min of the Hessian at U* (exponent ratio within [0.99, 1.10]); the rival population rate 1 - 4 lr lambda_r(X*) misses by more than that band."""
    e = s1_evidence(sensing)
    claim.param(m=sensing.config.m, steps=sensing.config.steps, init_scale=sensing.config.exact_init_scale)
    claim.measure(tail_contraction=e["tail_contraction"], local_hessian_rate=e["local_hessian_rate"],
                  population_rate=e["population_rate"])
    check_all(claim, "final_rel_distance", e["final_rel_distance"], BOUNDS["S1", "final_rel_distance"])
    # ln(measured) / ln(predicted): 1 when the slowest mode alone sets the pace, above 1 while the
    # neighbouring modes (h within a few % of h_min) have not died out yet.
    check_all(claim, "rate_exponent_ratio", e["rate_exponent_ratio"], BOUNDS["S1", "rate_exponent_ratio"])
    check_all(claim, "rival_log_miss", e["rival_log_miss"], BOUNDS["S1", "rival_log_miss"])


@pytest.mark.claim("S2", source=Source(paper="the 2020 problem set's handout, Problem 2", note="the distance grows with alpha; the exponent: the problem set's own observation"))
@M_FACTORS
def test_distance_at_horizon_scales_as_a_power_of_alpha(claim, sensing, m_factor):
    """At T (600 at 10dr, 3000 at 5dr) ||U_T U_T^T - X*|| rises strictly with alpha and scales as alpha^p for alpha <= 1e-3, with p in a band per m."""
    e = s2_evidence(sensing)
    claim.param(m=sensing.config.m, steps=sensing.config.steps, alphas=sensing.config.alphas)
    # Looked for a predictor of p: the tail sigma_(r+1)(U_t) ~ alpha^q gives 2q, which matched p at t = 100 on
    # seed 0 of an earlier seed stream but not across seeds (p_early / 2q: 0.59-1.10 at 10dr, 1.12-1.18 at
    # 5dr), nor at T. So p is reported beside 2q, and no predictor is claimed.
    claim.measure(final_distance=e["final_distance"], p_early=e["p_early"], two_q_early=e["two_q_early"],
                  two_q_T=e["two_q_T"])
    check_all(claim, "distance_over_next_alpha", e["distance_over_next_alpha"], BOUNDS["S2", "distance_over_next_alpha"])
    check_all(claim, "p_T", e["p_T"], BOUNDS["S2", "p_T", m_factor])


@pytest.mark.claim("S3", source=Source(paper="Li, Ma, Zhang 2018", arxiv="1712.09203", section="1", note="uniqueness threshold: Amelunxen et al. 2014, Thm II"))
@M_FACTORS
def test_large_alpha_is_slow_above_the_uniqueness_threshold_and_wrong_below(claim, sensing, m_factor):
    """alpha=1e-4 ends within 1% of X*; alpha=0.1, at its own step size (lr = eta / ||U_0||_2^2, a quarter of small alpha's), still decays only as a power of t over [T/2, T] at 10dr (m > m_psd), but plateaus >= 1 away while the loss vanishes at 5dr (m < m_psd)."""
    e, config = s3_evidence(sensing), sensing.config
    m_psd = sensing_thresholds(config.d, config.r).psd_uniqueness
    lrs = {a: sensing.sweep.alpha_trace(a).lr.item() for a in (1e-4, max(sensing.sweep.alphas))}
    claim.param(m=config.m, steps=config.steps, m_psd=round(m_psd), lr_small_alpha=lrs[1e-4],
                lr_large_alpha=lrs[max(lrs)])
    claim.measure(large_alpha_rel_distance=e["large_alpha_rel_distance"])
    check_all(claim, "small_alpha_rel_distance", e["small_alpha_rel_distance"], BOUNDS["S3", "small_alpha_rel_distance"])
    check_all(claim, "large_alpha_time_slope", e["large_alpha_time_slope"], BOUNDS["S3", "large_alpha_time_slope", m_factor])
    if config.m < m_psd:
        check_all(claim, "large_alpha_rel_distance", e["large_alpha_rel_distance"], BOUNDS["S3", "large_alpha_rel_distance", m_factor])
        check_all(claim, "large_alpha_loss_reduction", e["large_alpha_loss_reduction"], BOUNDS["S3", "large_alpha_loss_reduction", m_factor])


@pytest.mark.claim("S4", source=Source(paper="Li, Ma, Zhang 2018", arxiv="1712.09203", equation="Thm 1.1", note="iterates stay approximately rank r"))
@pytest.mark.parametrize("m_factor, alpha", [(10, 1e-5), (10, 1e-4), (5, 1e-5), (5, 1e-4), (5, 1e-1)])
def test_small_alpha_iterates_stay_rank_r(claim, sensing, m_factor, alpha):
    """alpha <= 1e-4: sigma_6/sigma_5 of U_t <= 0.2 at every step after the top 5 reach half of sqrt(lambda_i(X*)), so U_t stays approximately rank 5 throughout; alpha = 0.1 at 5dr ends with sigma_6/sigma_5 >= 0.5."""
    e = s4_evidence(sensing, alpha)
    claim.param(m=sensing.config.m, steps=sensing.config.steps)
    claim.measure(top_r_grown_at=e["top_r_grown_at"], final_sigma_ratio=e["final_sigma_ratio"])
    # sigma_1..r(U_T) against sqrt(lambda_i(X*)) is reported, not checked: S3's distance bounds it (Weyl).
    claim.measure(top_r_max_rel_error=e["top_r_max_rel_error"])
    if alpha <= 1e-4:
        check_all(claim, "sigma_ratio_max", e["sigma_ratio_max"], BOUNDS["S4", "sigma_ratio_max"])
    else:
        check_all(claim, "final_sigma_ratio", e["final_sigma_ratio"], BOUNDS["S4", "final_sigma_ratio"])


@pytest.mark.claim("S5", source=Source(paper="the 2020 problem set's handout, Problem 2", note="escape time ~ log 1/alpha; rival: the power-law escape of deeper factorizations, Arora et al. 2019, arXiv:1905.13655"))
@M_FACTORS
def test_escape_time_is_linear_in_log_one_over_alpha(claim, sensing, m_factor):
    """For alpha <= 1e-2 (one step size) the first t with rel. distance < 0.5 is linear in log10(1/alpha) (R^2 >= 0.97), and the rival power law t ~ alpha^(-c) fits worse, leaving >= 2x the linear fit's unexplained variance. The slope per decade is reported beside ln 10 / ln(1 + 4 lr mu_k) for k = 1 and r; the population rates give a similar bracket, so P2, not S5, tells M's spectrum from X*'s."""
    e = s5_evidence(sensing)
    claim.param(m=sensing.config.m, alphas=e["alphas"])
    claim.measure(escape_steps=e["escape_steps"], steps_per_decade=e["steps_per_decade"],
                  predicted_fastest=e["fastest"], predicted_slowest=e["slowest"],
                  slope_over_fastest=e["slope_over_fastest"], slope_over_slowest=e["slope_over_slowest"],
                  power_law_exponent=e["power_law_exponent"], power_law_fit_r2=e["power_law_fit_r2"])
    check_all(claim, "linear_fit_r2", e["linear_fit_r2"], BOUNDS["S5", "linear_fit_r2"])
    check_all(claim, "power_law_over_linear_residual", e["power_law_over_linear_residual"],
              BOUNDS["S5", "power_law_over_linear_residual"])


@pytest.mark.claim("S6", source=Source(paper="Li, Luo, Lyu 2021", arxiv="2012.09839", section="1, 5", note="greedy low-rank learning; rival: the conjecture of Gunasekar et al. 2017, arXiv:1705.09280"))
def test_small_alpha_approaches_x_star_not_the_min_nuclear_norm_interpolant(claim, nuclear):
    """d=30, r=2, m=90 < m_nuc ~ 107, so the min-nuclear-norm interpolant X_cvx is not X* (a seed where the two lie within 5% is skipped: no alpha here tells them apart); for alpha = 1e-2 .. 1e-6 every run interpolates (loss down >= 1e8-fold) and GD's end point moves closer to X* with every decade of alpha, while at alpha = 1e-6 it stays >= half the gap ||X_cvx - X*|| away from X_cvx (Gunasekar's conjecture predicts it -> X_cvx); alpha = 0.3 ends >= 6x X_cvx's nuclear norm."""
    e, config = s6_evidence(nuclear), nuclear.config
    claim.param(d=config.d, r=config.r, m=config.m, alphas=config.alphas, steps=config.steps,
                m_nuc=round(sensing_thresholds(config.d, config.r).nuclear_recovery))
    # The nuclear-norm excess of GD's end point over X_cvx is reported beside X*'s own (the control): a GD that
    # found X* has X*'s excess, one that found X_cvx has 0.
    claim.measure(convex_status=nuclear.convex.status, small_alphas=e["small_alphas"],
                  convex_rel_distance_to_x_star=e["convex_rel_distance_to_x_star"],
                  rel_distance_to_x_star=e["rel_distance_to_x_star"], rel_distance_to_convex=e["rel_distance_to_convex"],
                  nuclear_excess=e["nuclear_excess"], x_star_nuclear_excess=e["x_star_nuclear_excess"],
                  smallest_alpha_x_star_distance_over_gap=e["smallest_alpha_x_star_distance_over_gap"])
    if e["convex_rel_distance_to_x_star"] < S6_MIN_GAP:
        pytest.skip(f"on this seed X_cvx is {e['convex_rel_distance_to_x_star']:.3g} from X* (relative), under "
                    f"{S6_MIN_GAP}: GD at alpha >= 1e-6 cannot tell the two predictions apart")
    for name in ("max_final_loss_ratio", "x_star_distance_max_successive_ratio",
                 "smallest_alpha_convex_distance_over_gap", "large_alpha_nuclear_excess"):
        check_all(claim, name, e[name], BOUNDS["S6", name])
