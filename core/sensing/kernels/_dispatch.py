"""Which implementation of the fused sensing pass a run takes: numba on the CPU, Triton on CUDA, else torch."""

from __future__ import annotations

import os

import torch

BACKENDS = ("auto", "torch", "numba", "triton")
#: Overrides the automatic backend choice everywhere, e.g. SENSING_BACKEND=torch to time the plain path.
BACKEND_ENV = "SENSING_BACKEND"


def resolve_backend(device: torch.device, iterate_dtype: torch.dtype, backend: str | None = None) -> str:
    """The fused-step implementation to use: triton on CUDA, numba on CPU, else torch."""
    backend = backend or os.environ.get(BACKEND_ENV) or "auto"
    if backend not in BACKENDS:
        raise ValueError(f"unknown sensing backend {backend!r}; choose one of {BACKENDS}")
    if backend != "auto":
        return backend
    if iterate_dtype != torch.float64:  # the fused kernels accumulate in fp64 for fp64 iterates only
        return "torch"
    if device.type == "cuda":
        return "triton"
    if device.type == "cpu":
        return "numba"
    return "torch"
