"""docs/claims.md is generated from the claim modules, their BOUNDS tables and claims/references.json."""

import types

import pytest

from claims import _claims_doc
from pytest_claims import Bound


def test_the_committed_claims_page_is_what_the_command_writes():
    assert _claims_doc.DOC.is_file(), f"{_claims_doc.DOC} is missing: python -m claims._claims_doc"
    assert _claims_doc.DOC.read_text() == _claims_doc.render(), \
        f"{_claims_doc.DOC} is stale: python -m claims._claims_doc"


def _planted_module() -> types.ModuleType:
    """A claim module with one claim (Z9) and one BOUNDS entry, as the real ones are written."""
    module = types.ModuleType("claims.test_planted", "Problem Z: a planted problem.")

    @pytest.mark.claim("Z9", source="Planted et al. 2031 (Sec. 7)")
    def test_planted(claim):
        """The planted quantity stays below a quarter.

        Further paragraphs are not part of the statement."""

    module.test_planted = test_planted
    module.BOUNDS = {("Z9", "planted_ratio"): (Bound("<=", 0.25, note="a planted note"),)}
    return module


def test_a_planted_claim_renders_its_id_source_statement_and_bound():
    references = {"Z9 planted_ratio <= 0.25": {"calibration": {"min": 0.1, "max": 0.2, "seeds": "0-9"}}}
    page = _claims_doc.render([_planted_module()], references, study=None)
    assert "## Problem Z: a planted problem" in page
    assert "| Z9 | Planted et al. 2031 (Sec. 7) | The planted quantity stays below a quarter. |" in page
    assert "| `planted_ratio` | <= 0.25 | a planted note | 0.1 to 0.2 (0-9) | - |" in page
    assert "Further paragraphs" not in page


def test_the_check_option_fails_on_a_stale_page(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_claims_doc, "DOC", tmp_path / "claims.md")
    monkeypatch.setattr(_claims_doc, "ROOT", tmp_path)
    monkeypatch.setattr(_claims_doc, "render", lambda: "fresh\n")
    (tmp_path / "claims.md").write_text("stale\n")
    assert _claims_doc.main(["--check"]) == 1 and "stale" in capsys.readouterr().err
    assert _claims_doc.main([]) == 0 and _claims_doc.main(["--check"]) == 0


def test_the_pass_counts_come_from_the_seed_study_page(tmp_path):
    from claims import _calibrate as cal

    report = {"claims": [{"id": "Z9", "outcome": "passed", "checks": []}]}
    study = tmp_path / "seed_study.md"
    study.write_text(cal.study_markdown({"calibration": {0: report}, "held-out": {1000: report}}, {}))
    header = "| claim | calibration seeds passed | held-out seeds passed | failed on |"
    assert _claims_doc.pass_counts(study) == [header,
                                              "|---|---|---|---|", "| Z9 | 1/1 | 1/1 | - |"]
