"""MNIST for real: a fetch killed midway in a child process, and the verified copy the claims load."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.mlp import RAW_FILES, load_mnist, locate_mnist
from tests._support import fake_mnist as fake

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def test_fetch_killed_midway_leaves_no_half_file_and_the_next_run_completes(tmp_path, fake_mnist_source,
                                                                             fake_mnist_cache):
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-m", "tests._support.mnist_child", "--hang-after-first-chunk",
                              str(ready)], cwd=REPO, env=os.environ.copy(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert child.poll() is None, child.communicate()[1].decode()
            assert time.monotonic() < deadline, "the child never reached the middle of the fetch"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    cache = fake_mnist_cache
    raw = cache / "MNIST" / "raw"
    # The kill left litter (so this test can fail), but no file under a final name.
    assert [p.name for p in raw.iterdir() if p.name.endswith(".part")], "the fetch was not interrupted mid-file"
    assert not any((raw / name).exists() for name in RAW_FILES)
    assert locate_mnist() == cache
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == fake.PAYLOADS
    assert sorted(p.name for p in cache.iterdir()) == [".mnist.lock", "MNIST"]


def test_normalization_matches_the_original_notebook(real_mnist):
    """The training mean, computed in float64, reproduces the value the original notebook printed."""
    data = load_mnist(real_mnist)
    # Not the notebook's bits (another program computed it): the float64 sum of the 47M integer pixels is exact
    # (below 2^53) whatever the order, so our mean and the notebook's each carry at most the two roundings of
    # the divisions, 2^-53 relative apiece; rel 4 * 2^-53 covers both sides, and a wrong mean (another pixel
    # count, a float32 sum) misses it by far more.
    assert data.mean == pytest.approx(0.1306604762738429, rel=4 * 2.0 ** -53, abs=0)
    assert data.train_images.shape == (60_000, 784) and data.test_images.shape == (10_000, 784)
    assert abs(data.train_images.mean().item()) < 1e-5 and abs(data.train_images.std().item() - 1) < 1e-4
