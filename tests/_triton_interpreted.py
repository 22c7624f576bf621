"""Run the Triton sensing kernel under the interpreter and print its errors as JSON (driven by test_kernels)."""

import json
import os
import sys

# Must precede the kernel module's import: triton.jit decides at decoration time whether to interpret.
os.environ["TRITON_INTERPRET"] = "1"

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core._sensing import PackedSensingOperator  # noqa: E402
from core import _triton_sensing  # noqa: E402


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


def case(m: int, d: int, runs: int, storage: torch.dtype, seed: int) -> dict:
    generator = torch.Generator().manual_seed(seed)
    P = d * (d + 1) // 2
    operator = PackedSensingOperator(torch.randn(m, P, generator=generator, dtype=torch.float64).to(storage), d)
    Xp = torch.randn(runs, P, generator=generator, dtype=torch.float64)
    y = torch.randn(m, generator=generator, dtype=torch.float64)
    ref_residual, ref_adjoint = reference(operator.packed.numpy(), Xp.numpy(), y.numpy(), d)
    kernel = _triton_sensing.fused_residual_adjoint(operator.packed, Xp, y, operator._rows, operator._cols, d)
    # The plain torch computation in the storage dtype is the yardstick.
    plain = operator.residual_and_adjoint(Xp.to(storage), y.to(storage), backend="torch")

    def error(pair, which, ref):
        return float(np.max(np.abs(pair[which].double().numpy().astype(np.longdouble) - ref)))

    return {"m": m, "d": d, "runs": runs, "storage": str(storage),
            "kernel": [error(kernel, 0, ref_residual), error(kernel, 1, ref_adjoint)],
            "plain": [error(plain, 0, ref_residual), error(plain, 1, ref_adjoint)]}


if __name__ == "__main__":
    cases = json.loads(sys.argv[1])
    print(json.dumps([case(*c[:3], getattr(torch, c[3]), seed) for seed, c in enumerate(cases)]))
