"""Bad command lines get exit status 2 and one line naming the offending value, never a traceback; `main` called in
this process (in a real one, and Ctrl-C: tests/integration/test_cli.py)."""

import pytest

from core.__main__ import main

TINY_SENSING = ["run", "sensing", "--d", "6", "--r", "1", "--m", "30", "--steps", "5", "--alphas", "1e-3"]


#: (argv, text the error line must contain); {tmp} is the test's directory, {file} a plain file in it
BAD_CASES = [
        (["run", "mlp", "--seed", "1.5"], "'1.5'"),
        (["figures", "--seed", "abc"], "'abc'"),
        (["run", "mlp", "--epochs", "0"], "epochs must be a positive integer, got 0"),
        (["run", "mlp", "--epochs", "-3"], "got -3"),
        (["run", "mlp", "--lr", "nan"], "lr must be a positive finite number, got nan"),
        (["run", "mlp", "--lr", "inf"], "got inf"),
        (["run", "mlp", "--lr", "-0.1"], "got -0.1"),
        (["run", "mlp", "--batch-size", "0"], "batch_size must be a positive integer, got 0"),
        (["run", "mlp", "--hidden-sizes", ""], "got ''"),
        (["run", "mlp", "--hidden-sizes", "128,1.5"], "'128,1.5'"),
        (["run", "mlp", "--hidden-sizes", "128,0"], "(128, 0)"),
        (["run", "mlp", "--init", "xavier"], "unknown init 'xavier'"),
        (["run", "sensing", "--d", "0"], "d must be a positive integer, got 0"),
        (["run", "sensing", "--r", "-1"], "r must be a positive integer, got -1"),
        (["run", "sensing", "--m", "0"], "m must be a positive integer, got 0"),
        (["run", "sensing", "--d", "4", "--r", "5"], "rank r=5 exceeds d=4"),
        (["run", "sensing", "--d", "4.5"], "'4.5'"),
        (["run", "sensing", "--steps", "0"], "steps must be a positive integer, got 0"),
        (["run", "sensing", "--eta", "0"], "eta must be a positive finite number, got 0.0"),
        (["run", "sensing", "--eta", "nan"], "got nan"),
        (["run", "sensing", "--alphas", "1e-3,-1"], "alpha must be a positive finite number, got -1.0"),
        (["run", "sensing", "--alphas", "1e-3,inf"], "got inf"),
        (["run", "sensing", "--alphas", "1e-3,x"], "'1e-3,x'"),
        (["run", "sensing", "--hidden-sizes", "8"], "--hidden-sizes do not apply to sensing"),
        (["run", "mlp", "--d", "8"], "--d do not apply to mlp"),
        (["run", "sensing-10dr", "--steps", "5"], "--steps do not apply to sensing-10dr"),
        (["run", "no-such-experiment"], "unknown experiment 'no-such-experiment'"),
        (["run", "mlp", "--device", "meta"], "device 'meta' is not usable here"),
        (["run", "mlp", "--device", "cuda:99"], "device 'cuda:99' is not usable here"),
        (["run", "mlp", "--device", "gpu"], "device 'gpu' is not usable here"),
        (["run", "mlp", "--mnist-root", "{tmp}/absent"], "--mnist-root {tmp}/absent: not a directory"),
        (["run", "mlp", "--out", "{file}"], "exists and is not a directory"),
        (["figures", "--out", "{file}/sub"], "not writable"),
        (["run", "mlp"], "--out"),
        (["frobnicate"], "'frobnicate'"),
]


@pytest.mark.parametrize("argv, needle", BAD_CASES, ids=[" ".join(argv) for argv, _ in BAD_CASES])
def test_bad_command_line_exits_2_with_one_line_naming_the_value(argv, needle, tmp_path, capsys):
    plain = tmp_path / "plain-file"
    plain.write_text("")
    argv = [a.format(tmp=tmp_path, file=plain) for a in argv]
    if "--out" not in argv and argv[0] in ("run", "figures") and needle != "--out":
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2, err
    assert "Traceback" not in err
    assert needle.format(tmp=tmp_path) in err.strip().splitlines()[-1], err


def test_nothing_runs_before_a_bad_option_is_rejected(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit):
        main([*TINY_SENSING, "--steps", "0", "--out", str(out)])
    assert list(out.iterdir()) == []


def test_a_tiny_run_writes_its_outputs(tmp_path, capsys):
    assert main([*TINY_SENSING, "--out", str(tmp_path)]) == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert {"sensing.npz", "sensing.json"} <= names and not any(n.endswith(".part") for n in names)
