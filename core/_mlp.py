"""Problem 1: a bias-free MNIST MLP trained with SGD, recording per-layer gradient norms."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ._mnist import MNIST
from ._seeds import seeded_generator

INITS = ("pytorch", "he")
IN_FEATURES, CLASSES = 28 * 28, 10


@dataclass(frozen=True)
class MLPConfig:
    """Everything that defines one Problem 1 training run."""

    hidden_sizes: tuple[int, ...] = (128, 128, 128)
    init: str = "pytorch"
    lr: float = 0.01
    batch_size: int = 128
    epochs: int = 40
    seed: int = 0
    #: batches averaged for the gradient norms at initialization (before any update)
    init_batches: int = 10

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        if not self.hidden_sizes:
            raise ValueError("hidden_sizes is empty: the MLP needs at least one hidden layer")
        if any(not isinstance(h, int) or h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {INITS}")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        for name in ("batch_size", "epochs", "init_batches"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")


def build_mlp(hidden_sizes, init: str = "pytorch", seed: int = 0) -> nn.Sequential:
    """784 -> hidden_sizes -> 10, no biases, ReLU between layers, log-softmax output."""
    config = MLPConfig(hidden_sizes=hidden_sizes, init=init, seed=seed)
    sizes = (IN_FEATURES, *config.hidden_sizes, CLASSES)
    generator = seeded_generator(seed, "mlp-weights")
    layers = OrderedDict()
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        # Build on "meta" so construction draws nothing from the global RNG.
        linear = nn.Linear(fan_in, fan_out, bias=False, device="meta").to_empty(device="cpu")
        if init == "he":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu", generator=generator)
        else:  # the same draw nn.Linear.reset_parameters makes
            nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
        layers[f"fc{i}"] = linear
        layers[f"relu{i}" if i < len(sizes) - 1 else "log_softmax"] = (
            nn.ReLU() if i < len(sizes) - 1 else nn.LogSoftmax(dim=1)
        )
    return nn.Sequential(layers)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def layer_gradient_norms(model: nn.Module) -> torch.Tensor:
    """Frobenius norm of each weight's gradient, as one device tensor (no host sync)."""
    return torch.stack([torch.linalg.vector_norm(p.grad) for p in model.parameters()])


@dataclass
class LayerBalance:
    """Per-epoch evidence for the layer-balance identity of bias-free ReLU nets (Du, Hu and Lee 2018, Thm 2.1).

    Scaling W_l by c scales the logits z by c, so <W_l, grad_l L> = <grad_z L, z> is the same for every l
    on every batch; one SGD step then moves ||W_l||_F^2 by -2 lr c + lr^2 ||grad_l||^2, and the differences
    ||W_(l+1)||^2 - ||W_l||^2 move only by the lr^2 terms.
    """

    weight_sq_norms: torch.Tensor  # (epochs + 1, layers) ||W_l||_F^2 at init and after each epoch
    grad_sq_sums: torch.Tensor  # (epochs, layers) sum over the epoch's steps of ||grad_l||_F^2
    max_violation: torch.Tensor  # (epochs,) max over batches of (max_l c_l - min_l c_l) / max_l ||W_l|| ||grad_l||
    grad_lower_bound: torch.Tensor  # (epochs, layers) epoch mean of |c| / ||W_l||_F, a lower bound on ||grad_l||_F


@dataclass
class MLPHistory:
    """Per-epoch curves of one run; row e of each (epochs, ...) tensor is epoch e+1."""

    config: MLPConfig
    layer_names: list[str]
    layer_shapes: list[tuple[int, int]]
    init_grad_norms: torch.Tensor  # (layers,) mean over `init_batches` batches at initialization
    grad_norms: torch.Tensor  # (epochs, layers) epoch-mean Frobenius norm of each weight gradient
    train_nll: torch.Tensor  # (epochs,) epoch-mean of the batch losses
    test_nll: torch.Tensor  # (epochs,)
    test_accuracy: torch.Tensor  # (epochs,)
    balance: LayerBalance | None = None

    @property
    def grad_rms(self) -> torch.Tensor:
        """Gradient norms divided by sqrt(entries): per-entry RMS, free of the layer-size effect."""
        sizes = torch.tensor([a * b for a, b in self.layer_shapes], dtype=self.grad_norms.dtype)
        return self.grad_norms / sizes.sqrt()


def _balance_terms(weights, grads, grad_norms):
    """Per-layer <W_l, grad_l>, ||W_l||_F and the batch's identity violation, all on the device."""
    products = torch.stack([torch.vdot(w.reshape(-1), g.reshape(-1)) for w, g in zip(weights, grads)])
    weight_norms = torch.stack([torch.linalg.vector_norm(w) for w in weights])
    scale = (weight_norms * grad_norms).max()
    return products, weight_norms, (products.max() - products.min()) / scale


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


def _batch_order(n: int, batch_size: int, generator: torch.Generator, device) -> list[torch.Tensor]:
    return torch.randperm(n, generator=generator).to(device).split(batch_size)


def initial_gradient_norms(model: nn.Module, data: MNIST, config: MLPConfig) -> torch.Tensor:
    """Per-layer gradient norms at the current weights, averaged over `config.init_batches` batches."""
    # A stream of its own, so measuring leaves the training order unchanged.
    rng = seeded_generator(config.seed, "mlp-probe-batches")
    device = data.train_images.device
    batches = _batch_order(len(data.train_images), config.batch_size, rng, device)[: config.init_batches]
    total = 0
    for idx in batches:
        model.zero_grad(set_to_none=True)
        F.nll_loss(model(data.train_images[idx]), data.train_labels[idx]).backward()
        total = total + layer_gradient_norms(model)
    model.zero_grad(set_to_none=True)
    return (total / len(batches)).double().cpu()


def train_mlp(config: MLPConfig, data: MNIST, device: str | torch.device = "cpu", progress=None) -> MLPHistory:
    """Train with plain SGD and record norms and losses every epoch; progress(epoch, epochs) after each."""
    model = build_mlp(config.hidden_sizes, config.init, config.seed).to(device)
    linears = [m for m in model if isinstance(m, nn.Linear)]
    x, y = data.train_images, data.train_labels
    order_rng = seeded_generator(config.seed, "mlp-batch-order")

    init_norms = initial_gradient_norms(model, data, config)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    weights = [m.weight for m in linears]
    epochs, layers = config.epochs, len(linears)
    grad_norms, lower_bound = (torch.zeros(epochs, layers, device=device) for _ in range(2))
    grad_sq_sums, weight_sq = (torch.zeros(n, layers, device=device, dtype=torch.float64) for n in (epochs, epochs + 1))
    violation = torch.zeros(epochs, device=device)
    train_nll, test_nll, test_acc = (torch.zeros(epochs, device=device, dtype=torch.float64) for _ in range(3))
    weight_sq[0] = _squared_norms(weights)
    for epoch in range(epochs):
        batches = _batch_order(len(x), config.batch_size, order_rng, device)
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        for idx in batches:
            loss = F.nll_loss(model(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                norms = layer_gradient_norms(model)
                products, weight_norms, batch_violation = _balance_terms(weights, [w.grad for w in weights], norms)
                grad_norms[epoch] += norms
                grad_sq_sums[epoch] += norms.double().square()
                lower_bound[epoch] += products.mean().abs() / weight_norms
                violation[epoch] = torch.maximum(violation[epoch], batch_violation)
                loss_sum += loss.detach()
            optimizer.step()
        grad_norms[epoch] /= len(batches)
        lower_bound[epoch] /= len(batches)
        train_nll[epoch] = loss_sum / len(batches)
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
    )
