"""The fixture-to-experiment map (claims/_experiment_map.py) against the collected claims, in this process."""

from pathlib import Path

import pytest

from claims._experiment_map import READS, group_of, names_read, params_of, provide, sources_of
from claims.conftest import experiments_needed
from core import claim_experiments

REPO = Path(__file__).resolve().parents[2]
NAMES = list(claim_experiments(0))


@pytest.fixture(scope="module")
def items():
    """The claims' collected test items (a collect-only session of claims/, run in this process)."""
    collected = []

    class Keep:
        def pytest_collection_finish(self, session):
            collected.extend(session.items)

    assert pytest.main([str(REPO / "claims"), "--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[Keep()]) == 0
    return collected


def _needed(items) -> set[str]:
    return set().union(*(experiments_needed(item, NAMES) for item in items))


def test_a_full_run_reads_every_experiment_of_the_catalogue(items):
    """A fixture added without an entry in READS would leave its experiment out of the computed-ahead set."""
    assert _needed(items) == set(NAMES)


def test_a_selection_reads_only_its_own_experiments(items):
    nuclear = [item for item in items if "nuclear" in item.nodeid]
    assert nuclear and _needed(nuclear) == {"nuclear"}
    trainability = [item for item in items if "trainability" in item.nodeid]
    assert _needed(trainability) == {f"depth-train-{i}-{d}" for i in ("pytorch", "he") for d in (3, 10)}


def test_each_test_reading_experiments_has_one_xdist_group(items):
    for item in items:
        groups = [mark.args[0] for mark in item.iter_markers("xdist_group")]
        sources = sources_of(item)
        assert groups == ([group_of(sources[0], params_of(item))] if sources else []), item.nodeid


def test_every_fixture_of_the_map_exists_and_reads_the_catalogue(items):
    import claims.conftest as conftest

    assert all(callable(getattr(conftest, source, None)) for source in READS)
    assert names_read("threshold_runs", {}, NAMES) == [n for n in NAMES if n.startswith("threshold-")]
    assert names_read("sensing", {"m_factor": 5}, NAMES) == ["sensing-5dr"]


def test_provide_shapes_one_result_a_list_or_a_mapping_by_m_per_dr():
    from types import SimpleNamespace

    results = {name: SimpleNamespace(name=name, config=SimpleNamespace(m_per_dr=float(name.split("-")[-1][:-2])))
               for name in ("sensing-10dr", "sensing-5dr", "threshold-2dr", "threshold-10dr")}
    results.update({"mlp": SimpleNamespace(name="mlp"), "mlp-g5-1": "g1", "mlp-g5-2": "g2"})
    assert provide("mlp_history", {}, results, results.get).name == "mlp"
    assert provide("claim_seed_histories", {}, results, results.get) == ["g1", "g2"]
    assert provide("sweeps", {}, results, results.get).keys() == {10, 5}
    assert list(provide("threshold_runs", {}, results, results.get)) == [2, 10]
