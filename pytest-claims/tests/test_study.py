"""Seed studies (`pytest-claims study`): every seed's suite run once, resumed from its reports, and summarized."""

import json
import sys

import pytest

from pytest_claims import _study
from pytest_claims.__main__ import main

CONFTEST = '''
import pytest

def pytest_addoption(parser):
    parser.addoption("--seed", type=int, default=0)

@pytest.fixture
def seed(request):
    from pytest_claims import report_progress

    report_progress(0, 2, "experiment")  # a stand-in for the experiments a real suite computes
    report_progress(2, 2, "experiment")
    return request.config.getoption("seed")
'''

SUITE = '''
import pytest

@pytest.mark.claim("Q1")
def test_quarter(claim, seed):
    """Seeds that are 3 mod 4 break it."""
    claim.check("x", (seed % 4) / 10, "<=", 0.25)

@pytest.mark.claim("Q2")
@pytest.mark.parametrize("k", [1, 2])
def test_always(claim, seed, k):
    """Always holds."""
    claim.check("y", k + seed, ">=", 1)
'''


@pytest.fixture
def suite(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_suite.py").write_text(SUITE)
    return _study.StudySpec(("test_suite.py",), str(tmp_path))


def test_the_study_counts_on_how_many_seeds_each_claim_held(suite, tmp_path):
    summary = _study.run_study(suite, [0, 1, 2, 3], tmp_path / "out", progress=lambda line: None)
    assert summary["seeds"] == [0, 1, 2, 3]
    assert (summary["claims"]["Q1"]["held"], summary["claims"]["Q1"]["not_held_on"]) == (3, [3])
    assert summary["claims"]["Q2"]["held"] == 4 and summary["claims"]["Q2"]["rate"] == 1.0
    values = summary["checks"]["Q1 test_quarter x"]["values"]
    assert values == {"0": 0.0, "1": 0.1, "2": 0.2, "3": 0.3}
    assert json.loads((tmp_path / "out" / "study.json").read_text()) == json.loads(json.dumps(summary))
    html = (tmp_path / "out" / "study.html").read_text()
    assert "3/4" in html and html.count("<circle") == 4 * 3  # one dot per seed and check


def test_processes_give_the_serial_study(suite, tmp_path):
    serial = _study.run_study(suite, [0, 1, 2, 3], tmp_path / "a", progress=lambda line: None)
    parallel = _study.run_study(suite, [0, 1, 2, 3], tmp_path / "b", "processes", 2, progress=lambda line: None)
    assert parallel == serial


def test_a_resumed_study_runs_only_the_seeds_it_lacks(suite, tmp_path):
    lines = []
    _study.run_study(suite, [0, 1], tmp_path / "out", progress=lines.append)
    (tmp_path / "out" / "seeds" / ".2.json.part").write_text("{")  # a seed killed while its report was written
    lines.clear()
    summary = _study.run_study(suite, [0, 1, 2, 3], tmp_path / "out", progress=lines.append)
    assert lines[0].endswith("4 seeds, 2 already done, 2 to run (serial)")
    seed_lines = [line for line in lines[1:] if line.startswith("seed ")]
    assert sorted(line.split()[1] for line in seed_lines) == ["2", "3"] and summary["seeds"] == [0, 1, 2, 3]


def test_progress_counts_seeds_and_the_units_each_run_reports(suite, tmp_path, monkeypatch):
    monkeypatch.setattr(_study, "PROGRESS_LINE_SECONDS", 0.0)
    lines = []
    _study.run_study(suite, [5, 6, 7], tmp_path / "out", progress=lines.append)
    seed_lines = [line for line in lines if line.startswith("seed ")]
    # Every seed reports 2 experiments, so each finished seed adds 2 to the count.
    assert [line.split(" (")[1].split(", ")[:2] for line in seed_lines] == [
        ["1/3 seeds", "2/~6 experiments"], ["2/3 seeds", "4/~6 experiments"], ["3/3 seeds", "6/6 experiments"]]


def test_a_late_report_does_not_move_a_finished_seed_back():
    lines = []
    tracker = _study.StudyProgress([1, 2], lines.append)
    tracker.update(1, 3, 4, "experiment")
    tracker.seed_done(1)
    tracker.update(1, 2, 4, "experiment")  # from a retried or slow reporter
    tracker.update(2, 1, 5, "experiment")
    assert tracker.units_line() == "5/9 experiments" and "4/~8 experiments" in lines[0]


def test_report_progress_is_a_no_op_outside_a_study(monkeypatch, tmp_path):
    monkeypatch.delenv(_study.PROGRESS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    _study.report_progress(1, 2)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv(_study.PROGRESS_ENV, str(tmp_path / "progress"))
    _study.report_progress(1, 2, "experiment")
    assert _study._last_progress(str(tmp_path / "progress")) == (1, 2, "experiment")
    with open(tmp_path / "progress", "a") as out:
        out.write("2 2 exp")  # a line still being written is not read
    assert _study._last_progress(str(tmp_path / "progress")) == (1, 2, "experiment")


def test_wilson_interval_matches_its_textbook_values():
    assert _study.wilson_interval(0, 0) == (0.0, 1.0)
    low, high = _study.wilson_interval(95, 100)
    assert (round(low, 4), round(high, 4)) == (0.8882, 0.9785)


def test_without_ray_the_command_says_how_to_install_it(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(SystemExit) as exit_:
        main(["study", "tests", "--seeds", "0-1", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "pip install" in capsys.readouterr().err


def test_bad_seeds_name_the_option():
    with pytest.raises(ValueError, match="--seeds 'a-b'"):
        _study.parse_seeds("a-b")
    assert _study.parse_seeds("3,1-2,3") == [1, 2, 3]


def test_a_band_checked_as_two_bounds_keeps_each_bound_and_its_failures():
    def report(value):
        checks = [{"name": "ratio", "op": ">=", "threshold": 0.8, "measured": value, "passed": value >= 0.8},
                  {"name": "ratio", "op": "<=", "threshold": 1.25, "measured": value, "passed": value <= 1.25}]
        return {"claims": [{"id": "B1", "nodeid": "t.py::test_band", "outcome": "passed" if value <= 1.25 else
                            "failed", "checks": checks}]}

    summary = _study.summarize({0: report(1.0), 1: report(1.3)})
    assert summary["claims"]["B1"]["not_held_on"] == [1]
    low, high = summary["checks"]["B1 test_band ratio >="], summary["checks"]["B1 test_band ratio <="]
    assert (low["threshold"], high["threshold"]) == (0.8, 1.25)
    assert high["values"] == {"0": 1.0, "1": 1.3}
