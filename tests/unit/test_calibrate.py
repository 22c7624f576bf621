"""The seed-study tool behind the claims' reference ranges (claims/_calibrate.py), on hand-made reports."""

import json

import pytest

from claims import _calibrate as cal


def _report(outcomes: dict[str, tuple[str, float]]) -> dict:
    """A claims report with one check per claim: id -> (outcome, measured)."""
    return {"claims": [{"id": claim_id, "outcome": outcome,
                        "checks": [{"name": "x", "op": "<=", "threshold": 1.0, "measured": value}]}
                       for claim_id, (outcome, value) in outcomes.items()]}


def _study(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    reports = {("calibration", 0): {"A": ("passed", 0.5), "B": ("passed", 0.2)},
               ("calibration", 1): {"A": ("passed", 0.7), "B": ("passed", 0.3)},
               ("held-out", 1000): {"A": ("passed", 0.6), "B": ("failed", 1.5)},
               ("held-out", 1001): {"A": ("passed", 0.9), "B": ("passed", 0.4)}}
    for (seed_set, seed), outcomes in reports.items():
        cal.report_path(tmp_path, seed_set, seed).write_text(json.dumps(_report(outcomes)))
    return tmp_path


def test_ranges_and_pass_counts_are_kept_per_seed_set(tmp_path):
    reports = cal._load(_study(tmp_path))
    table = cal.ranges(reports)
    a = table[cal.reference_key("A", "x", "<=", 1.0)]
    assert a["calibration"] == {"min": 0.5, "max": 0.7, "seeds": "0,1"}
    assert a["held-out"] == {"min": 0.6, "max": 0.9, "seeds": "1000,1001"}
    counts = cal.pass_counts(reports)
    assert counts["A"]["held-out"] == [2, 2, []]
    assert counts["B"]["calibration"] == [2, 2, []] and counts["B"]["held-out"] == [1, 2, [1000]]
    assert cal.describe(a) == "seeds 0,1: 0.5 to 0.7; held-out 1000,1001: 0.6 to 0.9"


def test_write_regenerates_the_references_and_the_study_page(tmp_path, monkeypatch):
    study = _study(tmp_path / "study")
    monkeypatch.setattr(cal, "REFERENCES", tmp_path / "references.json")
    monkeypatch.setattr(cal, "STUDY_DOC", tmp_path / "seed_study.md")
    monkeypatch.setattr(cal, "ROOT", tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("the README holds no generated table\n")
    cal.write(study)
    assert readme.read_text() == "the README holds no generated table\n"
    assert json.loads((tmp_path / "references.json").read_text()) == cal.ranges(cal._load(study))
    page = (tmp_path / "seed_study.md").read_text()
    assert "| B | 2/2 | 1/2 | 1000 (held-out) |" in page and "| A | 2/2 | 2/2 | - |" in page


def test_g5_check_names_of_every_seed_share_one_reference():
    assert cal.reference_key("G5", "seed1001.test_accuracy", ">=", 0.97) == \
        cal.reference_key("G5", "seed2003.test_accuracy", ">=", 0.97) == "G5 seed*.test_accuracy >= 0.97"


@pytest.mark.parametrize("spec, seeds", [("0-3", [0, 1, 2, 3]), ("2", [2]), ("0,5-6", [0, 5, 6])])
def test_seed_lists_parse(spec, seeds):
    assert cal._seeds(spec) == seeds


def test_a_bad_seed_list_names_the_option(capsys):
    with pytest.raises(SystemExit):
        cal.main(["run", "--out", "x", "--seeds", "zero-nine"])
    assert "--seeds/--held-out: 'zero-nine'" in capsys.readouterr().err


def test_an_empty_study_folder_is_an_error_not_an_empty_table(tmp_path):
    with pytest.raises(SystemExit, match="no calibration-N.json"):
        cal.write(tmp_path)
