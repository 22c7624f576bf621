"""Numeric baselines: every trajectory the claims and figures use, compared with committed CSV files.

The claims are qualitative, so a change that moves the numbers by a few percent would pass unseen while
the findings still hold. These tests see that drift: for the baseline seed (0) on the CPU, each table of
claims/_baseline_tables.py (per-epoch MLP curves, sensing trajectories at every 25th step and the last,
escape steps, the G1-G3 and P1-P3 evidence, the layer-balance terms) is compared column by column with
claims/test_baselines/<table>_<device class>.csv through pytest-regressions' ``num_regression``.

Regenerate (after a change that is meant to move the numbers; review the CSV diff before committing):

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 pytest claims/test_baselines.py --force-regen

The committed files were recorded that way: torch 2.14.1, one thread, CPU (with the default two threads the
MLP columns move by their thread-count spread, inside their tolerances, and one thread is ~10x faster on a
busy 2-core machine). --force-regen rewrites only the files whose comparison fails (and creates missing ones),
and those tests fail once to say so; the next run passes. A normal run never writes into claims/test_baselines/
(pytest-regressions compares in a temporary copy): a missing, unreadable or reshaped baseline (other columns or
row count, non-numbers) fails its own test naming the file and this command, and is neither created nor
rewritten (check_baseline, claims/_baseline_files.py). A file pandas cannot read must be deleted before
--force-regen can replace it. Baselines belong to a device class: on CUDA the comparisons use the
*_cuda.csv files when they exist and skip otherwise, never a widened tolerance. Another seed skips.

Tolerances (TOLERANCES below) come from a stated error model or a measured spread (docs/baselines.md lists
them, docs/verdicts.md says how). Values at the float64 floor (the converged exact run's distance and loss,
P1's interpolating loss ratio) are stored clipped at the floor of core/sensing/_floors.py and compared with the floor
as absolute tolerance: two values at the floor are equal. The other float columns are held to at least SAFETY
times the largest spread measured between the committed files and the tables computed under the emulated CPUs
of claims/_variants.py (python -m claims._variants measure). The float32 MLP's 40-epoch curves are
SGD-chaotic, so they are held loosely; its first batches of epoch 1 are held tightly, where a 0.2% change to
the arithmetic is caught.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from claims import _baseline_tables as bt
from claims._baseline_files import REGENERATE_CSV, require_csv
from core.sensing import distance_floor, loss_floor

pytestmark = pytest.mark.baseline  # the numeric-baseline tier (docs/verdicts.md)

BASELINE_SEED = 0
DATA_DIR = Path(__file__).with_suffix("")  # pytest-regressions' default datadir: claims/test_baselines/


class Tolerance(NamedTuple):
    """np.isclose(obtained, stored, rtol, atol) per entry, with what the tolerance was set from.

    `measured` is the largest difference seen across the machine variants, in the unit of the tolerance that
    governs the rule (rtol where it is > 0, else atol); None for exact rules and for floors, whose atol is the
    error model's floor. `spread` says where the number comes from.
    """

    table: str  # regular expression, full match on the table name
    columns: str  # regular expression, full match on the column name
    rtol: float
    atol: float
    spread: str
    measured: float | None = None


#: every measured tolerance is at least this many times its measured spread (test_tolerances_cover_...)
SAFETY = 3.0
# core/sensing/_floors.py's floors for the stored sweeps (d = 100, r = 5, ||X*||_2 = 1, so ||X*||_F <= sqrt(5)); the
# baseline tables clip distances and losses at their floor, and the floor is the absolute tolerance.
_DISTANCE_FLOOR = distance_floor(math.sqrt(5))
_LOSS_FLOOR = loss_floor(100, math.sqrt(5))
# A least-squares slope of log(distance) over [T/2, T] on a plateau: rounding of FLOOR_MARGIN ulps over ln 2.
_SLOPE_FLOOR = bt.SLOPE_FLOOR

# The first rule whose table and column patterns match a column applies; a column no rule matches is an error.
# Spreads (seed 0, CPU): the largest difference between any two of the committed files (recorded on an Intel
# Xeon with AVX-512, torch 2.14.1, one thread) and the tables computed on an AMD EPYC (Zen 3, AVX2) under each
# variant of claims/_variants.py: native, one-thread, generic-x86, avx2-haswell and mkl-compatible (X below).
# Earlier measurements on the Xeon: repeated runs and torch 2.9.1 against 2.14.1 were bitwise at one thread.
TOLERANCES: tuple[Tolerance, ...] = (
    # --- integers (steps, epochs, counts, flags) compare exactly: num_regression compares integer columns with !=
    Tolerance(r".*", r"epoch|batch|step|m|m_per_dr|below_m_psd", 0, 0, "configuration"),
    Tolerance(r".*", r"alpha", 1e-12, 0, "configuration"),
    # A threshold crossing of a float64 trajectory moves by one step on a machine whose rounding (1e-12 relative)
    # carries the trajectory across the threshold at that step; more than one step is a real change.
    Tolerance(r"sensing_.*_escape_steps", r"s5_escape_step|p3_t\d+", 0, 1,
              "one step either way (a crossing within rounding of its threshold); X: identical"),
    Tolerance(r".*", r".*(window_\d|escape_order_inversions|escape_ties|bound_orders_layers_like_g2)", 0, 0,
              "X: identical integers"),
    # --- matrix sensing, float64. GD runs in the numba kernels with fixed chunks and fixed-order reductions, so
    # one machine is bitwise on any thread count; another CPU (or numba target) re-associates the vectorized sums.
    # Near convergence the machines differ by a constant absolute rounding (3e-17 in the distance, a residual
    # rounding delta ~ 1e-16): relative to the value it grows as the run converges, and the floor's atol covers
    # it; a loss L then moves by 2 sqrt(L) delta, at most delta^2 / rtol beyond rtol L, under the floor for
    # rtol >= 1e-9 (delta^2 / floor): rtol 1e-8 leaves delta room for 3x.
    Tolerance(r"sensing_.*_steps", r".*_distance", 1e-10, _DISTANCE_FLOOR,
              "floor 64 eps sqrt(5) (stored clipped there); X: <= 3e-17 absolute near it, 3e-11 relative "
              "above 1e-6", 3e-11),
    Tolerance(r"sensing_.*_steps", r".*_loss", 1e-8, _LOSS_FLOOR,
              "floor (64 eps d sqrt(5))^2 (stored clipped there); X: 1.0e-9 relative at a loss of 3e-14", 1e-9),
    # Singular values come from eigvalsh of U^T U (LAPACK); they never feed back into GD. A tail value sigma_k
    # gets an absolute error up to about eps sigma_1^2 / sigma_k, hence the atol.
    Tolerance(r"sensing_.*_steps", r".*_sv\d+", 1e-11, 5e-14, "X: 2.3e-12 relative, 6.4e-15 absolute", 2.3e-12),
    Tolerance(r"sensing_.*_quantities", r"growth_spectrum_\d+|exact_local_rate", 1e-12, 0, "X: 7.6e-15", 7.6e-15),
    Tolerance(r"sensing_.*_quantities", r"p2\..*", 1e-12, 0, "X: 3.7e-14", 3.7e-14),
    Tolerance(r"sensing_.*_quantities", r"p3\..*", 1e-12, 0, "X: 1.8e-15", 1.8e-15),
    # P1 sweep (d = 40). On the plateaus (m <= 5dr) the large-alpha time slope is rounding noise around 0, far
    # below the claim's +-0.01 band; below m_psd the large-alpha run interpolates and its loss ratio is stored
    # clipped at core.sensing.loss_ratio_floor.
    Tolerance(r"threshold_quantities", r"large_alpha_time_slope", 1e-12, _SLOPE_FLOOR,
              "floor 64 eps / ln 2 (plateau rows under it stored as 0); X: 1.6e-15 absolute there"),
    # Above the floor the 5dr row's loss ratio (2.7e-15) is a residual of 2e-7 left of y's size 4: the
    # cancellation amplifies the trajectory's 1e-12 spread.
    Tolerance(r"threshold_quantities", r"large_alpha_loss_reduction", 4e-9, 0,
              "rows below the floor stored at it; X above it: 1.0e-9 (5dr row)", 1.01e-9),
    # P5's projected GD on X: its distance and loss ratio are stored clipped at their floors (64 eps for a
    # relative distance; core.sensing.loss_ratio_floor).
    Tolerance(r"threshold_quantities", r"projected_rel_distance", 1e-11, bt.RELATIVE_DISTANCE_FLOOR,
              "floor 64 eps (stored clipped there); X above it: 1.5e-13", 1.52e-13),
    # The 5dr row's loss ratio (4e-22) is a residual of 2e-11 left after the cancellation of y's size 1.
    Tolerance(r"threshold_quantities", r"projected_loss_reduction", 3e-4, 0,
              "rows below the floor stored at it; X above it: 9.9e-5 (5dr row)", 9.91e-5),
    Tolerance(r"threshold_quantities", r".*", 1e-11, 0, "X: 1.6e-13 (small_alpha_rel_distance)", 1.6e-13),
    # S6 (d = 30): GD's end points after 20,000 float64 steps and the interior-point SDP's solution; the SDP's
    # iterates take the same path on every CPU variant, to 1e-12.
    Tolerance(r"nuclear_quantities", r".*", 1e-10, 0, "X: 3.4e-12 (rel_distance_to_convex)", 3.44e-12),
    # P6: the recovered counts are exact; a failed trial's distance is an SDP solution's, as above.
    Tolerance(r"recovery_quantities", r"recovered", 0, 0, "X: identical integers"),
    Tolerance(r"recovery_quantities", r"median_failed_rel_distance", 1e-8, 0, "X: 6.2e-10", 6.22e-10),
    # --- the MNIST MLP, float32 SGD over 40 epochs x 469 batches. One machine is bitwise at a fixed thread
    # count, but the CPU's kernels (and the thread count) change the rounding, and SGD amplifies that over the
    # epochs: these are chaotic quantities whose tolerance is their spread across machines, not a precision.
    # Epoch 1's first batches are where the arithmetic itself is pinned (0.2% is caught there).
    Tolerance(r"mlp_first_batches", r"grad_norm_l\d|loss", 2e-6, 0, "X: 2.1e-7 (float32 rounding)", 2.1e-7),
    Tolerance(r"mlp_epochs", r"train_nll", 6e-3, 0, "X: 1.8e-3", 1.8e-3),
    Tolerance(r"mlp_epochs", r"test_nll", 3e-2, 0, "X: 3.7e-3", 3.7e-3),
    Tolerance(r"mlp_epochs|mlp_quantities", r"(g1_g3\.)?test_accuracy", 0, 2.5e-3,
              "X: 6e-4 absolute (6 test images)", 6e-4),
    Tolerance(r"mlp_epochs", r"grad_norm_l\d", 1.2e-2, 0, "X: 3.1e-3", 3.1e-3),
    Tolerance(r"mlp_epochs", r"weight_sq_norm_l\d", 1.3e-3, 0, "X: 1.7e-4", 1.7e-4),
    Tolerance(r"mlp_epochs", r"grad_sq_sum_l\d", 3e-2, 0, "X: 5.9e-3", 5.9e-3),
    Tolerance(r"mlp_epochs", r"grad_lower_bound_l\d", 1e-2, 0, "X: 2.5e-3", 2.5e-3),
    # The layer-balance identity holds exactly in real arithmetic: its violation is float32 rounding noise
    # (about 1e-8), stored clipped at the floor MLP_IDENTITY_FLOOR = 8 eps_32, so both sides sit at the floor.
    Tolerance(r"mlp_epochs|mlp_quantities", r"(p4\.)?max_identity_violation", 0, bt.MLP_IDENTITY_FLOOR,
              "floor 8 eps_32 (stored clipped there); X: 1.4e-8 absolute, under it", 1.4e-8),
    Tolerance(r"mlp_quantities", r"init_grad_norm_\d", 1e-6, 0, "X: 8.7e-8 (before any SGD step)", 8.7e-8),
    Tolerance(r"mlp_quantities", r"g1_g3\..*", 8e-3, 0, "X: 1.8e-3", 1.8e-3),
    Tolerance(r"mlp_quantities", r"p4\.(predicted_)?drift_\d", 2.5e-2, 0, "X: 5.8e-3", 5.8e-3),
    Tolerance(r"mlp_quantities", r"p4\.weight_sq_change_\d", 1e-3, 0, "X: 1.6e-4", 1.6e-4),
    Tolerance(r"mlp_quantities", r"p4\.bound_over_norm_epoch40_\d", 1.2e-2, 0, "X: 3.5e-3", 3.5e-3),
)


def tolerance_for(table: str, column: str) -> Tolerance:
    for rule in TOLERANCES:
        if re.fullmatch(rule.table, table) and re.fullmatch(rule.columns, column):
            return rule
    raise LookupError(f"no tolerance for column {column!r} of table {table!r}: add a rule to TOLERANCES")


def tolerances(table: str, data: dict) -> dict[str, dict[str, float]]:
    """num_regression's per-column tolerances for one table."""
    return {column: {"rtol": (rule := tolerance_for(table, column)).rtol, "atol": rule.atol} for column in data}


TABLES, build = bt.TABLES, bt.build


def _regenerating(config) -> bool:
    return bool(config.getoption("force_regen") or config.getoption("regen_all"))


def check_baseline(num_regression, request, data: dict, basename: str, tolerances: dict) -> None:
    """num_regression.check against <module datadir>/<basename>.csv, which must exist and fit `data`.

    Without this check pytest-regressions would create a missing file and fail once (the next run then passes
    against it); a missing or damaged file instead fails here naming itself and REGENERATE_CSV. Only
    --force-regen / --regen-all let the plugin create or rewrite a baseline.
    """
    # pytest-datadir's original_datadir is the committed folder num_regression reads: claims/test_baselines/ here
    path = request.getfixturevalue("original_datadir") / f"{basename}.csv"
    regenerating = _regenerating(request.config)
    require_csv(path, data, regenerating)
    if not regenerating:
        data = _checked_integral_floats(path, data, tolerances)
    if data:
        num_regression.check(data, basename=basename, tolerances=tolerances)


def _checked_integral_floats(path: Path, data: dict, tolerances: dict) -> dict:
    """Compare here the float columns whose values all land on integers; return the other columns.

    pytest-regressions writes such a column as "8", reads it back as integers and then compares it exactly,
    whatever its tolerance: a slope of exactly 8.0 failed against a stored 8.0000000000000018 (rtol 1e-12).
    """
    import pandas as pd

    stored, rest = None, {}
    for name, values in data.items():
        values = np.asarray(values)
        if not (np.issubdtype(values.dtype, np.floating) and np.isfinite(values).all()
                and (values == np.round(values)).all()):
            rest[name] = values
            continue
        stored = pd.read_csv(path) if stored is None else stored
        expected = stored[name].to_numpy(dtype=float)
        rule = tolerances[name]
        far = ~np.isclose(values, expected, rtol=rule["rtol"], atol=rule["atol"], equal_nan=True)
        if far.any():
            pytest.fail(f"{path.name}, column {name}: obtained {values[far].tolist()} against the stored "
                        f"{expected[far].tolist()} (rtol {rule['rtol']:g}, atol {rule['atol']:g}). "
                        f"To record new values: {REGENERATE_CSV}", pytrace=False)
    return rest


@pytest.fixture
def baseline_device(request, seed, device) -> str:
    """The device class whose files are compared; skips another seed, and a device class without baselines."""
    pytest.importorskip("pandas", reason="pytest-regressions' num_regression needs pandas (in the test extra: "
                                         "pip install -e '.[test]')")
    if seed != BASELINE_SEED:
        pytest.skip(f"baselines are for seed {BASELINE_SEED}; this run is seed {seed}, whose numbers differ "
                    f"(run with --seed {BASELINE_SEED})")
    if not any(DATA_DIR.glob(f"*_{device.type}.csv")) and not _regenerating(request.config):
        pytest.skip(f"no baselines for device class {device.type!r} in {DATA_DIR.name}/ (only "
                    f"{sorted({p.stem.rsplit('_', 1)[-1] for p in DATA_DIR.glob('*.csv')})}); a baseline from "
                    f"another device is not compared with a widened tolerance. Record them on that device with: "
                    f"pytest claims/test_baselines.py --force-regen --device {device.type}")
    return device.type


@pytest.mark.parametrize("table", list(TABLES))
def test_trajectories_match_the_baseline(table, results, baseline_device, num_regression, request):
    """Every column of `table` lies within its measured tolerance of the committed baseline."""
    data = build(table, results)
    check_baseline(num_regression, request, data, f"{table}_{baseline_device}", tolerances(table, data))


# Planted changes: one stored trajectory scaled by (1 + change) must fail its comparison, and the real one
# pass. Sensing trajectories are caught at 1%; the MLP's late epochs carry SGD's amplified rounding, so a 0.2%
# change to its arithmetic is caught in the first batches of epoch 1, where machines differ by rounding only.
PLANTED = [("sensing_10dr_steps", "a1e-3_distance", 0.01), ("sensing_10dr_steps", "exact_distance", 0.01),
           ("sensing_5dr_steps", "a1e-5_sv1", 0.01), ("sensing_10dr_quantities", "p2.rate_ratio_top_r_1", 0.01),
           ("threshold_quantities", "small_alpha_rel_distance", 0.01), ("mlp_epochs", "train_nll", 0.01),
           ("mlp_first_batches", "grad_norm_l1", 0.002), ("mlp_first_batches", "loss", 0.002),
           ("threshold_quantities", "projected_rel_distance", 0.01), ("nuclear_quantities", "rel_distance_to_x_star_5", 0.01),
           ("recovery_quantities", "median_failed_rel_distance", 0.01)]


@pytest.mark.parametrize("table, column, change", PLANTED)
def test_a_planted_change_to_a_trajectory_fails_the_comparison(table, column, change, results, baseline_device,
                                                               num_regression, request):
    if _regenerating(request.config):
        pytest.skip("--force-regen/--regen-all would store the planted change as the baseline")
    data = build(table, results)
    expected = f"{table}_{baseline_device}"
    check_baseline(num_regression, request, data, expected, tolerances(table, data))  # the real one passes
    planted = {**data, column: data[column] * (1 + change)}
    with pytest.raises(AssertionError, match=re.escape(column)) as failure:
        num_regression.check(planted, basename=expected, tolerances=tolerances(table, planted))
    assert "Values are not sufficiently close" in str(failure.value)
    # only the planted column is reported
    assert not [c for c in data if c != column and re.search(rf"obtained_{re.escape(c)}\b", str(failure.value))]


def test_a_two_per_mille_change_to_the_mlp_arithmetic_is_caught_in_its_first_batches(
        results, baseline_device, num_regression, request):
    """Epoch 1 trained again passes the first-batches baseline; with every input pixel scaled by 1.002 it fails.

    A real change to the arithmetic (as a changed normalization constant would make), not one planted in the
    stored numbers; the 40-epoch curves could not tell it from another machine's rounding.
    """
    if _regenerating(request.config):
        pytest.skip("--force-regen/--regen-all would store the changed run as the baseline")
    import dataclasses

    import torch

    from core import train_mlp

    config = dataclasses.replace(bt.result_of(results, "mlp").config, epochs=1)
    data = results.mnist()
    expected = f"mlp_first_batches_{baseline_device}"
    before = torch.get_num_threads()
    torch.set_num_threads(config.threads(data.train_images.device) or before)  # as core.run trains
    try:
        again = bt.mlp_first_batches(train_mlp(config, data, data.train_images.device))
        scaled = dataclasses.replace(data, train_images=data.train_images * 1.002)
        changed = bt.mlp_first_batches(train_mlp(config, scaled, data.train_images.device))
    finally:
        torch.set_num_threads(before)
    check_baseline(num_regression, request, again, expected, tolerances("mlp_first_batches", again))
    with pytest.raises(AssertionError, match="grad_norm_l1") as failure:
        num_regression.check(changed, basename=expected, tolerances=tolerances("mlp_first_batches", changed))
    assert "Values are not sufficiently close" in str(failure.value)


def test_every_stored_column_has_a_measured_tolerance():
    """Each baseline file belongs to a table, and each of its columns to a rule with a measured spread."""
    import csv

    files = sorted(DATA_DIR.glob("*.csv"))
    assert files, f"no baselines in {DATA_DIR}"
    for path in files:
        table, device_class = path.stem.rsplit("_", 1)
        assert table in TABLES, f"{path.name}: no table {table!r} in TABLES (a stale baseline?)"
        with path.open(newline="") as handle:
            columns = next(csv.reader(handle))[1:]  # the first column is pandas' index
        for column in columns:
            rule = tolerance_for(table, column)
            assert rule.spread and "TBD" not in rule.spread, f"{path.name}:{column}: tolerance without a measured spread"


def test_tolerances_cover_their_measured_spread_with_the_stated_safety_factor():
    """Each measured rule's governing tolerance is at least SAFETY times the spread it was set from."""
    for rule in TOLERANCES:
        if rule.measured is None:
            continue
        governing = rule.rtol if rule.rtol > 0 else rule.atol
        assert governing >= SAFETY * rule.measured, (
            f"{rule.table}/{rule.columns}: tolerance {governing:g} is under {SAFETY:g} x "
            f"the measured {rule.measured:g}")


def test_no_tolerance_exceeds_the_value_it_pins():
    """A tolerance at least as large as the stored value lets the comparison pass a value of 0 (or of either sign):
    such a column pins nothing. Every stored value must exceed its column's atol, and rtol must stay below 1.
    Values at a rounding floor are stored clipped at it and compared with atol = the floor, so they meet this
    rule as "at the floor" (equal) rather than by a margin; integers compared exactly (atol 0) pass trivially."""
    import pandas

    loose = []
    for path in sorted(DATA_DIR.glob("*.csv")):
        table = path.stem.rsplit("_", 1)[0]
        for column, values in pandas.read_csv(path, index_col=0).items():
            rule = tolerance_for(table, column)
            values = values.to_numpy(dtype=float)
            if rule.spread.startswith("floor"):  # a signed value at its floor is stored as 0
                values = values[values != 0]
            if rule.spread.startswith("one step"):  # a crossing step moves by whole steps, 0 included
                continue
            smallest = float(np.min(np.abs(values))) if len(values) else math.inf
            if rule.rtol >= 1 or (rule.atol > 0 and smallest < rule.atol * (1 - 1e-12)):
                loose.append(f"{path.name}:{column} atol {rule.atol:g} rtol {rule.rtol:g}, smallest |value| {smallest:.3g}")
    assert not loose, "tolerances as large as the values they pin:\n" + "\n".join(loose)
