"""docs/study_rates.md (claims._study_doc): rendered from the committed study data, a seed study's reports turned
into that data, and the kept seeds restored for a study to resume."""

import json

from claims import _study_doc

ENVIRONMENT = {"python": "3.11", "torch": "2.14.1", "device": "cpu", "machine": {"cpu_model": "Test CPU"}}


def _report(seed: int, accuracy: float, g5: float, outcome: str = "passed", torch: str = "2.14.1") -> dict:
    check = {"name": "test_accuracy", "op": ">=", "threshold": 0.97, "measured": accuracy}
    g5_check = {"name": f"seed{111000 + seed}.test_accuracy", "op": ">=", "threshold": 0.97, "measured": g5}
    experiments = {"mlp": {"loaded": False, "compute_seconds": 50.0 + seed % 10},
                   "nuclear": {"loaded": True, "compute_seconds": 14.0}}  # loaded: what it cost another run
    return {"environment": {**ENVIRONMENT, "torch": torch, "seed": seed, "experiments": experiments},
            "claims": [{"id": "G1", "nodeid": "claims/t.py::test_g1", "statement": "It learns.", "outcome": outcome,
                        "checks": [check]},
                       {"id": "G5", "nodeid": "claims/t.py::test_g5", "statement": "Again.", "outcome": "passed",
                        "checks": [g5_check]}]}


def _study(tmp_path, reports) -> object:
    (tmp_path / "out" / "seeds").mkdir(parents=True)
    for seed, report in reports.items():
        (tmp_path / "out" / "seeds" / f"{seed}.json").write_text(json.dumps(report))
    return tmp_path / "out"


def test_rates_failures_and_merged_g5_checks_are_rendered(tmp_path):
    out = _study(tmp_path, {1100: _report(1100, 0.975, 0.98), 1101: _report(1101, 0.96, 0.975, "failed"),
                            1102: _report(1102, 0.98, 0.99)})
    page = _study_doc.render(_study_doc.collect(_study_doc.import_study(out, "abc1234", {})))
    assert "**3 held-out seeds** (1100-1102)" in page and "seeds 1100-1102 at commit `abc1234`: torch 2.14.1" in page
    assert "| G1 | It learns. | 2/3 | 67% |" in page and "| 1101 |" in page
    assert "Claims held on fewer than 95% of the seeds: G1." in page
    # G5's per-seed check names merge into one row over its seeds
    assert "| G5 | `test_g5` | `seed*.test_accuracy` | >= 0.97 | 0.975 | 0.98 | 0.99 | 0/3 |" in page
    assert "| G1 | `test_g1` | `test_accuracy` | >= 0.97 | 0.96 | 0.975 | 0.98 | 1/3 |" in page
    assert "| mlp | 51.0 s | 50.0 s | 52.0 s |" in page and "| nuclear |" not in page
    # the seed where G1 did not hold, with the check that failed and its margin
    assert "| G1 | 1101 | `test_g1` | `test_accuracy` | 0.96 | >= 0.97 | 0.99 |" in page


def test_seeds_kept_from_one_run_are_resumed_and_another_runs_seeds_are_added(tmp_path, monkeypatch):
    monkeypatch.setattr(_study_doc, "SEEDS", tmp_path / "seeds.json.gz")
    monkeypatch.setattr(_study_doc, "DOC", tmp_path / "rates.md")
    first = _study(tmp_path / "a", {1100: _report(1100, 0.975, 0.98), 1101: _report(1101, 0.975, 0.98)})
    assert _study_doc.main(["import", str(first), "--commit", "aaa"]) == 0
    resumed = tmp_path / "b" / "out"
    assert _study_doc.main(["restore", str(resumed)]) == 0  # what a study on another machine starts from
    assert sorted(p.name for p in (resumed / "seeds").iterdir()) == ["1100.json", "1101.json"]
    (resumed / "seeds" / "1102.json").write_text(json.dumps(_report(1102, 0.98, 0.99, torch="2.9.1")))
    assert _study_doc.main(["import", str(resumed), "--commit", "bbb"]) == 0
    assert _study_doc.main(["--check"]) == 0
    page = (tmp_path / "rates.md").read_text()
    assert "**3 held-out seeds** (1100-1102)" in page and "| G1 | It learns. | 3/3 |" in page
    assert "seeds 1100-1101 at commit `aaa`: torch 2.14.1" in page and "seeds 1102 at commit `bbb`: torch 2.9.1" in page


def test_the_committed_page_is_fresh_and_the_check_catches_a_stale_one(tmp_path, monkeypatch, capsys):
    assert _study_doc.main(["--check"]) == 0  # the committed docs/study_rates.md renders its committed data
    monkeypatch.setattr(_study_doc, "DOC", tmp_path / "study_rates.md")
    (tmp_path / "study_rates.md").write_text("stale\n")
    assert _study_doc.main(["--check"]) == 1 and "stale" in capsys.readouterr().err
