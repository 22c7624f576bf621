"""The Triton kernel's error against an extended-precision reference, next to the plain torch computation's,
and the tolerance it is held to."""

import numpy as np
import torch

from core.sensing import PackedSensingOperator


def reference(packed: np.ndarray, Xp: np.ndarray, y: np.ndarray, d: int):
    """Residual and adjoint in extended precision from the stored operator values."""
    A, X, t = (v.astype(np.longdouble) for v in (packed, Xp, y))
    residual = X @ A.T - t
    sums = residual @ A
    rows, cols = np.triu_indices(d)
    adjoint = np.zeros((X.shape[0], d, d), dtype=np.longdouble)
    weighted = np.where(rows == cols, 1.0, 0.5) * sums
    adjoint[:, rows, cols] = weighted
    adjoint[:, cols, rows] = weighted
    return residual, adjoint


def case(m: int, d: int, runs: int, storage: torch.dtype, seed: int, device: str = "cpu") -> dict:
    """Max abs errors of the kernel and of plain torch in the storage dtype, and whether a second call is
    bitwise equal (`repeatable`)."""
    from core.sensing.kernels import _triton as _triton_sensing  # here: the interpreter's switch must be set first

    generator = torch.Generator().manual_seed(seed)
    P = d * (d + 1) // 2
    packed = torch.randn(m, P, generator=generator, dtype=torch.float64).to(storage)
    Xp = torch.randn(runs, P, generator=generator, dtype=torch.float64)
    y = torch.randn(m, generator=generator, dtype=torch.float64)
    ref_residual, ref_adjoint = reference(packed.numpy(), Xp.numpy(), y.numpy(), d)
    operator = PackedSensingOperator(packed.to(device), d)
    Xp, y = Xp.to(device), y.to(device)
    kernel = _triton_sensing.fused_residual_adjoint(operator.packed, Xp, y, operator._rows, operator._cols, d)
    again = _triton_sensing.fused_residual_adjoint(operator.packed, Xp, y, operator._rows, operator._cols, d)
    # The plain torch computation in the storage dtype is the yardstick.
    plain = operator.residual_and_adjoint(Xp.to(storage), y.to(storage), backend="torch")

    def error(pair, which, ref):
        return float(np.max(np.abs(pair[which].double().cpu().numpy().astype(np.longdouble) - ref)))

    return {"m": m, "d": d, "runs": runs, "storage": str(storage),
            "kernel": [error(kernel, 0, ref_residual), error(kernel, 1, ref_adjoint)],
            "plain": [error(plain, 0, ref_residual), error(plain, 1, ref_adjoint)],
            "repeatable": all(torch.equal(a, b) for a, b in zip(kernel, again))}


def assert_within_flashattention_tolerance(result: dict) -> None:
    """FlashAttention's rule: the kernel's error at most twice the plain computation's in the same dtype (plus a
    denormal-sized floor, so two exact results compare equal), and a second call bitwise equal to the first."""
    for kernel_error, plain_error in zip(result["kernel"], result["plain"]):
        assert kernel_error <= 2 * plain_error + 1e-300, result
    assert result["repeatable"], result
