"""The machine provenance of a process started on torch's baseline kernels (ATEN_CPU_CAPABILITY, read at startup)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.experiments import bits_fingerprint

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]



def test_emulated_cpu_capability_changes_capability_and_fingerprint(clean_env):
    """ATEN_CPU_CAPABILITY=default (read by torch at startup, so in a child) makes torch use its baseline kernels."""
    code = "import json; from core.experiments import bits_fingerprint; print(json.dumps(bits_fingerprint('cpu')))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    emulated, here = json.loads(out.strip().splitlines()[-1]), bits_fingerprint("cpu")
    assert emulated["torch_cpu_capability"] == "DEFAULT" and emulated["env"] == {"ATEN_CPU_CAPABILITY": "default"}
    assert emulated != here
    if here["torch_cpu_capability"] != "DEFAULT":
        assert {k for k in here if here[k] != emulated[k]} == {"torch_cpu_capability", "env"}
