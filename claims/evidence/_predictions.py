"""The predictions' evidence: what the P claims measure, beside the predictions derived before the run."""

from __future__ import annotations

import math

import torch

from core import sensing_thresholds
from core.sensing import first_step, loss_ratio_floor

from ._fits import escape_steps, escape_targets, line_fit, steps_per_decade, time_slope, top_eigenvalues

#: P5's m / (d r): 6dr, only 7% above m_psd, converges too slowly to claim a level by T (reported by P1)
P5_M_PER_DR = (2, 3, 5, 10)
#: the spectral phase ends once sigma_1(U_t) reaches this (where U U^T stops being negligible)
SPECTRAL_PHASE_END = 0.1


def threshold_run(threshold_runs, m_per_dr):
    """The uniqueness sweep's run at m_per_dr, its config, and the thresholds of its (d, r)."""
    result = threshold_runs[m_per_dr]
    return result, result.config, sensing_thresholds(result.config.d, result.config.r)


def p1_evidence(result, m_psd: float) -> dict:
    """Where the large-alpha run ends (loss, distance, decay in t over [T/2, T]) and how close small alpha gets."""
    sweep, T = result.sweep, result.config.steps
    small, large = sweep.alpha_trace(min(sweep.alphas)), sweep.alpha_trace(max(sweep.alphas))
    return {"side": "below" if result.config.m < m_psd else "above",
            "small_alpha_rel_distance": small.rel_distance[-1].item(),
            "large_alpha_rel_distance": large.rel_distance[-1].item(),
            "large_alpha_loss_reduction": (large.loss[-1] / large.loss[0]).item(),
            "large_alpha_time_slope": time_slope(large.distance, T // 2, T)}


def p2_evidence(result, alpha: float = 1e-5) -> dict:
    """Growth rate of log sigma_k(U_t), k <= r+1, over the second half of the spectral phase, against prediction."""
    r, trace = result.config.r, result.sweep.alpha_trace(alpha)
    sv, lr = trace.singular_values, trace.lr.item()
    end = first_step(sv[:, 0] >= SPECTRAL_PHASE_END)
    start = end // 2  # the first half lets the top eigen-directions of M separate from the bulk
    measured = (sv[end, : r + 1].log() - sv[start, : r + 1].log()) / (end - start)
    predicted = torch.log1p(4 * lr * result.growth_spectrum[: r + 1])
    ratio = measured / predicted
    # Rival: the population rates, M replaced by its mean X* (eigenvalues lambda_k; lambda_(r+1) = 0).
    population = torch.log1p(4 * lr * top_eigenvalues(result.sweep.x_star, r))
    rival = measured[:r] / population
    return {"window": [start, end], "measured_rates": measured, "predicted_rates": predicted,
            "rate_ratio_top_r": ratio[:r], "rate_ratio_r_plus_1": ratio[r].item(), "rival_rates": population,
            "rival_ratio_top_r": rival,
            "prediction_log_miss": ratio[:r].log().abs().max().item(),
            "rival_log_miss": rival.log().abs().max().item(),
            "rival_miss_over_prediction_miss": (rival.log().abs().max() / ratio[:r].log().abs().max()).item()}


def p3_evidence(result, alphas=(1e-5, 1e-4, 1e-3)) -> dict:
    """Escape step t_k (sigma_k >= sqrt(lambda_k)/2) per component and alpha; slope per decade against prediction."""
    sweep, r = result.sweep, result.config.r
    targets = escape_targets(sweep.x_star, r)
    steps = [escape_steps(sweep.alpha_trace(a).singular_values, targets) for a in alphas]
    lr = sweep.alpha_trace(alphas[0]).lr.item()
    decades = [math.log10(1 / a) for a in alphas]
    slopes = [line_fit(decades, [s[k] for s in steps])[0] for k in range(r)]
    predicted = [steps_per_decade(math.log1p(4 * lr * mu)) for mu in result.growth_spectrum[:r].tolist()]
    inversions = sum(a > b for s in steps for a, b in zip(s, s[1:]))
    ties = sum(a == b for s in steps for a, b in zip(s, s[1:]))
    # Rival "one pace": every component escapes at the pace of the first (simultaneous, not incremental).
    one_pace = [s / predicted[0] for s in slopes]
    population = [steps_per_decade(math.log1p(4 * lr * lam)) for lam in top_eigenvalues(sweep.x_star, r).tolist()]
    return {"escape_steps": steps, "slopes": slopes, "predicted_slopes": predicted,
            "slope_ratio": [s / p for s, p in zip(slopes, predicted)], "escape_order_inversions": inversions,
            "escape_ties": ties, "rival_slope_ratio": one_pace,
            "rival_log_miss": max(abs(math.log(v)) for v in one_pace),
            "population_slope_ratio": [s / p for s, p in zip(slopes, population)]}


def p5_evidence(result, m_psd: float) -> dict:
    """Where PSD-projected GD on X ends: relative distance to X* and how far its loss fell."""
    trace = result.projected
    return {"side": "below" if result.config.m < m_psd else "above",
            "projected_rel_distance": trace.rel_distance[-1].item(),
            "projected_loss_reduction": max((trace.loss[-1] / trace.loss[0]).item(), loss_ratio_floor_of(result)),
            "lr": trace.lr}


def loss_ratio_floor_of(result) -> float:
    """core.sensing.loss_ratio_floor for the problem of `result` (the float64 floor of a loss ratio)."""
    config, x_star = result.config, result.sweep.x_star
    return loss_ratio_floor(config.d, torch.linalg.matrix_norm(x_star).item(), result.projected.loss[0].item())


def p6_evidence(recovery) -> dict:
    """Success rate per m, and the m where it crosses 1/2 (linear between the bracketing m's)."""
    ms, rates = list(recovery.config.ms), recovery.success_rate
    crossing = math.nan
    for (m0, p0), (m1, p1) in zip(zip(ms, rates), zip(ms[1:], rates[1:])):
        if p0 < 0.5 <= p1:
            crossing = m0 + (0.5 - p0) / (p1 - p0) * (m1 - m0)
            break
    m_nuc = sensing_thresholds(recovery.config.d, recovery.config.r).nuclear_recovery
    return {"ms": ms, "success_rate": rates, "crossing_m": crossing, "crossing_over_m_nuc": crossing / m_nuc,
            "rate_at_smallest_m": rates[0], "rate_at_largest_m": rates[-1]}
