"""Numeric baselines: every trajectory the claims and figures use, compared with committed CSV files.

The claims are qualitative, so a change that moves the numbers by a few percent would pass unseen while
the findings still hold. These tests see that drift: for the baseline seed (0) on the CPU, each table of
claims/_baseline_tables.py (per-epoch MLP curves, sensing trajectories at every 25th step and the last,
escape steps, the G1-G3, P1-P4 evidence) is compared column by column with
claims/test_baselines/<table>_<device class>.csv through pytest-regressions' ``num_regression``.

Regenerate (after a change that is meant to move the numbers; review the CSV diff before committing):

    pytest claims/test_baselines.py --force-regen

--force-regen rewrites only the files whose comparison fails, and those tests fail once to say so; the
next run passes. A normal run never writes into claims/test_baselines/ (pytest-regressions compares in a
temporary copy). Baselines belong to a device class: on CUDA the comparisons use the *_cuda.csv files when
they exist and skip otherwise, never a widened tolerance. Another seed skips: its numbers are not these.

Tolerances (TOLERANCES below) come from measured spreads, claims/_baseline_spread.py, between the seed-0
runs under torch 2.14.1 with 1 thread (twice, in separate processes), with 2 threads, and torch 2.9.1
with 1 thread, all on this project's 2-core CPU machine. The spread written beside each tolerance is the
largest relative difference over those runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from claims import _baseline_tables as bt

BASELINE_SEED = 0
DATA_DIR = Path(__file__).with_suffix("")  # pytest-regressions' default datadir: claims/test_baselines/


class Tolerance(NamedTuple):
    """np.isclose(obtained, stored, rtol, atol) per entry; `spread` is what was measured."""

    table: str  # regular expression, full match on the table name
    columns: str  # regular expression, full match on the column name
    rtol: float
    atol: float
    spread: str


# The first rule whose table and column patterns match a column applies; a column no rule matches is an error.
# rtol/atol are about 10x the largest measured difference (never below 1e-12 relative: the floor of float64
# sums re-associated across kernels); "bitwise" means every run produced identical bits.
TOLERANCES: tuple[Tolerance, ...] = (
    # --- integers: steps, epochs, counts and flags compare exactly (num_regression compares ints with !=)
    Tolerance(r".*", r"epoch|step|alpha|m|m_per_dr|below_m_psd", 0, 0, "bitwise"),
    Tolerance(r"sensing_.*_escape_steps", r"s5_escape_step|p3_t\d+", 0, 0, "bitwise (integer steps)"),
    Tolerance(r".*", r".*(window_\d|escape_order_violations|bound_orders_layers_like_g2)", 0, 0, "bitwise"),
    # --- TBD: filled from the measured spreads
    Tolerance(r".*", r".*", 1e-12, 0, "TBD"),
)


def tolerance_for(table: str, column: str) -> Tolerance:
    for rule in TOLERANCES:
        if re.fullmatch(rule.table, table) and re.fullmatch(rule.columns, column):
            return rule
    raise LookupError(f"no tolerance for column {column!r} of table {table!r}: add a rule to TOLERANCES")


def tolerances(table: str, data: dict) -> dict[str, dict[str, float]]:
    """num_regression's per-column tolerances for one table."""
    return {column: {"rtol": (rule := tolerance_for(table, column)).rtol, "atol": rule.atol} for column in data}


#: table name -> the experiment it is built from and its builder (all in claims/_baseline_tables.py)
TABLES = {"mlp_epochs": ("mlp", bt.mlp_epochs), "mlp_quantities": ("mlp", bt.mlp_quantities)}
for _experiment in bt.SENSING_EXPERIMENTS:
    _stem = _experiment.replace("-", "_")
    TABLES.update({f"{_stem}_steps": (_experiment, bt.sensing_steps),
                   f"{_stem}_escape_steps": (_experiment, bt.sensing_escape_steps),
                   f"{_stem}_quantities": (_experiment, bt.sensing_quantities)})
TABLES["threshold_quantities"] = ("threshold", bt.threshold_quantities)


def build(table: str, results) -> dict[str, np.ndarray]:
    experiment, builder = TABLES[table]
    source = bt.threshold_runs_of(results) if experiment == "threshold" else results[experiment]
    return builder(source)


def _regenerating(config) -> bool:
    return bool(config.getoption("force_regen") or config.getoption("regen_all"))


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
def test_trajectories_match_the_baseline(table, results, baseline_device, num_regression):
    """Every column of `table` lies within its measured tolerance of the committed baseline."""
    data = build(table, results)
    num_regression.check(data, basename=f"{table}_{baseline_device}", tolerances=tolerances(table, data))


# Planted changes: one stored trajectory scaled by 1.01 must fail its comparison, and the real one pass.
PLANTED = [("sensing_10dr_steps", "a1e-3_distance"), ("sensing_5dr_steps", "a1e-5_sv1"),
           ("mlp_epochs", "test_nll")]


@pytest.mark.parametrize("table, column", PLANTED)
def test_a_one_percent_change_to_a_trajectory_fails_the_comparison(table, column, results, baseline_device,
                                                                   num_regression, request):
    if _regenerating(request.config):
        pytest.skip("--force-regen/--regen-all would store the planted change as the baseline")
    data = build(table, results)
    expected = f"{table}_{baseline_device}"
    num_regression.check(data, basename=expected, tolerances=tolerances(table, data))  # the real one passes
    planted = {**data, column: data[column] * 1.01}
    with pytest.raises(AssertionError, match=re.escape(column)) as failure:
        num_regression.check(planted, basename=expected, tolerances=tolerances(table, planted))
    assert "Values are not sufficiently close" in str(failure.value)
    # only the planted column is reported
    assert not [c for c in data if c != column and f"obtained_{c}" in str(failure.value)]


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
