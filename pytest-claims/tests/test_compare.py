"""`pytest-claims compare`: the side-by-side table of claims reports, on small synthetic reports."""

import json

import pytest

from pytest_claims import _compare as compare_reports


def _report(torch_version, accuracy, outcome="passed", ratio=0.5, extra_claim=True):
    claims = [{"id": "G1", "nodeid": "claims/test_g.py::test_g1", "statement": "trains", "source": "handout",
               "params": {"seed": 0, "epochs": 40},
               "measured": {"curve": [1.0, 0.5], "band": {"min": 1.0, "max": 2.0}, "side": "below"},
               "checks": [{"name": "test_accuracy", "op": ">=", "threshold": 0.97, "measured": accuracy,
                           "passed": accuracy >= 0.97, "margin": accuracy / 0.97, "reference": "TBD"},
                          {"name": "ratio", "op": "<=", "threshold": 1.0, "measured": ratio, "passed": True,
                           "margin": 1 / ratio, "reference": None}],
               "outcome": outcome, "message": None, "duration_s": 1.0}]
    if extra_claim:
        claims.append({"id": "S1", "nodeid": "claims/test_s.py::test_s1[m=10dr]", "statement": "converges",
                       "source": None, "params": {"m": 5000}, "measured": {"rate": "nan"}, "checks": [],
                       "outcome": "skipped", "message": "not on this version", "duration_s": 0.0})
    return {"environment": {"python": "3.11.7", "torch": torch_version, "device": "cpu", "seed": 0},
            "claims": claims}


def _write(tmp_path, name, report):
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("| ")]


def test_side_by_side_values_verdicts_and_relative_differences(tmp_path):
    a = _write(tmp_path, "a.json", _report("2.14.1", 0.98))
    b = _write(tmp_path, "b.json", _report("2.9.1", 0.9801, ratio=0.5))
    out = tmp_path / "sub" / "table.md"
    assert compare_reports.main([str(a), str(b), "--out", str(out)]) == 0
    text = out.read_text()
    header, *rows = _rows(text)
    assert "torch 2.14.1" in header and "torch 2.9.1" in header and "rel. diff torch 2.9.1" in header
    verdict = next(r for r in rows if "**G1** seed=0, epochs=40" in r)
    assert "| passed | passed |" in verdict
    accuracy = next(r for r in rows if "| test_accuracy |" in r)
    cells = [c.strip() for c in accuracy.strip("|").split("|")]
    # reference 0.98, other 0.9801: 1.02e-4 apart, inside the check's headroom (0.98 - 0.97) / 0.98
    assert cells[2:] == ["0.98", "0.9801", "0.000102", f"{0.01 / 0.98:.3g}"]
    assert "⚠" not in accuracy
    # lists and dicts of measured values each get a row; strings compare by equality; NaN equals NaN
    for name in ("curve[0]", "curve[1]", "band.min", "band.max", "side", "rate"):
        row = next(r for r in rows if f"| {name} |" in r)
        assert "⚠" not in row
    assert "0 highlighted difference(s)." in text


def test_moves_beyond_tolerance_and_changed_verdicts_are_highlighted(tmp_path, capsys):
    a = _write(tmp_path, "a.json", _report("2.14.1", 0.98))
    b = _write(tmp_path, "b.json", _report("2.9.1", 0.96, outcome="failed", extra_claim=False))
    b_report = json.loads(b.read_text())
    b_report["claims"][0]["measured"]["curve"] = [1.0, 0.5006]  # 1.2e-3 > the default 1e-3
    b.write_text(json.dumps(b_report))
    assert compare_reports.main([str(a), str(b)]) == 0  # differences are shown, not an error without --exact
    text = capsys.readouterr().out
    rows = _rows(text)
    assert "**failed** ⚠" in next(r for r in rows if "**G1**" in r)
    assert "**0.0204** ⚠" in next(r for r in rows if "| test_accuracy |" in r)  # 2% > headroom 1.02%
    assert "**0.0012** ⚠" in next(r for r in rows if "| curve[1] |" in r)
    assert "⚠" not in next(r for r in rows if "| curve[0] |" in r)
    assert "| **absent** ⚠ |" in next(r for r in rows if "**S1**" in r)  # missing from one report
    assert "4 highlighted difference(s)." in text


def test_any_number_of_reports_and_repeated_versions(tmp_path):
    paths = [_write(tmp_path, f"r{k}.json", _report("2.14.1", 0.98 + k * 1e-3)) for k in range(3)]
    text = compare_reports.table([compare_reports.load(p) for p in paths], ["torch 2.14.1"] * 3)
    header = _rows(text)[0]
    assert "torch 2.14.1 (1)" in header and "rel. diff torch 2.14.1 (3)" in header
    row = next(r for r in _rows(text) if "| test_accuracy |" in r)
    assert len(row.strip("|").split("|")) == 2 + 3 + 2 + 1


def test_a_file_that_is_not_a_claims_report_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"benchmarks": []}))
    with pytest.raises(SystemExit) as exit_info:
        compare_reports.main([str(bad)])
    assert exit_info.value.code == 2
    assert "not a claims report" in capsys.readouterr().err


@pytest.mark.parametrize("value, reference, expected", [
    (1.0, 1.0, 0.0), (1.1, 1.0, pytest.approx(0.1)), ("nan", "nan", 0.0), ("nan", 1.0, float("inf")),
    (1.0, 0.0, float("inf")), ("below", "below", 0.0), ("below", "above", None), (True, True, 0.0)])
def test_relative_difference(value, reference, expected):
    assert compare_reports.relative_difference(value, reference) == expected


def test_exact_mode_accepts_identical_reports_and_names_a_changed_value(tmp_path):
    from pytest_claims import _compare as compare_reports

    report = {"environment": {"torch": "2.14.1"}, "claims": [
        {"id": "S1", "nodeid": "t.py::s1", "outcome": "passed", "params": {},
         "checks": [{"name": "rate", "op": "<=", "threshold": 1.0, "measured": 0.9}], "measured": {"p": [1.0, 2.0]}}]}
    changed = json.loads(json.dumps(report))
    changed["claims"][0]["measured"]["p"][1] = 2.0000001
    paths = []
    for name, data in (("a", report), ("b", report), ("c", changed)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(data))
    assert compare_reports.main([str(paths[0]), str(paths[1]), "--exact", "--out", str(tmp_path / "t.md")]) == 0
    assert compare_reports.differences(report, changed) == ["t.py::s1: p[1] 2.0 became 2.0000001"]
    assert compare_reports.main([str(paths[0]), str(paths[2]), "--exact", "--out", str(tmp_path / "t.md")]) == 1


def _machine(capability="AVX2", **env):
    return {"cpu_model": "AMD EPYC", "isa_level": "x86-64-v3", "torch_cpu_capability": capability,
            "mkl_version": "2024.2", "numba_target_cpu": "znver3", "env": env, "gpu": None, "probe_errors": {}}


def _environment_rows(text):
    """The Environment section's rows (after its header), as lists of cells."""
    if "## Environment" not in text:
        return []
    section = text.split("## Environment", 1)[1]
    return [[c.strip() for c in row.strip("|").split("|")] for row in _rows(section)[1:]]


def test_environment_fields_that_differ_are_shown_side_by_side(tmp_path):
    """A moved value comes with what changed: the differing machine fields, flattened, one row each."""
    a_report, b_report = _report("2.14.1", 0.98), _report("2.14.1", 0.96)
    a_report["environment"].update(machine=_machine(), kernel_path="numba",
                                   experiments={"mlp": {"loaded": False, "compute_seconds": 10.0}})
    b_report["environment"].update(machine=_machine("DEFAULT", ATEN_CPU_CAPABILITY="default"), kernel_path="numba",
                                   experiments={"mlp": {"loaded": False, "compute_seconds": 12.5}})
    a, b = _write(tmp_path, "a.json", a_report), _write(tmp_path, "b.json", b_report)
    out = tmp_path / "table.md"
    assert compare_reports.main([str(a), str(b), "--out", str(out)]) == 0
    text = out.read_text()
    assert text.index("highlighted difference(s)") < text.index("## Environment")  # below the claims table
    rows = _environment_rows(text)
    assert rows == [["machine.torch_cpu_capability", "AVX2", "DEFAULT"],
                    ["machine.env.ATEN_CPU_CAPABILITY", "absent", "default"]]
    # identical fields (cpu model, kernel path, torch) and timings are not listed
    assert not any(row[0] in ("machine.cpu_model", "kernel_path", "torch") or "compute_seconds" in row[0]
                   for row in rows)


def test_identical_environments_give_no_environment_section(tmp_path):
    reports = [_report("2.14.1", 0.98), _report("2.14.1", 0.97)]
    for report in reports:
        report["environment"]["machine"] = _machine()
    text = compare_reports.table(reports, ["a", "b"])
    assert "## Environment" not in text and _environment_rows(text) == []
    assert compare_reports.environment_differences(reports) == []


def test_older_reports_without_machine_still_compare(tmp_path):
    """A report from before the machine field compares as before; its missing fields read "absent"."""
    old, new = _report("2.9.1", 0.98), _report("2.14.1", 0.98)
    new["environment"]["machine"] = _machine()
    paths = [_write(tmp_path, "old.json", old), _write(tmp_path, "new.json", new)]
    out = tmp_path / "table.md"
    assert compare_reports.main([str(p) for p in paths] + ["--out", str(out)]) == 0
    rows = _environment_rows(out.read_text())
    assert ["torch", "2.9.1", "2.14.1"] in rows
    assert ["machine.torch_cpu_capability", "absent", "AVX2"] in rows
    both_old = compare_reports.table([old, _report("2.14.1", 0.98)], ["a", "b"])
    assert _environment_rows(both_old) == [["torch", "2.9.1", "2.14.1"]]


def test_the_console_command_reports_a_bad_file_in_a_real_process(tmp_path):
    """`python -m pytest_claims compare` (the `pytest-claims compare` script) exits 2 naming a bad file."""
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    done = subprocess.run([sys.executable, "-m", "pytest_claims", "compare", str(bad)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and "not a claims report" in done.stderr
