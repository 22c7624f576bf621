"""One MLP SGD update and its row of the training record: per-layer ||grad_l||, <W_l, grad_l>, ||W_l||, loss."""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit


def sgd_step(weights, lr: float) -> None:
    """Plain SGD, w <- w - lr * grad for each weight, then the gradients dropped (set to None).

    The arithmetic of torch.optim.SGD without momentum or weight decay, bitwise (the unit tests check it),
    without the optimizer's bookkeeping per batch.
    """
    with torch.no_grad():
        for w in weights:
            w.add_(w.grad, alpha=-lr)
            w.grad = None


def _record_then_update(weights, grads, lr, loss, row):
    """Each layer's three sums (float64) over its weights before the update, and the update, in one pass."""
    layers = len(weights)
    step = np.float32(-lr)  # torch's add_(alpha=-lr) on float32 rounds alpha to float32 too
    for layer in range(layers):
        w, g = weights[layer].ravel(), grads[layer].ravel()
        grad_sq = product = weight_sq = 0.0
        for i in range(w.size):
            wi, gi = w[i], g[i]
            grad_sq += float(gi) * float(gi)
            product += float(wi) * float(gi)
            weight_sq += float(wi) * float(wi)
            w[i] = wi + step * gi  # contracted to one FMA, as torch's vectorized add_ computes it
        row[layer] = math.sqrt(grad_sq)
        row[layers + layer] = product
        row[2 * layers + layer] = math.sqrt(weight_sq)
    row[3 * layers] = loss


# reassoc lets LLVM vectorize the three sums (a fixed order per machine, as in the sensing kernel); no
# nnan/ninf, so a diverged step's NaN or inf values are recorded as they are.
_compiled = njit(nogil=True, fastmath={"reassoc", "contract"}, cache=True)(_record_then_update)


def record_then_step(weights, loss: torch.Tensor, lr: float, row: torch.Tensor) -> None:
    """Write [||grad_l||_F..., <W_l, grad_l>..., ||W_l||_F..., loss] for the L weights into row, (3 L + 1,),
    then take sgd_step(weights, lr).

    On the CPU one compiled pass reads each weight and gradient once for both, where torch would launch a
    reduction per sum (docs/performance.md). On a GPU torch computes the same row and the same update.
    """
    if row.device.type == "cpu":
        with torch.no_grad():
            _compiled(tuple(w.detach().numpy() for w in weights), tuple(w.grad.numpy() for w in weights), lr,
                      loss.item(), row.numpy())
            for w in weights:
                w.grad = None
        return
    torch_record_then_step(weights, loss, lr, row)


def torch_record_then_step(weights, loss: torch.Tensor, lr: float, row: torch.Tensor) -> None:
    """record_then_step in torch operations: the path on a GPU, and the CPU kernel's oracle in the tests."""
    with torch.no_grad():
        row.copy_(torch.stack(
            [torch.linalg.vector_norm(w.grad) for w in weights]
            + [torch.vdot(w.reshape(-1), w.grad.reshape(-1)) for w in weights]
            + [torch.linalg.vector_norm(w) for w in weights] + [loss.detach()]))
    sgd_step(weights, lr)
