"""Matrix sensing: the packed Gaussian operator, its problems, and the choice of the fused pass."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._util import check_finite, describe, seeded_generator
from .kernels import _numba as _kernels
from .kernels._dispatch import resolve_backend


class PackedSensingOperator:
    """The map X -> (<A_i, X>)_i on symmetric d x d X, stored as an (m, P) upper-triangle matrix."""

    def __init__(self, packed: torch.Tensor, d: int):
        if packed.ndim != 2 or packed.shape[1] != d * (d + 1) // 2:
            raise ValueError(f"packed operator must be (m, {d * (d + 1) // 2}) for d={d}, got {tuple(packed.shape)}")
        self.packed = packed.contiguous()
        self.d = d
        self._rows, self._cols = torch.triu_indices(d, d, device=packed.device)
        # Rows carry 2*S_jk off the diagonal, so adjoint sums must be halved there to give S_jk.
        self._dual_weight = torch.where(self._rows == self._cols, 1.0, 0.5).to(packed.dtype)
        self._workspaces: dict = {}

    @classmethod
    def from_dense(cls, A: torch.Tensor) -> PackedSensingOperator:
        """Pack dense (m, d, d) sensing matrices so that row_i . pack(X) = <A_i, X> for symmetric X."""
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise ValueError(f"A must have shape (m, d, d), got {tuple(A.shape)}")
        rows, cols = torch.triu_indices(A.shape[1], A.shape[1], device=A.device)
        # An off-diagonal X_jk = X_kj meets A_jk + A_kj; on the diagonal that sum double counts A_jj.
        packed = A[:, rows, cols] + A[:, cols, rows]
        packed[:, rows == cols] *= 0.5
        return cls(packed, A.shape[1])

    @property
    def m(self) -> int:
        return self.packed.shape[0]

    def to(self, device=None, dtype=None) -> PackedSensingOperator:
        """Copy of this operator on another device and/or dtype."""
        return PackedSensingOperator(self.packed.to(device=device, dtype=dtype), self.d)

    def pack(self, X: torch.Tensor) -> torch.Tensor:
        """Upper triangle (diagonal included) of (..., d, d) symmetric X as (..., P)."""
        return X[..., self._rows, self._cols]

    def unpack(self, v: torch.Tensor) -> torch.Tensor:
        """Symmetric (..., d, d) matrix whose upper triangle is v; the inverse of pack."""
        out = v.new_zeros(*v.shape[:-1], self.d, self.d)
        out[..., self._rows, self._cols] = v
        out[..., self._cols, self._rows] = v
        return out

    def _stored_as(self, dtype: torch.dtype) -> torch.Tensor:
        # An fp32-stored operator meets fp64 iterates upcast: the stored values define the problem.
        return self.packed if self.packed.dtype == dtype else self.packed.to(dtype)

    def forward(self, Xp: torch.Tensor) -> torch.Tensor:
        """Measurements <A_i, X> for packed (B, P) iterates, as (B, m)."""
        return Xp @ self._stored_as(Xp.dtype).T

    def adjoint(self, r: torch.Tensor) -> torch.Tensor:
        """Symmetric sum_i r_i S_i with S_i = (A_i + A_i^T) / 2, for (B, m) weights, as (B, d, d)."""
        # (B, m) @ (m, P) streams the row-major operator once; A.T @ R would stride across it.
        return self.unpack((r @ self._stored_as(r.dtype)) * self._dual_weight.to(r.dtype))

    def residual_and_adjoint(self, Xp: torch.Tensor, y: torch.Tensor, backend: str | None = None,
                             threads: int | None = None, alongside=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Residual A(X) - y and its adjoint image A*(A(X) - y); the only operator call GD makes per step.

        backend (see resolve_backend) picks the implementation; the fused ones read the operator once.
        threads: CPU threads of the numba pass (default torch's count); it never changes the result.
        alongside: a callable run once on this thread during the pass (numba) or before it (otherwise).
        """
        backend = resolve_backend(Xp.device, Xp.dtype, backend)
        if backend == "numba":
            key = (Xp.shape[0], "numba")
            if key not in self._workspaces:
                self._workspaces[key] = _kernels.FusedWorkspace(self.m, Xp.shape[0], self.d)
            residual, adjoint = _kernels.fused_residual_adjoint(
                self.packed.numpy(), Xp.contiguous().numpy(), y.contiguous().numpy(),
                self._rows.numpy(), self._cols.numpy(), self.d, self._workspaces[key],
                threads or torch.get_num_threads(), alongside)
            return torch.from_numpy(residual), torch.from_numpy(adjoint)
        if alongside is not None:
            alongside()
        if backend == "triton":
            from .kernels import _triton as _triton_sensing  # imported late: triton is optional off CUDA

            return _triton_sensing.fused_residual_adjoint(self.packed, Xp, y, self._rows, self._cols, self.d)
        residual = self.forward(Xp) - y
        return residual, self.adjoint(residual)

    def to_dense(self) -> torch.Tensor:
        """Symmetrized dense matrices S_i as (m, d, d); equivalent to the original A_i on symmetric X."""
        return self.unpack(self.packed * self._dual_weight)


@dataclass(frozen=True)
class SensingProblem:
    """Measurements y_i = <A_i, X*> of a rank-`rank` PSD matrix X*."""

    operator: PackedSensingOperator
    y: torch.Tensor
    x_star: torch.Tensor
    rank: int

    @property
    def d(self) -> int:
        return self.operator.d

    @property
    def m(self) -> int:
        return self.operator.m


def _check_dimensions(d: int, r: int, m: int | None) -> None:
    if d < 1:
        raise ValueError(f"d must be >= 1, got {d}")
    if not 1 <= r <= d:
        raise ValueError(f"rank r must satisfy 1 <= r <= d={d}, got r={r}")
    if m is not None and m <= 0:
        raise ValueError(f"number of measurements m must be positive, got m={m}")


def make_sensing_problem(d: int = 100, r: int = 5, m: int | None = None, seed: int = 0,
                         device: str | torch.device = "cpu", dtype: torch.dtype = torch.float64,
                         storage_dtype: torch.dtype | None = None) -> SensingProblem:
    """Gaussian sensing of X* = U* U*^T / ||U* U*^T||_2 with m (default 10 d r) i.i.d. N(0,1) matrices A_i.

    storage_dtype (default: dtype) stores the packed operator narrower, e.g. float32 to halve the bytes each
    GD step reads. The stored values then define the problem: y is computed from them in float64, so X* stays
    an exact solution; the fused kernels accumulate in float64.
    """
    _check_dimensions(d, r, m)
    m = 10 * d * r if m is None else m
    generator = seeded_generator(seed, "sensing-problem")
    u_star = torch.randn(d, r, generator=generator, dtype=torch.float64)
    x_star = u_star @ u_star.T
    x_star = (x_star + x_star.T) / (2 * torch.linalg.matrix_norm(x_star, ord=2))
    A = torch.randn(m, d, d, generator=generator, dtype=torch.float64)
    operator = PackedSensingOperator.from_dense(A)
    del A  # the dense tensor is 2x the packed one; free it before computing y
    if storage_dtype is not None and storage_dtype != torch.float64:
        operator = operator.to(dtype=storage_dtype)
    y = operator.forward(operator.pack(x_star)[None])[0]
    return SensingProblem(operator.to(device, storage_dtype or dtype), y.to(device, dtype), x_star.to(device, dtype), r)


def sensing_problem_from_tensors(A: torch.Tensor, y: torch.Tensor, x_star: torch.Tensor,
                                 rank: int | None = None) -> SensingProblem:
    """Problem from user tensors: dense A (m, d, d), y (m,), symmetric x_star (d, d) on one device and dtype."""
    for name, tensor in (("A", A), ("y", y), ("x_star", x_star)):
        if not torch.is_tensor(tensor) or not tensor.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {describe(tensor)}")
        if tensor.device.type == "meta":
            raise ValueError(f"{name} is on the meta device, which holds no values")
    if A.ndim != 3 or A.shape[1] != A.shape[2]:
        raise ValueError(f"A must have shape (m, d, d), got {tuple(A.shape)}")
    m, d = A.shape[0], A.shape[1]
    _check_dimensions(d, 1, m)
    if y.shape != (m,):
        raise ValueError(f"y must have shape ({m},) to match A, got {tuple(y.shape)}")
    if x_star.shape != (d, d):
        raise ValueError(f"x_star must have shape ({d}, {d}) to match A, got {tuple(x_star.shape)}")
    if len({A.dtype, y.dtype, x_star.dtype}) > 1 or len({A.device, y.device, x_star.device}) > 1:
        raise ValueError(f"A, y and x_star must share one dtype and one device, got A {describe(A)}, "
                         f"y {describe(y)}, x_star {describe(x_star)}")
    for name, tensor in (("A", A), ("y", y), ("x_star", x_star)):
        check_finite(name, tensor)
    asymmetry = float((x_star - x_star.T).abs().max())
    if not torch.allclose(x_star, x_star.T, rtol=1e-6, atol=1e-9):
        raise ValueError(f"x_star must be symmetric, but max |x_star - x_star^T| = {asymmetry:.3e}")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int)):
        raise ValueError(f"rank must be an integer, got {rank!r}")
    rank = int(torch.linalg.matrix_rank(x_star)) if rank is None else rank
    _check_dimensions(d, rank, m)
    return SensingProblem(PackedSensingOperator.from_dense(A), y, x_star, rank)
