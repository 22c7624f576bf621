"""Same bits on 1 and 2 threads under MKL's strict mode: a setting read at startup, so each count runs in a child."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.bitwise
@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="MKL_CBWR is an MKL setting")
def test_with_mkl_strict_mode_one_and_two_threads_give_the_same_bits():
    """MKL_CBWR=AVX2,STRICT (Intel's strict conditional numerical reproducibility) fixes sgemm's order, and the
    compiled training record sums on one thread in a fixed order: every field of the MLP's result is bitwise."""
    children = {}
    for threads in (1, 2):
        done = subprocess.run([sys.executable, "-m", "tests._support.determinism_child", str(threads), "mlp"],
                              cwd=REPO, env={**os.environ, "MKL_CBWR": "AVX2,STRICT"}, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        children[threads] = json.loads(done.stdout.strip().splitlines()[-1])
        assert children[threads].pop("threads") == threads
    different = sorted(name for name in children[1] if children[1][name] != children[2][name])
    assert not different, f"1 and 2 threads differ bitwise in {different}"
    assert len(children[1]) >= 8
