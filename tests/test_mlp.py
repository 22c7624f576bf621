"""Unit tests of the Problem 1 model, its gradient norms and its config checks."""

import math

import pytest
import torch
from torch.nn import functional as F

from core import MLPConfig, build_mlp, layer_gradient_norms, parameter_count, sgd_step, train_mlp
from core import _mlp_step

from tests._fake_mnist import tiny_mnist


def test_default_mlp_has_134400_parameters():
    assert parameter_count(build_mlp((128, 128, 128))) == 784 * 128 + 128 * 128 + 128 * 128 + 128 * 10 == 134_400


def test_layers_follow_hidden_sizes_without_biases():
    model = build_mlp((32, 16))
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(32, 784), (16, 32), (10, 16)]
    assert isinstance(model[-1], torch.nn.LogSoftmax) and model[-1].dim == 1


def test_layer_gradient_norms_match_hand_computation():
    """On a one-sample model the weight gradients are outer products we can write by hand."""
    torch.manual_seed(0)
    model = build_mlp((5,), seed=3).double()
    w1, w2 = (p.detach().clone() for p in model.parameters())
    x, label = torch.randn(1, 784, dtype=torch.float64), 7
    F.nll_loss(model(x), torch.tensor([label])).backward()

    hidden = (x @ w1.T).clamp(min=0)
    probs = torch.softmax(hidden @ w2.T, dim=1)
    delta2 = probs - F.one_hot(torch.tensor([label]), 10).double()  # d loss / d logits
    delta1 = (delta2 @ w2) * (x @ w1.T > 0)
    expected = torch.stack([(delta1.T @ x).norm(), (delta2.T @ hidden).norm()])
    torch.testing.assert_close(layer_gradient_norms(model), expected)


def test_initializations_differ_and_are_seeded():
    a, b = build_mlp((64,), "he", seed=1), build_mlp((64,), "he", seed=1)
    c = build_mlp((64,), "pytorch", seed=1)
    torch.testing.assert_close(a[0].weight, b[0].weight)
    # He normal has std sqrt(2/fan_in); PyTorch's default uniform has std 1/sqrt(3 fan_in).
    assert a[0].weight.std().item() == pytest.approx(math.sqrt(2 / 784), rel=0.05)
    assert c[0].weight.std().item() == pytest.approx(1 / math.sqrt(3 * 784), rel=0.05)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden_sizes": ()}, "hidden_sizes is empty"),
        ({"hidden_sizes": (128, 0)}, "positive integers"),
        ({"lr": 0.0}, "lr must be"),
        ({"lr": -0.01}, "lr must be"),
        ({"lr": float("nan")}, "lr must be"),
        ({"init": "xavier"}, "unknown init 'xavier'"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_config_raises_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLPConfig(**kwargs)


def test_training_records_every_epoch_and_is_deterministic():
    data = tiny_mnist(512)
    config = MLPConfig(hidden_sizes=(16, 16), epochs=3, batch_size=64, lr=0.05, seed=4)
    a, b = train_mlp(config, data), train_mlp(config, data)
    assert a.grad_norms.shape == (3, 3) and a.train_nll.shape == a.test_accuracy.shape == (3,)
    assert a.layer_names == ["fc1", "fc2", "fc3"]
    torch.testing.assert_close(a.grad_norms, b.grad_norms, rtol=0, atol=0)
    assert a.train_nll[-1] < a.train_nll[0]
    assert torch.isfinite(a.init_grad_norms).all() and (a.init_grad_norms > 0).all()


@pytest.mark.parametrize("hidden", [(32, 16), (33, 7)], ids=["even", "odd-sized"])
@pytest.mark.parametrize("path", ["compiled", "torch", "cuda"])
def test_training_update_is_torch_optim_sgd_bitwise(path, hidden, monkeypatch):
    """train_mlp's update (record_then_step) and sgd_step against torch.optim.SGD as the oracle: 20 steps from
    the same weights and batches, on the compiled CPU path, on the torch path, and on a GPU (the torch path
    there, against SGD's default foreach update)."""
    if path == "compiled" and not _mlp_step.AVAILABLE:
        pytest.skip("numba is not installed")
    if path == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device: the GPU update needs one")
    if path == "torch":
        monkeypatch.setattr(_mlp_step, "AVAILABLE", False)
    device = "cuda" if path == "cuda" else "cpu"
    data = tiny_mnist(512, device=device)
    ours, plain, oracle = (build_mlp(hidden, seed=3).to(device) for _ in range(3))
    optimizer = torch.optim.SGD(oracle.parameters(), lr=0.05)
    weights, plain_weights = list(ours.parameters()), list(plain.parameters())
    batches = torch.randperm(len(data.train_images), generator=torch.Generator().manual_seed(0))[:640].split(32)
    row = torch.zeros(len(batches), 3 * len(weights) + 1, device=device)
    for b, idx in enumerate(batches):
        x, y = data.train_images[idx], data.train_labels[idx]
        loss = F.nll_loss(ours(x), y)
        loss.backward()
        expected = [w.grad.double().norm() for w in weights] + [
            (w.double() * w.grad.double()).sum() for w in weights] + [w.double().norm() for w in weights] + [loss]
        _mlp_step.record_then_step(weights, loss, 0.05, row[b])
        # compiled: float64 sums rounded once to float32; torch: float32 sums of up to 25,872 terms, whose
        # <W, grad> cancels (6e-6 relative seen)
        torch.testing.assert_close(row[b].double(), torch.stack(expected).double(),
                                   rtol=1e-6 if path == "compiled" else 3e-5, atol=1e-9)
        F.nll_loss(plain(x), y).backward()
        sgd_step(plain_weights, 0.05)
        optimizer.zero_grad(set_to_none=True)
        F.nll_loss(oracle(x), y).backward()
        optimizer.step()
        assert all(w.grad is None for w in weights + plain_weights)
    for w, v, reference in zip(weights, plain_weights, oracle.parameters()):
        torch.testing.assert_close(w, reference, rtol=0, atol=0)
        torch.testing.assert_close(v, reference, rtol=0, atol=0)
    assert not torch.equal(weights[0].cpu(), build_mlp(hidden, seed=3)[0].weight)  # the weights did move


def test_training_without_numba_warns_and_records_the_same_history(monkeypatch):
    if not _mlp_step.AVAILABLE:
        pytest.skip("numba is not installed: there is no compiled path to compare with")
    data = tiny_mnist(512)
    config = MLPConfig(hidden_sizes=(16, 16), epochs=2, batch_size=64, lr=0.05, seed=4)
    compiled = train_mlp(config, data)
    monkeypatch.setattr(_mlp_step, "AVAILABLE", False)
    with pytest.warns(RuntimeWarning, match="numba is not installed"):
        fallback = train_mlp(config, data)
    # the same updates (bitwise), so the same trajectory; the record differs by its float32 sums only
    torch.testing.assert_close(fallback.test_nll, compiled.test_nll, rtol=0, atol=0)
    torch.testing.assert_close(fallback.grad_norms, compiled.grad_norms, rtol=1e-5, atol=0)
