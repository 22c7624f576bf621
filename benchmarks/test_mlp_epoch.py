"""K3: one MNIST MLP epoch with gradient-norm recording, against the bare loop and the notebook's pipeline."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from core.mlp import MLPConfig, build_mlp, load_mnist, locate_mnist, sgd_step, train_mlp, train_mlp_batch

from .conftest import DEVICES, median_seconds, record, synchronize

ROUNDS = 3
#: the notebook epoch takes 5-7 s here; one sample moved the speedup by 30% between runs, so take the median of 3
NOTEBOOK_ROUNDS = 3


@pytest.fixture(scope="module", params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(scope="module")
def mnist(device):
    return load_mnist(None, device)


def bare_epoch(data, config: MLPConfig, device) -> None:
    """The same SGD epoch as train_mlp with nothing recorded: the floor for K3."""
    model = build_mlp(config.hidden_sizes, config.init, config.seed).to(device)
    weights = list(model.parameters())
    order = torch.randperm(len(data.train_images), generator=torch.Generator().manual_seed(1)).to(device)
    for idx in order.split(config.batch_size):
        loss = F.nll_loss(model(data.train_images.index_select(0, idx)), data.train_labels.index_select(0, idx))
        loss.backward()
        sgd_step(weights, config.lr)
    synchronize(device)


def notebook_dataset():
    """The notebook's training set: torchvision MNIST with ToTensor + Normalize, built once as a notebook does."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    return datasets.MNIST(locate_mnist(), train=True, download=False, transform=transform)


def notebook_epoch(train, device) -> None:
    """One epoch of the original notebook's pipeline: a DataLoader over `train` with 2 workers, and one
    .item() per parameter per step for the gradient norms."""
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True, num_workers=2)
    model = build_mlp((128, 128, 128), "pytorch", 0).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    norms = []
    for images, labels in loader:
        images, labels = images.view(len(images), -1).to(device), labels.to(device)
        loss = F.nll_loss(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        norms.append([p.grad.norm().item() for p in model.parameters()])
        optimizer.step()


def _bytes(data) -> int:
    return data.train_images.nbytes + data.train_labels.nbytes


def test_k3_bare_loop(benchmark, mnist, device):
    """The floor of K3: the training loop alone (its own row, so its spread is visible)."""
    benchmark.pedantic(bare_epoch, args=(mnist, MLPConfig(epochs=1), device), rounds=ROUNDS, warmup_rounds=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update(kind="K3", bytes=_bytes(mnist), floor_s=median, floor_ratio=1.0, target=None)


def test_k3_epoch_with_norms(benchmark, mnist, device):
    """K3: train_mlp for one epoch (norms at init, per-step norms, test evaluation) vs the bare loop and the
    notebook pipeline, all timed in this test."""
    config = MLPConfig(epochs=1)
    # The two anchors are timed here with the same clock pytest-benchmark uses by default (time.perf_counter),
    # each a median of its rounds; only train_mlp's epoch is the benchmark's own timed call.
    floor_s = median_seconds(lambda: bare_epoch(mnist, config, device), device, ROUNDS)
    benchmark.pedantic(lambda: (train_mlp(config, mnist, device), synchronize(device)),
                       rounds=ROUNDS, warmup_rounds=1)
    train = notebook_dataset()
    notebook_s = median_seconds(lambda: notebook_epoch(train, device), device, NOTEBOOK_ROUNDS)
    record(benchmark, "K3", _bytes(mnist), floor_s, notebook_s=notebook_s,
           speedup_vs_notebook=notebook_s / benchmark.stats.stats.median, speedup_target=10.0)


#: seeds trained as one stack in K5
STACKED_SEEDS = 4


def test_k5_seeds_stacked(benchmark, mnist, device):
    """K5: STACKED_SEEDS seeds trained for one epoch as one stacked model (train_mlp_batch) against the same
    seeds trained one after another (train_mlp), on the same threads, both timed in this test. A ratio below 1
    means stacking pays; on a CPU it decides whether a study should stack seeds (docs/study.md)."""
    configs = [MLPConfig(epochs=1, seed=s) for s in range(STACKED_SEEDS)]
    one_by_one_s = median_seconds(lambda: [train_mlp(c, mnist, device) for c in configs], device, 2)
    benchmark.pedantic(lambda: (train_mlp_batch(configs, mnist, device), synchronize(device)), rounds=2,
                       warmup_rounds=1)
    record(benchmark, "K5", STACKED_SEEDS * _bytes(mnist), one_by_one_s, has_target=False,
           anchor="the same seeds one after another (train_mlp)")
