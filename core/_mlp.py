"""Problem 1: a bias-free MNIST MLP trained with SGD, recording per-layer gradient norms."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ._mlp_step import record_then_step, warn_if_unavailable
from ._mnist import MNIST
from ._seeds import seeded_generator

INITS = ("pytorch", "he")
#: batches between the checks for a non-finite training loss
CHECK_EVERY = 25
#: the first batches of epoch 1 whose gradient norms and losses are kept one by one: rounding differences
#: between machines are still ~1e-7 relative there, before SGD amplifies them, so a baseline can pin them tightly
FIRST_BATCHES = 20
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
        hidden = self.hidden_sizes
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise ValueError(f"hidden_sizes must be a sequence of positive integers, got {hidden!r}")
        object.__setattr__(self, "hidden_sizes", tuple(hidden))
        if not self.hidden_sizes:
            raise ValueError("hidden_sizes is empty: the MLP needs at least one hidden layer")
        if any(not _is_int(h) or h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {INITS}")
        if not (_is_real(self.lr) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        for name in ("batch_size", "epochs", "init_batches"):
            if not _is_int(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not _is_int(self.seed):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")


def _is_int(value) -> bool:
    # bool is an int subclass, but hidden_sizes=(True,) or seed=False is a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class MLPDivergenceError(RuntimeError):
    """An MLP training run whose loss became NaN or infinite."""

    def __init__(self, run: str, epoch: int, batch: int, loss: float):
        self.run, self.epoch, self.batch, self.loss = run, epoch, batch, loss
        super().__init__(
            f"MLP training diverged in run {run!r} at epoch {epoch}, batch {batch}: loss={loss} "
            "(non-finite); use a smaller lr"
        )


def _run_label(config: MLPConfig) -> str:
    return f"mlp {list(config.hidden_sizes)} init={config.init} lr={config.lr:g} seed {config.seed}"


def _validate_data(data: MNIST, config: MLPConfig) -> None:
    """Reject data the MLP cannot train on, before any step is taken."""
    if not isinstance(data, MNIST):
        raise ValueError(f"data must be core.MNIST, got {type(data).__name__}")
    for split in ("train", "test"):
        images, labels = getattr(data, f"{split}_images"), getattr(data, f"{split}_labels")
        if not torch.is_tensor(images) or images.ndim != 2 or images.shape[1] != IN_FEATURES or len(images) == 0:
            shape = tuple(images.shape) if torch.is_tensor(images) else type(images).__name__
            raise ValueError(f"{split}_images must be a non-empty (N, {IN_FEATURES}) tensor, got {shape}")
        if not images.is_floating_point():
            raise ValueError(f"{split}_images must be floating point, got {images.dtype}")
        if not torch.is_tensor(labels) or labels.shape != (len(images),) or labels.is_floating_point():
            shape = tuple(labels.shape) if torch.is_tensor(labels) else type(labels).__name__
            raise ValueError(f"{split}_labels must be an integer tensor of shape ({len(images)},), got {shape}")
        if labels.device != images.device:
            raise ValueError(f"{split}_labels are on {labels.device} but {split}_images on {images.device}")
        # A finite sum proves every value finite at a tenth of the elementwise mask's cost; the mask runs
        # only when the sum is not finite (a bad value, or an overflow of huge but finite ones).
        bad = ~torch.isfinite(images) if not torch.isfinite(images.sum()) else None
        if bad is not None and bad.any():
            raise ValueError(f"{split}_images has {int(bad.sum())} non-finite values, the first at row "
                             f"{int(bad.any(dim=1).nonzero()[0])}")
        if labels.min() < 0 or labels.max() >= CLASSES:
            raise ValueError(f"{split}_labels must lie in 0..{CLASSES - 1}, got values from "
                             f"{int(labels.min())} to {int(labels.max())}")
    if data.train_images.device != data.test_images.device:
        raise ValueError(f"train data is on {data.train_images.device} but test data on {data.test_images.device}")
    if config.batch_size > len(data.train_images):
        raise ValueError(f"batch_size {config.batch_size} exceeds the {len(data.train_images)} training samples")


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
    #: (min(FIRST_BATCHES, batches), layers + 1): per batch of epoch 1, each layer's gradient norm, then the loss
    first_batches: torch.Tensor | None = None

    @property
    def grad_rms(self) -> torch.Tensor:
        """Gradient norms divided by sqrt(entries): per-entry RMS, free of the layer-size effect."""
        sizes = torch.tensor([a * b for a, b in self.layer_shapes], dtype=self.grad_norms.dtype)
        return self.grad_norms / sizes.sqrt()


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
        F.nll_loss(model(data.train_images.index_select(0, idx)), data.train_labels.index_select(0, idx)).backward()
        total = total + layer_gradient_norms(model)
    model.zero_grad(set_to_none=True)
    return (total / len(batches)).double().cpu()


def _raise_if_diverged(batch_losses: torch.Tensor, first_batch: int, config: MLPConfig, epoch: int) -> None:
    bad = ~torch.isfinite(batch_losses)
    if bad.any():
        first = int(bad.nonzero()[0])
        raise MLPDivergenceError(_run_label(config), epoch + 1, first_batch + first + 1, float(batch_losses[first]))


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
    _validate_data(data, config)
    device = torch.device(device)
    if not _same_device(data.train_images.device, device):
        raise ValueError(f"data is on {data.train_images.device} but training was asked for on {device}; "
                         "load it with load_mnist(..., device)")
    warn_if_unavailable(device)
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
        batches = _batch_order(len(x), config.batch_size, order_rng, device)
        # One row per batch: gradient norms, <W_l, grad_l>, weight norms, loss; reduced once per epoch.
        record = torch.zeros(len(batches), 3 * layers + 1, device=device)
        checked = 0
        for b, idx in enumerate(batches):
            # index_select, not x[idx]: the same rows, gathered in half the time (advanced indexing took 0.1 ms
            # a batch, a sixth of the bare loop's epoch).
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
