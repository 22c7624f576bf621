"""The command lines as a shell runs them: a real process's exit status and stderr, Ctrl-C, and a run on the real
MNIST (bad command lines, in this process: tests/unit/test_cli.py)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.__main__ import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_usage_error_in_a_real_process(tmp_path):
    """The exit status and stderr a shell sees, with the worktree's own core imported."""
    done = subprocess.run([sys.executable, "-m", "core", "run", "sensing", "--eta", "-1", "--out", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "python -m core: error: eta must be a positive finite number, got -1.0")


def test_mlp_divergence_is_an_error_not_a_nan_curve(tmp_path, capsys, real_mnist):
    """On the real MNIST (main in this process): a diverged run exits 1 with one line naming where, and no result."""
    argv = ["run", "mlp", "--hidden-sizes", "8", "--epochs", "1", "--lr", "1e6", "--out", str(tmp_path),
            "--mnist-root", str(real_mnist)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "MLP training diverged" in err and "epoch 1, batch" in err and "loss=nan" in err
    assert not (tmp_path / "mlp.npz").exists()


def test_ctrl_c_exits_130_without_a_traceback_or_half_file(tmp_path):
    err_path = tmp_path / "stderr"
    with open(err_path, "w") as err:
        # A shell's background jobs ignore SIGINT, and Python keeps an ignored SIGINT ignored: restore it.
        child = subprocess.Popen([sys.executable, "-m", "core", "run", "sensing", "--d", "40", "--r", "2",
                                  "--steps", "500000", "--alphas", "1e-3", "--out", str(tmp_path / "out")],
                                 cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 120
            while "step" not in err_path.read_text():  # the progress line: GD is running
                assert child.poll() is None and time.monotonic() < deadline, err_path.read_text()
                time.sleep(0.1)
            child.send_signal(signal.SIGINT)
            assert child.wait(timeout=60) == 130
        finally:
            child.kill()
            child.wait()
    text = err_path.read_text()
    assert "Traceback" not in text
    assert "\ninterrupted: outputs are written atomically" in text  # on a line of its own, past the progress bar
    assert list((tmp_path / "out").iterdir()) == []
