"""A seed study counts experiments: `pytest claims` reports each experiment it reads, computed or loaded, to the
file a study names (pytest_claims.report_progress)."""

import torch

from claims.conftest import ExperimentResults
from core import ResultCache, SensingConfig
from pytest_claims._study import PROGRESS_ENV


def _reports(path):
    return [tuple(line.split()) for line in path.read_text().splitlines()]


def test_each_expected_experiment_is_counted_once_whether_computed_ahead_or_on_demand(tmp_path, monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV, str(tmp_path / "progress"))
    configs = {name: SensingConfig(d=6, r=1, m=40, alphas=(1e-2,), steps=5, seed=seed)
               for seed, name in enumerate(("a", "b", "c", "d"))}
    results = ExperimentResults(configs, torch.device("cpu"), None, ResultCache(tmp_path / "cache"))
    results.expect(["a", "b", "d"])  # "c" is read by no selected test: it is not counted
    results.get("a")
    results.get("a")
    results.get("c")
    results.compute_ahead(["a", "b", "d"], workers=2)
    assert _reports(tmp_path / "progress") == [(str(done), "3", "experiment") for done in range(4)]


def test_without_a_study_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    configs = {"a": SensingConfig(d=6, r=1, m=40, alphas=(1e-2,), steps=5)}
    results = ExperimentResults(configs, torch.device("cpu"), None, ResultCache(tmp_path / "cache"))
    results.expect(["a"])
    results.get("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]
