"""The machine provenance (core.machine, core.experiments.bits_fingerprint): what the claims report records and what
keys the result cache (a CPU capability set at startup, in a child: tests/integration/test_provenance.py)."""

import json

import pytest
import torch

from core import MLPConfig, ResultCache, SensingConfig, machine
from core.experiments import (
    _provenance,
    bits_fingerprint,
    experiment_spec,
    isa_level,
    kernel_path,
)

MACHINE_KEYS = {"cpu_model", "cpu_vendor", "isa_level", "torch_cpu_capability", "torch_blas", "torch_lapack",
                "mkl_version", "mkl_available", "numpy_blas", "numpy_blas_version", "numba_version",
                "numba_target_cpu", "env", "gpu", "probe_errors"}
BITS_KEYS = {"cpu_model", "isa_level", "torch_cpu_capability", "numba_target_cpu", "blas", "env", "kernel_path"}



def test_machine_has_the_documented_keys_and_is_plain_json(clean_env):
    info = machine()
    assert set(info) == MACHINE_KEYS
    assert json.loads(json.dumps(info)) == info  # it goes into the JSON report as it is
    assert info["env"] == {} and info["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    # every probe works here; numpy < 1.26 has no show_config(mode="dicts") and so no BLAS name
    assert set(info["probe_errors"]) <= ({"numpy_blas"} if info["numpy_blas"] is None else set()), info
    assert (info["gpu"] is None) == (not torch.cuda.is_available())
    if info["gpu"] is not None:
        assert {"name", "compute_capability", "cuda", "driver", "cudnn"} <= set(info["gpu"])


def test_a_failing_probe_gives_none_and_its_reason(clean_env):
    def broken():
        raise RuntimeError("no capability here")

    clean_env.setattr(torch.backends.cpu, "get_cpu_capability", broken)
    info = machine()
    assert info["torch_cpu_capability"] is None
    assert info["probe_errors"]["torch_cpu_capability"] == "RuntimeError: no capability here"
    assert bits_fingerprint("cpu")["torch_cpu_capability"] is None


def test_bits_fingerprint_has_the_documented_keys(clean_env):
    bits = bits_fingerprint("cpu")
    assert set(bits) == BITS_KEYS and bits["env"] == {}
    assert bits["kernel_path"] == kernel_path("cpu") in ("numba", "torch")
    clean_env.setenv("OMP_NUM_THREADS", "1")  # thread counts are reported but do not change the bits
    assert machine()["env"] == {"OMP_NUM_THREADS": "1"} and bits_fingerprint("cpu") == bits


def test_kernel_path_follows_the_backend_choice(clean_env):
    assert kernel_path("cpu", torch.float32) == "torch"  # the fused passes are for float64 iterates
    clean_env.setenv("SENSING_BACKEND", "torch")
    assert kernel_path("cpu") == "torch"
    clean_env.setenv("SENSING_BACKEND", "no-such-pass")
    assert kernel_path("cpu").startswith("unresolved: ")  # named, not raised


@pytest.mark.parametrize("flags, level", [
    (set(), "x86-64"),
    ({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}, "x86-64-v2"),
    ({"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3", "avx", "avx2", "bmi1", "bmi2", "f16c",
      "fma", "abm", "movbe", "xsave", "avx512f"}, "x86-64-v3"),  # avx512f alone is not v4
])
def test_isa_level_from_flags(flags, level):
    if isa_level(set()) != "x86-64":
        pytest.skip("not an x86-64 machine")
    assert isa_level(flags) == level


def test_numba_target_change_changes_the_fingerprint(clean_env):
    before = bits_fingerprint("cpu")
    clean_env.setenv("NUMBA_CPU_NAME", "generic")
    after = bits_fingerprint("cpu")
    assert after["numba_target_cpu"] == "generic" and after["env"] == {"NUMBA_CPU_NAME": "generic"}
    assert after != before


def test_experiment_spec_changes_with_the_machine(clean_env):
    """The cache key carries the fingerprint, so a result from another (emulated) CPU is not loaded."""
    for config in (SensingConfig(d=8, r=1, m=40), MLPConfig()):
        spec = experiment_spec(config, "cpu", "code")
        assert spec["machine"] == bits_fingerprint("cpu") and ResultCache(enabled=False).key(spec)  # plain data
        clean_env.setenv("NUMBA_CPU_NAME", "generic")
        assert experiment_spec(config, "cpu", "code") != spec
        clean_env.delenv("NUMBA_CPU_NAME")
    assert experiment_spec(SensingConfig(dtype="float32"), "cpu", "code")["machine"]["kernel_path"] == "torch"


def test_cuda_fields_without_a_gpu(clean_env):
    """The CUDA branch, with torch.cuda's answers stubbed: machine() has the GPU, a CUDA fingerprint names it."""
    cuda = torch.cuda
    for name, value in [("is_available", lambda: True), ("current_device", lambda: 0),
                        ("get_device_capability", lambda index: (9, 0)), ("get_device_name", lambda index: "H100")]:
        clean_env.setattr(cuda, name, value)
    clean_env.setattr(_provenance, "_driver_version", lambda: "580.00")
    _provenance._gpu.cache_clear()
    try:
        gpu = machine()["gpu"]
        bits = bits_fingerprint("cuda")
    finally:
        _provenance._gpu.cache_clear()
    assert gpu == {"name": "H100", "compute_capability": "9.0", "cuda": torch.version.cuda, "driver": "580.00",
                   "cudnn": gpu["cudnn"]}
    assert (bits["gpu"], bits["compute_capability"], bits["cuda"]) == ("H100", "9.0", torch.version.cuda)
    assert bits["kernel_path"] == "triton" and "driver" not in bits
