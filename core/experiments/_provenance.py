"""The machine a result was computed on, so that a value that moved between two runs comes with what changed.

Floating-point sums depend on more than the code and the library versions: torch picks its vector kernels by
CPU capability, MKL its code path by CPU, numba compiles for the host's LLVM target, and environment variables
override each choice. `machine()` records all of it for the claims report; `bits_fingerprint()` is the part a
result's bits depend on, and is in the result cache's key, so a run under another (emulated) CPU recomputes
instead of loading another machine's bits. Every probe is cheap (nothing is compiled) and never raises: a failed
probe gives None and its reason in ``probe_errors``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import torch

#: Variables that steer which code path computes a result (and so can change its bits), and thread counts.
CODE_PATH_ENV = ("ATEN_CPU_CAPABILITY", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "MKL_ENABLE_INSTRUCTIONS",
                 "MKL_CBWR", "MKL_DEBUG_CPU_TYPE")
#: Thread counts: reported, but not part of the bits fingerprint, since the CPU experiments fix their own
#: count (Experiment.threads) and the sensing pass gives the same bits on any number of threads.
THREAD_ENV = ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS")
#: x86-64 micro-architecture levels (the psABI's), each needing the CPU flags of the levels below and these;
#: flag names as /proc/cpuinfo spells them (pni is SSE3, abm includes LZCNT).
ISA_LEVELS = (("x86-64-v2", {"cx16", "lahf_lm", "popcnt", "pni", "sse4_1", "sse4_2", "ssse3"}),
              ("x86-64-v3", {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}),
              ("x86-64-v4", {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}))


def _probe(errors: dict, name: str, probe):
    """probe(), or None with the reason under errors[name]: a missing field must not lose the report."""
    try:
        return probe()
    except Exception as err:  # noqa: BLE001 - any failure is recorded, never raised
        errors[name] = f"{type(err).__name__}: {err}"
        return None


@functools.cache
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (Linux); {} elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    first = text.split("\n\n", 1)[0]
    fields = (line.partition(":") for line in first.splitlines())
    return {key.strip(): value.strip() for key, sep, value in fields if sep}


def isa_level(flags: set[str] | None = None) -> str:
    """The highest x86-64-vN level whose flags the CPU has ("x86-64" for the baseline); elsewhere the machine."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return platform.machine()
    flags = flags if flags is not None else set(_cpuinfo().get("flags", "").split())
    level = "x86-64"
    for name, needed in ISA_LEVELS:
        if not needed <= flags:
            break
        level = name
    return level


@functools.cache
def _torch_config() -> dict[str, object]:
    """BLAS and LAPACK torch was built with, and its MKL version, from torch.__config__.show()."""
    text = torch.__config__.show()
    patterns = {"torch_blas": r"\bBLAS_INFO=([^,\s]+)", "torch_lapack": r"\bLAPACK_INFO=([^,\s]+)",
                "mkl_version": r"Math Kernel Library Version ([^\n]+?) for"}
    found = {key: re.search(pattern, text) for key, pattern in patterns.items()}
    return {**{key: match and match.group(1) for key, match in found.items()},
            "mkl_available": torch.backends.mkl.is_available()}


@functools.cache
def _numpy_blas() -> dict[str, object]:
    import numpy

    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {"name": blas.get("name"), "version": blas.get("version")}


def numba_target() -> str:
    """The LLVM CPU numba compiles for: $NUMBA_CPU_NAME as numba reads it at startup, else the host's."""
    import llvmlite.binding
    import numba

    return os.environ.get("NUMBA_CPU_NAME") or numba.config.CPU_NAME or llvmlite.binding.get_host_cpu_name()


@functools.cache
def _driver_version() -> str | None:
    """The NVIDIA driver: from pynvml where it works, else nvidia-smi when on PATH, else None."""
    try:
        import pynvml

        pynvml.nvmlInit()
        version = pynvml.nvmlSystemGetDriverVersion()
        return version.decode() if isinstance(version, bytes) else version
    except Exception:  # noqa: BLE001 - no pynvml or no NVML: nvidia-smi asks the same driver
        smi = shutil.which("nvidia-smi")
        out = smi and subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"],
                                     capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        return out.splitlines()[0] if out else None


@functools.cache
def _gpu(index: int) -> tuple[dict[str, object], dict[str, str]]:
    """The GPU's fields, and the reasons of those that failed; cached, as CUDA's answers do not change."""
    errors: dict[str, str] = {}
    major, minor = torch.cuda.get_device_capability(index)
    return {"name": torch.cuda.get_device_name(index), "compute_capability": f"{major}.{minor}",
            "cuda": torch.version.cuda, "driver": _probe(errors, "gpu.driver", _driver_version),
            "cudnn": _probe(errors, "gpu.cudnn", torch.backends.cudnn.version)}, errors


def _cpu_fields(errors: dict) -> dict:
    """The CPU, torch's use of it and numba's target: what bits_fingerprint needs, without touching CUDA."""
    info = _cpuinfo()
    out = {"cpu_model": info.get("model name") or platform.processor() or None,
           "cpu_vendor": info.get("vendor_id") or info.get("CPU implementer"), "isa_level": isa_level(),
           "torch_cpu_capability": _probe(errors, "torch_cpu_capability", torch.backends.cpu.get_cpu_capability)}
    out.update(_probe(errors, "torch_config", _torch_config)
               or dict.fromkeys(("torch_blas", "torch_lapack", "mkl_version", "mkl_available")))
    out["numba_version"] = _probe(errors, "numba_version", lambda: __import__("numba").__version__)
    out["numba_target_cpu"] = _probe(errors, "numba_target_cpu", numba_target)
    # Read at call time, not cached: a child process or a test may run under other settings.
    out["env"] = {k: os.environ[k] for k in CODE_PATH_ENV + THREAD_ENV if k in os.environ}
    return out


def machine() -> dict:
    """Everything recorded about this machine and its numeric libraries (the report's ``machine`` field)."""
    errors: dict[str, str] = {}
    out = _cpu_fields(errors)
    numpy_blas = _probe(errors, "numpy_blas", _numpy_blas) or {}
    out.update(numpy_blas=numpy_blas.get("name"), numpy_blas_version=numpy_blas.get("version"), gpu=None)
    if torch.cuda.is_available():
        out["gpu"], gpu_errors = _probe(errors, "gpu", lambda: _gpu(torch.cuda.current_device())) or (None, {})
        errors.update(gpu_errors)
    return {**out, "probe_errors": errors}


def kernel_path(device="cpu", dtype: torch.dtype = torch.float64) -> str:
    """The sensing pass that runs on `device` for `dtype` iterates: "numba" (CPU), "torch" or "triton" (CUDA).

    As core.sensing.resolve_backend picks it, $SENSING_BACKEND included; an unusable choice is named, not raised.
    """
    from ..sensing.kernels import resolve_backend

    try:
        return resolve_backend(torch.device(device), dtype)
    except (ValueError, RuntimeError) as err:
        return f"unresolved: {err}"


def bits_fingerprint(device="cpu", dtype: torch.dtype = torch.float64) -> dict:
    """The machine fields a result's bits depend on (part of the cache key); thread counts and drivers are not.

    CUDA is touched only for a CUDA `device`, whose GPU, CUDA and (for the Triton pass) Triton versions count.
    """
    fields = _cpu_fields({})
    bits = {key: fields[key] for key in ("cpu_model", "isa_level", "torch_cpu_capability", "numba_target_cpu")}
    bits["blas"] = " ".join(str(fields[key]) for key in ("torch_blas", "mkl_version") if fields[key])
    bits["env"] = {k: v for k, v in fields["env"].items() if k in CODE_PATH_ENV}
    bits["kernel_path"] = kernel_path(device, dtype)
    device = torch.device(device)
    if device.type == "cuda":
        gpu = (_probe({}, "gpu", lambda: _gpu(device.index if device.index is not None else 0)) or ({},))[0]
        bits.update(gpu=gpu.get("name"), compute_capability=gpu.get("compute_capability"), cuda=torch.version.cuda)
        if bits["kernel_path"] == "triton":
            bits["triton"] = _probe({}, "triton", lambda: importlib.metadata.version("triton"))
    return bits
