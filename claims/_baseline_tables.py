"""Every trajectory and derived quantity the claims and figures use, as flat numeric tables.

A table is ``{column: 1-D numpy array}`` with columns of equal length, the shape pytest-regressions'
``num_regression`` stores as CSV. `tables(results)` builds them all from the session's results by
experiment name; claims/test_baselines.py compares them with the committed baselines and
claims/_baseline_spread.py uses the same functions to measure how much each column really varies.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from claims._experiment_map import provide, reads

#: recorded sensing steps kept in the baselines: every STEP_STRIDE-th step, plus the last
STEP_STRIDE = 25
#: the layer-balance identity's violation is float32 rounding (1e-8 with float64 sums): values under 8 eps_32
#: are "at the floor" and stored as it, so two machines' rounding noise compares equal
MLP_IDENTITY_FLOOR = 8 * float(np.finfo(np.float32).eps)
#: the float64 floor of a distance relative to ||X*||_F (core.sensing.distance_floor of a unit X*)
RELATIVE_DISTANCE_FLOOR = 64 * float(np.finfo(np.float64).eps)
#: a least-squares slope of log(distance) over [T/2, T] on a plateau: rounding of 64 ulps over ln 2
SLOPE_FLOOR = 64 * float(np.finfo(np.float64).eps) / math.log(2)
#: the sweeps whose trajectories are stored, by experiment name
SENSING_EXPERIMENTS = ("sensing-10dr", "sensing-5dr")


def _np(value) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu().double() if value.is_floating_point() else value.detach().cpu()
        return value.numpy()
    return np.asarray(value)


def _alpha_label(alpha: float) -> str:
    return f"a{alpha:.0e}".replace("e-0", "e-")  # a1e-5, a1e-1


def _flatten(evidence: dict, prefix: str = "") -> dict[str, np.ndarray]:
    """Scalars, bools, ints, None and (nested) sequences or tensors of numbers as one-row columns."""
    out: dict[str, np.ndarray] = {}
    for key, value in evidence.items():
        name = f"{prefix}{key}"
        if isinstance(value, str):
            continue  # a label (e.g. P1's side); its numeric inputs are stored beside it
        if torch.is_tensor(value):
            value = value.detach().cpu().double().tolist() if value.is_floating_point() else value.tolist()
        if isinstance(value, (list, tuple)):
            flat = np.asarray([math.nan if v is None else v for v in np.asarray(value, dtype=object).ravel()])
            for k, item in enumerate(flat, start=1):
                out.update(_flatten({f"{name}_{k}": item.item() if hasattr(item, "item") else item}))
            continue
        if value is None:
            value = math.nan
        if isinstance(value, bool):
            value = int(value)
        out[name] = np.atleast_1d(np.asarray(value))
    return out


def mlp_epochs(history) -> dict[str, np.ndarray]:
    """Per epoch: losses, accuracy, per-layer gradient norms and the layer-balance terms (tests/unit/test_mlp.py)."""
    h, layers = history, range(1, len(history.layer_names) + 1)
    table = {"epoch": np.arange(1, h.config.epochs + 1), "train_nll": _np(h.train_nll),
             "test_nll": _np(h.test_nll), "test_accuracy": _np(h.test_accuracy)}
    table.update({f"grad_norm_l{k}": _np(h.grad_norms[:, k - 1]) for k in layers})
    if h.balance is not None:
        b = h.balance
        table.update({f"weight_sq_norm_l{k}": _np(b.weight_sq_norms[1:, k - 1]) for k in layers})
        table.update({f"grad_sq_sum_l{k}": _np(b.grad_sq_sums[:, k - 1]) for k in layers})
        table.update({f"grad_lower_bound_l{k}": _np(b.grad_lower_bound[:, k - 1]) for k in layers})
        table["max_identity_violation"] = np.maximum(_np(b.max_violation), MLP_IDENTITY_FLOOR)
    return table


def mlp_first_batches(history) -> dict[str, np.ndarray]:
    """Per batch of the first FIRST_BATCHES of epoch 1: each layer's gradient norm and the batch loss.

    Early in training, machines differ by float32 rounding only (~1e-7 relative); SGD amplifies that over the
    epochs, so this is where a small change to the arithmetic is told apart from a machine's rounding.
    """
    rows = _np(history.first_batches)
    layers = len(history.layer_names)
    table = {"batch": np.arange(1, len(rows) + 1)}
    table.update({f"grad_norm_l{k}": rows[:, k - 1] for k in range(1, layers + 1)})
    table["loss"] = rows[:, layers]
    return table


def p4_evidence(h) -> dict:
    """The layer-balance terms (Du, Hu and Lee 2018, Thm 2.1; the identity is tested in tests/unit/test_mlp.py): the
    drift of ||W_(l+1)||^2 - ||W_l||^2 against its lr^2 sums, and the Cauchy-Schwarz bound on each gradient."""
    b, lr = h.balance, h.config.lr
    differences = b.weight_sq_norms[:, 1:] - b.weight_sq_norms[:, :-1]
    bound_order = b.grad_lower_bound[-1].argsort(descending=True)
    return {"max_identity_violation": max(b.max_violation.max().item(), MLP_IDENTITY_FLOOR),
            "drift": differences[-1] - differences[0],
            "predicted_drift": lr**2 * (b.grad_sq_sums[:, 1:] - b.grad_sq_sums[:, :-1]).sum(dim=0),
            "weight_sq_change": b.weight_sq_norms[-1] - b.weight_sq_norms[0],
            "bound_over_norm_epoch40": b.grad_lower_bound[-1] / h.grad_norms[-1],
            "bound_orders_layers_like_g2": bool((bound_order == torch.arange(len(bound_order))).all())}


def mlp_quantities(history) -> dict[str, np.ndarray]:
    """G1-G3 evidence, the layer-balance terms and the gradient norms at initialization, as one row."""
    from claims.evidence import g1_g3_evidence

    row = _flatten({"init_grad_norm": history.init_grad_norms})
    row.update(_flatten(g1_g3_evidence(history), "g1_g3."))
    row.update(_flatten(p4_evidence(history), "p4."))
    return row


def recorded_steps(steps: int) -> np.ndarray:
    """0, STEP_STRIDE, 2 STEP_STRIDE, ... and the last step."""
    return np.unique(np.r_[np.arange(0, steps + 1, STEP_STRIDE), steps])


def x_star_fro(result) -> float:
    return float(torch.linalg.matrix_norm(result.sweep.x_star.double().cpu()))


def sensing_steps(result) -> dict[str, np.ndarray]:
    """At the recorded steps, per alpha and for the exact run: distance, loss and top singular values.

    Distances and losses are stored clipped at their float64 floors (core.sensing.distance_floor and
    loss_floor): the converged exact run's noise under the floor moves with the machine, and "at the floor" is
    the value.
    The floors are those of the largest X* of rank r (||X*||_F <= sqrt(r) when ||X*||_2 = 1), so one floor
    serves every seed and equals the comparison's atol.
    """
    from core.sensing import distance_floor, loss_floor

    sweep = result.sweep
    t = recorded_steps(result.config.steps)
    fro = math.sqrt(result.config.r)
    floors = distance_floor(fro), loss_floor(result.config.d, fro)
    table = {"step": t}
    runs = [(_alpha_label(a), sweep.alpha_trace(a), sweep.trace.singular_values.shape[-1]) for a in sweep.alphas]
    runs.append(("exact", sweep.exact_trace, result.config.r))  # the rest of its singular values are padding
    for label, trace, k_max in runs:
        table[f"{label}_distance"] = np.maximum(_np(trace.distance[t]), floors[0])
        table[f"{label}_loss"] = np.maximum(_np(trace.loss[t]), floors[1])
        table.update({f"{label}_sv{k}": _np(trace.singular_values[t, k - 1]) for k in range(1, k_max + 1)})
    return table


def sensing_escape_steps(result) -> dict[str, np.ndarray]:
    """Per alpha: S5's escape step (rel. distance < 0.5) and P3's per-component escape steps t_k."""
    from claims.evidence import escape_steps, escape_targets
    from core import escape_step

    sweep, r = result.sweep, result.config.r
    targets = escape_targets(sweep.x_star, r)
    table = {"alpha": np.asarray(sweep.alphas, dtype=float), "s5_escape_step": [], }
    table.update({f"p3_t{k}": [] for k in range(1, r + 1)})
    for alpha in sweep.alphas:
        trace = sweep.alpha_trace(alpha)
        step = escape_step(trace.rel_distance)
        table["s5_escape_step"].append(-1 if step is None else step)  # -1: never escaped within T
        for k, t_k in enumerate(escape_steps(trace.singular_values, targets), start=1):
            table[f"p3_t{k}"].append(-1 if t_k is None else t_k)
    # floats, so that a step may move by its tolerance (num_regression compares integer columns exactly)
    return {k: np.asarray(v, dtype=float) for k, v in table.items()}


def sensing_quantities(result) -> dict[str, np.ndarray]:
    """The predictions (growth spectrum, local rate) and P2, P3 evidence of one sweep, as one row."""
    from claims.evidence import p2_evidence, p3_evidence

    row = _flatten({"growth_spectrum": result.growth_spectrum, "exact_local_rate": result.exact_local_rate})
    row.update(_flatten(p2_evidence(result), "p2."))
    p3 = p3_evidence(result)
    p3.pop("escape_steps")  # stored per alpha in the escape-steps table
    row.update(_flatten(p3, "p3."))
    return row


def threshold_quantities(threshold_runs: dict) -> dict[str, np.ndarray]:
    """P1 evidence, one row per m / (d r) of the uniqueness sweep.

    The large-alpha loss reduction is stored clipped at its float64 floor (core.sensing.loss_ratio_floor): below
    m_psd that run interpolates, and its final loss is rounding noise whose level moves with the machine.
    A time slope under SLOPE_FLOOR (a plateau's rounding noise) is stored as 0.
    """
    from claims.evidence import p1_evidence
    from core.sensing import loss_ratio_floor, sensing_thresholds

    rows = []
    for m_per_dr, result in sorted(threshold_runs.items()):
        config = result.config
        m_psd = sensing_thresholds(config.d, config.r).psd_uniqueness
        row = {"m_per_dr": m_per_dr, "m": config.m, "below_m_psd": int(config.m < m_psd)}
        row.update({k: v for k, v in p1_evidence(result, m_psd).items() if k != "side"})
        initial_loss = float(result.sweep.alpha_trace(max(result.sweep.alphas)).loss[0])
        floor = loss_ratio_floor(config.d, x_star_fro(result), initial_loss)
        row["large_alpha_loss_reduction"] = max(row["large_alpha_loss_reduction"], floor)
        if result.projected is not None:  # P5: PSD-projected GD on X, its distance and loss at the floors
            trace = result.projected
            row["projected_rel_distance"] = max(trace.rel_distance[-1].item(), RELATIVE_DISTANCE_FLOOR)
            row["projected_loss_reduction"] = max((trace.loss[-1] / trace.loss[0]).item(),
                                                  loss_ratio_floor(config.d, x_star_fro(result), trace.loss[0].item()))
            row["projected_lr"] = trace.lr
        # On the plateaus the slope is rounding noise about 0: "at the floor" is stored as 0.
        if abs(row["large_alpha_time_slope"]) < SLOPE_FLOOR:
            row["large_alpha_time_slope"] = 0.0
        rows.append(row)
    return {key: np.asarray([row[key] for row in rows]) for key in rows[0]}


def nuclear_quantities(result) -> dict[str, np.ndarray]:
    """S6: the convex interpolant's distance to X*, and GD's end point per alpha against X* and X_cvx."""
    from claims.evidence import s6_evidence

    e = s6_evidence(result)
    keep = ("convex_rel_distance_to_x_star", "x_star_nuclear_excess", "rel_distance_to_x_star",
            "rel_distance_to_convex", "nuclear_excess", "large_alpha_nuclear_excess")
    return _flatten({key: e[key] for key in keep})


def recovery_quantities(result) -> dict[str, np.ndarray]:
    """P6, one row per m: how many of the trials the SDP recovered, and the median distance of the others."""
    distances, tolerance = result.rel_distance, result.config.tolerance
    failed = [row[row > tolerance] for row in distances]
    return {"m": np.asarray(result.config.ms),
            "recovered": np.asarray([int((row <= tolerance).sum()) for row in distances]),
            "median_failed_rel_distance": np.asarray([f.median().item() if len(f) else 0.0 for f in failed])}


def result_of(results, name: str):
    """The named result from claims/conftest.py's ExperimentResults (`get`) or a plain mapping."""
    return results.get(name)[0] if hasattr(results, "get") and not isinstance(results, dict) else results[name]


#: table name -> the source it is built from (a fixture of claims/_experiment_map.py's READS, or a catalogue
#: name) and its builder
TABLES = {"mlp_epochs": ("mlp_history", mlp_epochs), "mlp_first_batches": ("mlp_history", mlp_first_batches),
          "mlp_quantities": ("mlp_history", mlp_quantities)}
for _experiment in SENSING_EXPERIMENTS:
    _stem = _experiment.replace("-", "_")
    TABLES.update({f"{_stem}_steps": (_experiment, sensing_steps),
                   f"{_stem}_escape_steps": (_experiment, sensing_escape_steps),
                   f"{_stem}_quantities": (_experiment, sensing_quantities)})
TABLES.update({"threshold_quantities": ("threshold_runs", threshold_quantities),
               "nuclear_quantities": ("nuclear", nuclear_quantities),
               "recovery_quantities": ("recovery", recovery_quantities)})


def build(table: str, results) -> dict[str, np.ndarray]:
    """One table from the session's results (or a mapping from catalogue name to result)."""
    source, builder = TABLES[table]
    names = results.configs if hasattr(results, "configs") else results
    return builder(provide(source, {}, names, lambda name: result_of(results, name)))


def tables(results, groups=("mlp", *SENSING_EXPERIMENTS, "threshold", "nuclear", "recovery")) -> dict[str, dict]:
    """Every baseline table whose source is in one of `groups` (claims/_experiment_map.py), by table name."""
    return {table: build(table, results) for table, (source, _) in TABLES.items() if reads(source).group in groups}
