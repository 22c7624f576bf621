"""The bounds of a BOUNDS table (at_most, between, ...) and check_all, which checks a value against them."""

from __future__ import annotations

import functools
import json

from pytest_claims import Bound, Reference


def at_most(threshold: float, note: str | None = None) -> tuple[Bound, ...]:
    """value <= threshold."""
    return (Bound("<=", threshold, None, note),)


def below(threshold: float, note: str | None = None) -> tuple[Bound, ...]:
    """value < threshold."""
    return (Bound("<", threshold, None, note),)


def above(threshold: float, note: str | None = None) -> tuple[Bound, ...]:
    """value > threshold."""
    return (Bound(">", threshold, None, note),)


def at_least(threshold: float, note: str | None = None) -> tuple[Bound, ...]:
    """value >= threshold."""
    return (Bound(">=", threshold, None, note),)


def between(low: float, high: float, note: str | None = None) -> tuple[Bound, ...]:
    """low <= value <= high."""
    return (Bound(">=", low, None, note), Bound("<=", high, None, note))


def exactly(value: float, note: str | None = None) -> tuple[Bound, ...]:
    """value == the given one."""
    return (Bound("==", value, None, note),)


@functools.cache
def _references() -> dict:
    from claims._calibrate import REFERENCES

    return json.loads(REFERENCES.read_text()) if REFERENCES.exists() else {}


#: How far a value may sit outside the range measured on the seeds before it counts as drifted: rounding moves
#: the MLP's values across machines by up to 3e-3 relative (docs/baselines.md), and values at the float64
#: floor by multiples of 1e-15.
REFERENCE_RTOL, REFERENCE_ATOL = 1e-2, 1e-12


def reference(keys, op: str, threshold: float) -> Reference | None:
    """The range measured for one bound on every seed of the study (claims/references.json), over every
    (claim id, check name) in `keys` together, or None if the study has none of them."""
    from claims._calibrate import SETS, reference_key

    entries = [e for e in (_references().get(reference_key(c, n, op, threshold)) for c, n in keys) if e]
    parts = [entry[s] for entry in entries for s in SETS if s in entry]
    if not parts:
        return None
    seeds = sorted({entry[s]["seeds"] for entry in entries for s in SETS if s in entry})
    return Reference(min(p["min"] for p in parts), max(p["max"] for p in parts), "seeds " + " and ".join(seeds),
                     REFERENCE_RTOL, REFERENCE_ATOL)


def check_all(claim, name: str, value, bounds: tuple[Bound, ...], same_as: tuple[str, str] | None = None) -> None:
    """Check `value` against every bound of a BOUNDS entry.

    Each check carries the bound's note and the range measured on the calibration and held-out seeds, read from
    claims/references.json (written by `python -m claims._calibrate write`): a value that passes its threshold
    outside that range is reported as DRIFT. `same_as` (claim id, check name) names another check of the same
    quantity whose range counts too: G5 re-checks G1-G3 on other seeds.
    """
    keys = [(claim.id, name)] + ([same_as] if same_as else [])
    for op, threshold, _, note in bounds:
        claim.check(name, value, op, threshold, reference(keys, op, threshold), note=note)
