"""Problem 1's model: the config of a training run, the bias-free ReLU MLP, and the history training records."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .._util import integer, positive_float, positive_int, seeded_generator
from ._mnist import MNIST

INITS = ("pytorch", "he")
#: batches between the checks for a non-finite training loss
CHECK_EVERY = 25
#: the first batches of epoch 1 whose gradient norms and losses are kept one by one: rounding differences
#: between machines are still ~1e-7 relative there, before SGD amplifies them, so a baseline can pin them tightly
FIRST_BATCHES = 20
IN_FEATURES, CLASSES = 28 * 28, 10


#: single-thread seconds per epoch, training image and weight of the MLP (measured on a 2-core x86-64 CPU,
#: docs/performance.md); it only orders experiments computed side by side, so a wrong one costs balance only
_SECONDS_PER_IMAGE_WEIGHT = 24.0 / (40 * 60_000 * 134_400)


@dataclass(frozen=True)
class MLPConfig:
    """Everything that defines one Problem 1 training run; an experiment (core.experiments.Experiment)."""

    hidden_sizes: tuple[int, ...] = (128, 128, 128)
    init: str = "pytorch"
    lr: float = 0.01
    batch_size: int = 128
    epochs: int = 40
    seed: int = 0
    #: batches averaged for the gradient norms at initialization (before any update)
    init_batches: int = 10

    needs_mnist: ClassVar[bool] = True
    progress_unit: ClassVar[str] = "epoch"

    def __post_init__(self):
        hidden = self.hidden_sizes
        if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
            raise ValueError(f"hidden_sizes must be a sequence of positive integers, got {hidden!r}")
        object.__setattr__(self, "hidden_sizes", tuple(hidden))
        if not self.hidden_sizes:
            raise ValueError("hidden_sizes is empty: the MLP needs at least one hidden layer")
        if any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers, got {self.hidden_sizes}")
        if not isinstance(self.init, str) or self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {INITS}")
        positive_float("lr", self.lr)
        for name in ("batch_size", "epochs", "init_batches"):
            positive_int(name, getattr(self, name))
        integer("seed", self.seed)

    def compute(self, device, data, progress=None) -> MLPHistory:
        from ._train import train_mlp

        return train_mlp(self, data, device, progress=progress)

    def threads(self, device) -> int | None:
        """One torch thread on the CPU: the float32 sums, so the bits, depend on the count (see Experiment)."""
        return 1 if torch.device(device).type == "cpu" else None

    def estimated_seconds(self) -> float:
        widths = (IN_FEATURES, *self.hidden_sizes, CLASSES)
        return _SECONDS_PER_IMAGE_WEIGHT * self.epochs * 60_000 * sum(a * b for a, b in zip(widths, widths[1:]))

    def summary(self, result: MLPHistory) -> list[str]:
        norms = ", ".join(f"{v:.3g}" for v in result.grad_norms[-1].tolist())
        return [f"mlp {self.hidden_sizes} init={self.init} seed {self.seed}, {self.epochs} epochs",
                f"  test accuracy {result.test_accuracy[-1]:.4f}, train NLL {result.train_nll[-1]:.4f}",
                f"  last-epoch gradient norms per layer: {norms}"]

    def figures(self, result: MLPHistory) -> dict:
        from ..figures import gradient_norm_figure, nll_figure

        return {"F1_nll": nll_figure(result), "F2_gradient_norms": gradient_norm_figure(result)}


class MLPDivergenceError(RuntimeError):
    """An MLP training run whose loss became NaN or infinite."""

    def __init__(self, run: str, epoch: int, batch: int, loss: float):
        self.run, self.epoch, self.batch, self.loss = run, epoch, batch, loss
        super().__init__(
            f"MLP training diverged in run {run!r} at epoch {epoch}, batch {batch}: loss={loss} "
            "(non-finite); use a smaller lr"
        )


def run_label(config: MLPConfig) -> str:
    return f"mlp {list(config.hidden_sizes)} init={config.init} lr={config.lr:g} seed {config.seed}"


def validate_data(data: MNIST, config: MLPConfig) -> None:
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
