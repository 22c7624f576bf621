"""Problem 1's training: SGD on MNIST, recording per-layer gradient norms and the layer-balance terms."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._util import seeded_generator
from ._mnist import MNIST
from ._model import (
    CHECK_EVERY,
    FIRST_BATCHES,
    LayerBalance,
    MLPConfig,
    MLPDivergenceError,
    MLPHistory,
    build_mlp,
    layer_gradient_norms,
    run_label,
    validate_data,
)
from ._step import record_then_step


def _squared_norms(weights) -> torch.Tensor:
    """||W_l||_F^2 per layer, summed in float64 so that lr^2-sized changes stay resolved."""
    with torch.no_grad():
        return torch.stack([w.double().square().sum() for w in weights])


def _evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        log_probs = model(images)
        nll = F.nll_loss(log_probs, labels)
        accuracy = (log_probs.argmax(dim=1) == labels).to(torch.float64).mean()
    return nll, accuracy


def batch_order(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    return torch.randperm(n, generator=generator).to(device).split(batch_size)


def initial_gradient_norms(model: nn.Module, data: MNIST, config: MLPConfig) -> torch.Tensor:
    """Per-layer gradient norms at the current weights, averaged over `config.init_batches` batches."""
    # A stream of its own, so measuring leaves the training order unchanged.
    rng = seeded_generator(config.seed, "mlp-probe-batches")
    device = data.train_images.device
    batches = batch_order(len(data.train_images), config.batch_size, rng, device)[: config.init_batches]
    total = 0
    for idx in batches:
        model.zero_grad(set_to_none=True)
        F.nll_loss(model(data.train_images.index_select(0, idx)), data.train_labels.index_select(0, idx)).backward()
        total = total + layer_gradient_norms(model)
    model.zero_grad(set_to_none=True)
    return (total / len(batches)).double().cpu()


def _raise_if_diverged(batch_losses: torch.Tensor, first_batch: int, config: MLPConfig, epoch: int) -> None:
    bad = ~torch.isfinite(batch_losses)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise MLPDivergenceError(run_label(config), epoch + 1, first_batch + first + 1, float(batch_losses[first]))


def _same_device(a: torch.device, b: torch.device) -> bool:
    # "cuda" names whichever GPU is current; tensors always carry an index.
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def train_mlp(config: MLPConfig, data: MNIST, device: str | torch.device = "cpu", progress=None) -> MLPHistory:
    """Train with plain SGD and record norms and losses every epoch; progress(epoch, epochs) after each.

    A NaN or infinite batch loss raises MLPDivergenceError naming the run, the epoch, the batch and the loss,
    within CHECK_EVERY batches of it.
    """
    if not isinstance(config, MLPConfig):
        raise ValueError(f"config must be an MLPConfig, got {type(config).__name__}")
    validate_data(data, config)
    device = torch.device(device)
    if not _same_device(data.train_images.device, device):
        raise ValueError(f"data is on {data.train_images.device} but training was asked for on {device}; "
                         "load it with load_mnist(..., device)")
    model = build_mlp(config.hidden_sizes, config.init, config.seed).to(device)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    x, y = data.train_images, data.train_labels
    order_rng = seeded_generator(config.seed, "mlp-batch-order")

    init_norms = initial_gradient_norms(model, data, config)
    weights = [m.weight for m in linears]
    epochs, layers = config.epochs, len(linears)
    grad_norms, lower_bound = (torch.zeros(epochs, layers, device=device) for _ in range(2))
    grad_sq_sums, weight_sq = (torch.zeros(n, layers, device=device, dtype=torch.float64) for n in (epochs, epochs + 1))
    violation = torch.zeros(epochs, device=device)
    train_nll, test_nll, test_acc = (torch.zeros(epochs, device=device, dtype=torch.float64) for _ in range(3))
    weight_sq[0] = _squared_norms(weights)
    for epoch in range(epochs):
        batches = batch_order(len(x), config.batch_size, order_rng, device)
        # One row per batch: gradient norms, <W_l, grad_l>, weight norms, loss; reduced once per epoch.
        record = torch.zeros(len(batches), 3 * layers + 1, device=device)
        checked = 0
        for b, idx in enumerate(batches):
            # index_select, not x[idx]: the same rows, without advanced indexing's overhead per batch.
            loss = F.nll_loss(model(x.index_select(0, idx)), y.index_select(0, idx))
            loss.backward()
            record_then_step(weights, loss, config.lr, record[b])
            # One host sync per CHECK_EVERY batches: cheap on a GPU, and a NaN run (whose arithmetic is slow
            # on a CPU) stops within CHECK_EVERY batches.
            if b + 1 - checked >= CHECK_EVERY or b + 1 == len(batches):
                _raise_if_diverged(record[checked:b + 1, -1], checked, config, epoch)
                checked = b + 1
        norms, products, weight_norms = record[:, :-1].split(layers, dim=1)
        if epoch == 0:
            first_batches = torch.cat([norms, record[:, -1:]], dim=1)[:FIRST_BATCHES].double().cpu()
        grad_norms[epoch] = norms.mean(dim=0)
        grad_sq_sums[epoch] = norms.double().square().sum(dim=0)
        lower_bound[epoch] = (products.mean(dim=1, keepdim=True).abs() / weight_norms).mean(dim=0)
        spread = products.max(dim=1).values - products.min(dim=1).values
        violation[epoch] = (spread / (weight_norms * norms).max(dim=1).values).max()
        train_nll[epoch] = record[:, -1].double().mean()
        weight_sq[epoch + 1] = _squared_norms(weights)
        test_nll[epoch], test_acc[epoch] = _evaluate(model, data.test_images, data.test_labels)
        if progress is not None:
            progress(epoch + 1, epochs)

    return MLPHistory(
        config=config,
        layer_names=[name for name, m in model.named_children() if isinstance(m, nn.Linear)],
        layer_shapes=[tuple(m.weight.shape) for m in linears],
        init_grad_norms=init_norms,
        grad_norms=grad_norms.double().cpu(),
        train_nll=train_nll.cpu(),
        test_nll=test_nll.cpu(),
        test_accuracy=test_acc.cpu(),
        balance=LayerBalance(weight_sq.cpu(), grad_sq_sums.cpu(), violation.double().cpu(),
                             lower_bound.double().cpu()),
        first_batches=first_batches,
    )
