"""The fused sensing pass (residuals and adjoint in one read of the operator): its dispatch, the numba CPU
kernel, the Triton CUDA kernel, and CUDA-graph replay of whole steps."""

from ._dispatch import BACKEND_ENV as BACKEND_ENV
from ._dispatch import BACKENDS as BACKENDS
from ._dispatch import resolve_backend as resolve_backend
