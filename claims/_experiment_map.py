"""Which experiments each fixture, and each numeric baseline table, reads: the one place that says so.

The fixtures of claims/conftest.py, the experiments computed ahead of the tests, the xdist groups and the
baseline tables (claims/_baseline_tables.py) all derive from READS. Names are the catalogue's
(core.claim_experiments), formatted with the test's parameters; "prefix-*" reads every catalogue name with
that prefix, in catalogue order.

>>> names_read("sensing", {"m_factor": 5}, ["mlp", "sensing-10dr", "sensing-5dr"])
['sensing-5dr']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(frozen=True)
class Reads:
    """The experiments one source reads, the xdist group that keeps its tests on one worker, and its shape."""

    names: tuple[str, ...]
    group: str
    #: what the fixture gives, for its docstring (`pytest --fixtures`)
    doc: str = ""
    #: give {round(m / (d r)): result} instead of the result (one name) or the list of results (a pattern)
    by_m_per_dr: bool = False


READS: dict[str, Reads] = {
    "mlp_history": Reads(("mlp",), "mlp", "Problem 1 at paper scale for the base seed: [128, 128, 128], PyTorch "
                         "init, SGD lr 0.01, 40 epochs (core.MLPHistory)."),
    "claim_seed_histories": Reads(("mlp-g5-*",), "mlp-seeds", "The same MLP on G5's --claim-seeds held-out seeds "
                                  "(core.g5_seed), as a list."),
    "depth_probe": Reads(("depth-probe-{init}",), "depth-probe", "Gradient norms at initialization of width-128 "
                         "MLPs of each probed depth, for the test's `init`."),
    "depth_init_history": Reads(("depth-train-{init}-{depth}",), "depth-train", "A `depth`-hidden-layer, "
                                "width-128 MLP trained for 3 epochs from `init` (the test's parameters)."),
    "sensing": Reads(("sensing-{m_factor}dr",), "sensing-{m_factor}dr", "Problem 2 at paper scale: d=100, r=5, "
                     "m = m_factor * d * r, every alpha plus the exact run (core.SensingResult)."),
    "sweeps": Reads(("sensing-10dr", "sensing-5dr"), "sensing-10dr", "Both paper-scale sensing results, keyed by "
                    "m / (d r).", by_m_per_dr=True),
    "nuclear": Reads(("nuclear",), "nuclear", "d=30, r=2, m=90: GD from small and large alpha, and the convex "
                     "min-nuclear-norm interpolant."),
    "recovery": Reads(("recovery",), "recovery", "d=30, r=2: the min-trace SDP on 20 problems at each m in "
                      "(80, 95, 105, 115, 130) (core.RecoveryResult)."),
    "threshold_runs": Reads(("threshold-*",), "threshold", "The P1/P5 sweep over m at d=40, r=2, keyed by "
                            "m / (d r).", by_m_per_dr=True),
}


def reads(source: str) -> Reads:
    """A fixture's entry in READS, or a single catalogue name read as it is."""
    return READS.get(source) or Reads((source,), source)


def names_read(source: str, params: dict, catalogue: Iterable[str]) -> list[str]:
    """The catalogue names `source` reads for a test with these parameters."""
    catalogue = list(catalogue)
    names = []
    for pattern in reads(source).names:
        name = pattern.format(**params)
        if name.endswith("*"):
            names += [n for n in catalogue if n.startswith(name[:-1])]
        elif name in catalogue:
            names.append(name)
    return names


def group_of(source: str, params: dict) -> str:
    return reads(source).group.format(**params)


def provide(source: str, params: dict, catalogue: Iterable[str], get: Callable[[str], object]):
    """The value a fixture gives: one result, a list of results, or results keyed by m / (d r)."""
    entry = reads(source)
    results = [get(name) for name in names_read(source, params, catalogue)]
    if entry.by_m_per_dr:
        return {round(result.config.m_per_dr): result for result in results}
    single = len(entry.names) == 1 and not entry.names[0].endswith("*")
    return results[0] if single else results


def params_of(item) -> dict:
    """A collected test's parameters (empty when it has none)."""
    return dict(getattr(getattr(item, "callspec", None), "params", {}))


def sources_of(item) -> list[str]:
    """The READS sources a collected test uses: its fixtures, and the table's source for a baseline test."""
    sources = [name for name in item.fixturenames if name in READS]
    tables = getattr(getattr(item, "module", None), "TABLES", None)
    table = params_of(item).get("table")
    if "results" in item.fixturenames and tables is not None and table in tables:
        sources.append(tables[table][0])
    return sources
