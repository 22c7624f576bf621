"""Several seeds of one MLP trained at once, as one stacked model: a history per seed, as `train_mlp` records it.

Seed s keeps its own initial weights (build_mlp), its own batch order (stream "mlp-batch-order") and its own
probe batches, so each history is that of `train_mlp(config with seed s)` up to rounding: the stacked products
run through `torch.bmm` instead of one `mm` per seed, which sums in another order (float32, about 1e-7 relative
per step, which SGD then amplifies as any rounding difference). On a GPU the stack turns S latency-bound runs
into one compute-bound run; on a CPU it buys little (docs/study.md), so callers choose it explicitly.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.nn import functional as F

from .._util import seeded_generator
from . import _model
from ._mnist import MNIST
from ._model import LayerBalance, MLPConfig, MLPDivergenceError, MLPHistory, build_mlp
from ._train import batch_order, initial_gradient_norms


def _forward(weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """(S, B, 784) images through S stacked MLPs: log-probabilities (S, B, 10)."""
    for layer, w in enumerate(weights):
        x = torch.bmm(x, w.transpose(1, 2))
        if layer < len(weights) - 1:
            x = F.relu(x)
    return F.log_softmax(x, dim=2)


def _nll_and_accuracy(weights, images, labels) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        log_probs = _forward(weights, images.expand(len(weights[0]), *images.shape))
        nll = torch.stack([F.nll_loss(lp, labels) for lp in log_probs])
        accuracy = (log_probs.argmax(dim=2) == labels).to(torch.float64).mean(dim=1)
    return nll.double(), accuracy


def train_mlp_batch(configs: list[MLPConfig], data: MNIST, device: str | torch.device = "cpu") -> list[MLPHistory]:
    """Train every config at once; they must differ in their seed only. One MLPHistory per config, in order."""
    if not configs or any(not isinstance(c, MLPConfig) for c in configs):
        raise ValueError("configs must be a non-empty list of MLPConfig")
    if any(replace(c, seed=0) != replace(configs[0], seed=0) for c in configs):
        raise ValueError("configs must differ in their seed only, to be trained as one stack")
    config, device, seeds = configs[0], torch.device(device), len(configs)
    _model.validate_data(data, config)
    models = [build_mlp(c.hidden_sizes, c.init, c.seed).to(device) for c in configs]
    init_norms = [initial_gradient_norms(m, data, c) for m, c in zip(models, configs)]
    weights = [torch.stack([m[2 * k].weight.detach() for m in models]).requires_grad_()
               for k in range(len(config.hidden_sizes) + 1)]
    rngs = [seeded_generator(c.seed, "mlp-batch-order") for c in configs]
    x, y = data.train_images, data.train_labels
    epochs, layers = config.epochs, len(weights)
    grad_norms, lower_bound = (torch.zeros(epochs, seeds, layers, dtype=torch.float64) for _ in range(2))
    grad_sq_sums, weight_sq = (torch.zeros(n, seeds, layers, dtype=torch.float64) for n in (epochs, epochs + 1))
    violation = torch.zeros(epochs, seeds, dtype=torch.float64)
    train_nll, test_nll, test_acc = (torch.zeros(epochs, seeds, dtype=torch.float64) for _ in range(3))
    weight_sq[0] = _squared_norms(weights)
    for epoch in range(epochs):
        orders = [batch_order(len(x), config.batch_size, rng, device) for rng in rngs]
        record = torch.zeros(len(orders[0]), seeds, 3 * layers + 1, dtype=torch.float64, device=device)
        for b, idx in enumerate(zip(*orders)):
            idx = torch.stack(idx)  # (S, B): each seed's own batch
            images = x.index_select(0, idx.flatten()).view(seeds, -1, x.shape[1])
            log_probs = _forward(weights, images)
            losses = F.nll_loss(log_probs.flatten(0, 1), y.index_select(0, idx.flatten()), reduction="none")
            losses = losses.view(seeds, -1).mean(dim=1)
            losses.sum().backward()  # each seed's gradient is that of its own mean loss
            with torch.no_grad():
                record[b] = torch.cat([_row(weights), losses.double()[:, None]], dim=1)
                for w in weights:
                    w.add_(w.grad, alpha=-config.lr)
                    w.grad = None
            if (b + 1) % _model.CHECK_EVERY == 0 or b + 1 == len(orders[0]):
                _raise_if_diverged(record[:b + 1, :, -1], configs, epoch)
        norms, products, weight_norms = record[..., :-1].split(layers, dim=2)
        if epoch == 0:
            first_batches = torch.cat([norms, record[..., -1:]], dim=2)[:_model.FIRST_BATCHES].cpu()
        grad_norms[epoch] = norms.mean(dim=0).cpu()
        grad_sq_sums[epoch] = norms.square().sum(dim=0).cpu()
        lower_bound[epoch] = (products.mean(dim=2, keepdim=True).abs() / weight_norms).mean(dim=0).cpu()
        spread = products.max(dim=2).values - products.min(dim=2).values
        violation[epoch] = (spread / (weight_norms * norms).max(dim=2).values).max(dim=0).values.cpu()
        train_nll[epoch] = record[:, :, -1].mean(dim=0).cpu()
        weight_sq[epoch + 1] = _squared_norms(weights)
        nll, accuracy = _nll_and_accuracy(weights, data.test_images, data.test_labels)
        test_nll[epoch], test_acc[epoch] = nll.cpu(), accuracy.cpu()
    names = [name for name, m in models[0].named_children() if isinstance(m, nn.Linear)]
    return [MLPHistory(config=c, layer_names=names, layer_shapes=[tuple(w.shape[1:]) for w in weights],
                       init_grad_norms=init_norms[s], grad_norms=grad_norms[:, s], train_nll=train_nll[:, s],
                       test_nll=test_nll[:, s], test_accuracy=test_acc[:, s],
                       balance=LayerBalance(weight_sq[:, s], grad_sq_sums[:, s], violation[:, s], lower_bound[:, s]),
                       first_batches=first_batches[:, s]) for s, c in enumerate(configs)]


def _row(weights) -> torch.Tensor:
    """Per seed, train_mlp's record row: ||grad_l||, <W_l, grad_l>, ||W_l|| for every layer (float64 sums)."""
    columns = [[torch.linalg.vector_norm(w.grad.double(), dim=(1, 2)) for w in weights],
               [(w.double() * w.grad.double()).sum(dim=(1, 2)) for w in weights],
               [torch.linalg.vector_norm(w.double(), dim=(1, 2)) for w in weights]]
    return torch.stack(sum(columns, []), dim=1)


def _squared_norms(weights) -> torch.Tensor:
    with torch.no_grad():
        return torch.stack([w.double().square().sum(dim=(1, 2)) for w in weights], dim=1).cpu()


def _raise_if_diverged(losses: torch.Tensor, configs, epoch: int) -> None:
    bad = ~torch.isfinite(losses)
    if bad.any():
        batch, seed = (int(i) for i in bad.nonzero()[0])
        raise MLPDivergenceError(_model.run_label(configs[seed]), epoch + 1, batch + 1, float(losses[batch, seed]))
