"""Problem 2's evidence: what the S claims measure in a sensing sweep (core.SensingResult)."""

from __future__ import annotations

import math

import torch

from core import escape_step
from core.sensing import first_step

from ._fits import contraction_per_step, line_fit, loglog_slope, steps_per_decade, time_slope, top_eigenvalues

SMALL_ALPHAS = (1e-5, 1e-4, 1e-3)
#: S6's small alphas are those up to this one (1e-2 .. 1e-6); its larger alpha (0.3) is the contrast
S6_LARGEST_SMALL_ALPHA = 1e-2
#: S6 needs X_cvx and X* at least this far apart (relative) to tell GD's limit between them
S6_MIN_GAP = 0.05
EARLY_STEP = 100  # "early": every small alpha has escaped (S4: by step 53), none has converged (S2)


def s1_evidence(result) -> dict:
    """Exact run: final distance, tail contraction, and the local-Hessian and population predictions."""
    trace, x_star = result.sweep.exact_trace, result.sweep.x_star
    lam_r = top_eigenvalues(x_star, result.config.r)[-1].item()
    # The tail, where the slowest Hessian mode dominates and the fp64 floor (~1e-16) is still far.
    measured = contraction_per_step(trace.rel_distance, 1e-8, 1e-11)
    predicted = result.exact_local_rate
    return {"final_rel_distance": trace.rel_distance[-1].item(), "tail_contraction": measured,
            "local_hessian_rate": predicted, "population_rate": 1 - 4 * float(trace.lr) * lam_r,
            "rate_exponent_ratio": math.log(measured) / math.log(predicted),
            "rival_log_miss": abs(math.log(math.log(measured) / math.log(1 - 4 * float(trace.lr) * lam_r)))}


def s2_evidence(result) -> dict:
    """Distance at T against alpha: monotonicity and the exponent p, early and late, with 2q from sigma_(r+1)."""
    sweep, r, T = result.sweep, result.config.r, result.config.steps
    traces = [sweep.alpha_trace(a) for a in sweep.alphas]
    final = [t.distance[-1].item() for t in traces]
    small = [sweep.alpha_trace(a) for a in SMALL_ALPHAS]
    p = {t: loglog_slope(SMALL_ALPHAS, [s.distance[t].item() for s in small]) for t in (EARLY_STEP, T)}
    two_q = {t: 2 * loglog_slope(SMALL_ALPHAS, [s.singular_values[t, r].item() for s in small])
             for t in (EARLY_STEP, T)}
    return {"final_distance": final, "distance_over_next_alpha": max(a / b for a, b in zip(final, final[1:])),
            "p_T": p[T], "p_early": p[EARLY_STEP], "two_q_T": two_q[T], "two_q_early": two_q[EARLY_STEP]}


def s3_evidence(result) -> dict:
    """Small alpha's distance; large alpha's distance, its decay in t over [T/2, T], and its loss reduction."""
    sweep, T = result.sweep, result.config.steps
    small, large = sweep.alpha_trace(1e-4), sweep.alpha_trace(max(sweep.alphas))
    return {"small_alpha_rel_distance": small.rel_distance[-1].item(),
            "large_alpha_rel_distance": large.rel_distance[-1].item(),
            "large_alpha_time_slope": time_slope(large.distance, T // 2, T),
            "large_alpha_loss_reduction": (large.loss[-1] / large.loss[0]).item()}


def s4_evidence(result, alpha) -> dict:
    """Singular values of U_t: top-r match at T, and sigma_(r+1)/sigma_r once the top r have grown."""
    r, trace = result.config.r, result.sweep.alpha_trace(alpha)
    sv, target = trace.singular_values, top_eigenvalues(result.sweep.x_star, r).sqrt()
    ratio = sv[:, r] / sv[:, r - 1]
    grown = first_step((sv[:, :r] >= 0.5 * target).all(dim=1))
    return {"top_r_max_rel_error": ((sv[-1, :r] - target).abs() / target).max().item(),
            "sigma_ratio_max": ratio[grown:].max().item() if grown is not None else math.nan,
            "final_sigma_ratio": ratio[-1].item(), "top_r_grown_at": grown}


def s5_evidence(result) -> dict:
    """Escape steps (rel. distance < 0.5) for the alphas that share one step size, and their slope per decade."""
    sweep, r = result.sweep, result.config.r
    lr = sweep.alpha_trace(sweep.alphas[0]).lr.item()
    alphas = [a for a in sweep.alphas if sweep.alpha_trace(a).lr.item() == lr]
    escapes = [escape_step(sweep.alpha_trace(a).rel_distance) for a in alphas]
    slope, r2 = line_fit([math.log10(1 / a) for a in alphas], escapes)
    # Rival: a power law t ~ alpha^(-c), as deeper factorizations escape (Arora et al. 2019, Sec. 3)
    power_exponent, power_r2 = line_fit([math.log10(1 / a) for a in alphas], [math.log10(t) for t in escapes])
    mu = result.growth_spectrum
    fastest, slowest = (steps_per_decade(math.log1p(4 * lr * mu[k].item())) for k in (0, r - 1))
    return {"alphas": alphas, "escape_steps": escapes, "steps_per_decade": slope, "linear_fit_r2": r2,
            "power_law_exponent": power_exponent, "power_law_fit_r2": power_r2,
            # a linear fit within 1e-9 of perfect counts as perfect, so the ratio stays a readable number
            "power_law_over_linear_residual": (1 - power_r2) / max(1 - r2, 1e-9),
            "fastest": fastest, "slowest": slowest,
            "slope_over_fastest": slope / fastest, "slope_over_slowest": slope / slowest}


def s6_evidence(result) -> dict:
    """GD's end point for each small alpha against X* and the min-nuclear-norm interpolant X_cvx."""
    norm = torch.linalg.matrix_norm
    sweep, x_cvx, x_star = result.sweep, result.convex.x, result.sweep.x_star
    gap = (norm(x_cvx - x_star) / norm(x_star)).item()
    small = sorted((a for a in sweep.alphas if a <= S6_LARGEST_SMALL_ALPHA), reverse=True)
    ends = {}
    for alpha in sweep.alphas:
        trace = sweep.alpha_trace(alpha)
        ends[alpha] = (trace.final_u @ trace.final_u.T, (trace.loss[-1] / trace.loss[0]).item())
    to_star = [(norm(ends[a][0] - x_star) / norm(x_star)).item() for a in small]
    to_cvx = [(norm(ends[a][0] - x_cvx) / norm(x_cvx)).item() for a in small]
    excess = [(torch.trace(ends[a][0]) / torch.trace(x_cvx)).item() - 1 for a in small]
    large = ends[max(sweep.alphas)][0]
    return {"small_alphas": small, "convex_rel_distance_to_x_star": gap,
            "x_star_nuclear_excess": (torch.trace(x_star) / torch.trace(x_cvx)).item() - 1,
            "rel_distance_to_x_star": to_star, "rel_distance_to_convex": to_cvx, "nuclear_excess": excess,
            "max_final_loss_ratio": max(ratio for _, ratio in ends.values()),
            "x_star_distance_max_successive_ratio": max(b / a for a, b in zip(to_star, to_star[1:])),
            "smallest_alpha_convex_distance_over_gap": to_cvx[-1] * norm(x_cvx).item() / (gap * norm(x_star).item()),
            "smallest_alpha_x_star_distance_over_gap": to_star[-1] / gap,
            "large_alpha_nuclear_excess": (torch.trace(large) / torch.trace(x_cvx)).item() - 1}
