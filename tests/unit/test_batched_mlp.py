"""Seeds trained as one stacked model (core.mlp.train_mlp_batch) against the same seeds trained one by one."""

import pytest
import torch

from core import MLPConfig, MLPDivergenceError, train_mlp
from core.mlp import train_mlp_batch
from tests._support.fake_mnist import tiny_mnist

CONFIGS = [MLPConfig(hidden_sizes=(32, 16), epochs=3, batch_size=32, seed=s) for s in (4, 9, 11)]


@pytest.fixture(scope="module")
def histories():
    data = tiny_mnist(n=512, seed=1, test=128)
    single = [train_mlp(c, data) for c in CONFIGS]
    return single, train_mlp_batch(CONFIGS, data)


def test_each_seed_matches_its_own_run_to_rounding(histories):
    """Not bitwise: bmm sums the stacked products in another order than one mm per seed. After 3 epochs (48
    steps) the curves agree to 1e-5 relative (6e-8 measured), far inside the MLP's cross-machine spread (3e-3)."""
    for one, stacked in zip(*histories):
        assert stacked.config == one.config and stacked.layer_names == one.layer_names
        assert torch.equal(stacked.init_grad_norms, one.init_grad_norms)  # computed by the same code, per seed
        for name in ("grad_norms", "train_nll", "test_nll", "first_batches"):
            torch.testing.assert_close(getattr(stacked, name), getattr(one, name), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(stacked.test_accuracy, one.test_accuracy, rtol=0, atol=1 / 128)
        for name in ("weight_sq_norms", "grad_sq_sums", "grad_lower_bound"):
            torch.testing.assert_close(getattr(stacked.balance, name), getattr(one.balance, name), rtol=1e-5, atol=0)


def test_the_seeds_differ_from_each_other(histories):
    _, stacked = histories
    assert not torch.allclose(stacked[0].grad_norms, stacked[1].grad_norms)


def test_configs_that_differ_beyond_the_seed_are_refused():
    with pytest.raises(ValueError, match="differ in their seed only"):
        train_mlp_batch([MLPConfig(seed=0), MLPConfig(seed=1, lr=0.1)], tiny_mnist(n=64))
    with pytest.raises(ValueError, match="non-empty list of MLPConfig"):
        train_mlp_batch([], tiny_mnist(n=64))


def test_a_diverging_seed_is_named():
    configs = [MLPConfig(hidden_sizes=(8,), epochs=1, batch_size=32, lr=1e30, seed=s) for s in (0, 1)]
    with pytest.raises(MLPDivergenceError, match="seed 0"):
        train_mlp_batch(configs, tiny_mnist(n=128))
