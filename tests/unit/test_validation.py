"""Any invalid input to the core API raises ValueError with a message naming it (property-based where it can)."""

import math

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import (
    DepthProbeConfig,
    MLPConfig,
    MLPDivergenceError,
    SensingConfig,
    alpha_sweep,
    gradient_descent,
    make_sensing_problem,
    resolve_device,
    train_mlp,
)
from core.mlp import INITS, MNIST
from core.sensing import sensing_problem_from_tensors
from tests._support.fake_mnist import tiny_mnist

# No example database: the tests write nothing into the checkout.
FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

not_an_int = st.one_of(st.floats(allow_nan=True), st.booleans(), st.text(max_size=4), st.none(),
                       st.lists(st.integers(), max_size=2).map(tuple))
not_a_positive_int = st.one_of(st.integers(max_value=0), not_an_int)
not_a_positive_float = st.one_of(st.floats(max_value=0.0), st.sampled_from([math.nan, math.inf, -math.inf]),
                                 st.booleans(), st.text(max_size=4), st.none())
not_an_init = st.one_of(st.text(max_size=8).filter(lambda s: s not in INITS), st.integers(), st.none())


def _raises_naming(make, field, value):
    """`make()` raises ValueError whose message names `field` and, for a scalar, the value itself."""
    with pytest.raises(ValueError) as caught:
        make()
    message = str(caught.value)
    assert field in message, message
    if not isinstance(value, (tuple, list)):
        assert repr(value) in message, message


# --- MLPConfig -------------------------------------------------------------------------------------------

@FAST
@given(field=st.sampled_from(["batch_size", "epochs", "init_batches"]), value=not_a_positive_int)
def test_mlp_config_rejects_counts(field, value):
    _raises_naming(lambda: MLPConfig(**{field: value}), field, value)


@FAST
@given(value=not_a_positive_float)
def test_mlp_config_rejects_learning_rates(value):
    _raises_naming(lambda: MLPConfig(lr=value), "lr", value)


@FAST
@given(value=not_an_init)
def test_mlp_config_rejects_inits(value):
    _raises_naming(lambda: MLPConfig(init=value), "init", value)


@FAST
@given(value=not_an_int.filter(lambda v: not isinstance(v, tuple)))
def test_mlp_config_rejects_non_integer_seeds(value):
    _raises_naming(lambda: MLPConfig(seed=value), "seed", value)


@FAST
@given(good=st.lists(st.integers(1, 512), max_size=3), bad=not_a_positive_int, at=st.integers(0, 3))
def test_mlp_config_rejects_hidden_sizes_with_a_bad_width(good, bad, at):
    sizes = [*good[:at], bad, *good[at:]]
    _raises_naming(lambda: MLPConfig(hidden_sizes=sizes), "hidden_sizes", sizes)


@pytest.mark.parametrize("sizes", [(), [], 128, "128", None, 1.5])
def test_mlp_config_rejects_empty_or_scalar_hidden_sizes(sizes):
    with pytest.raises(ValueError, match="hidden_sizes"):
        MLPConfig(hidden_sizes=sizes)


@FAST
@given(sizes=st.lists(st.integers(1, 4096), min_size=1, max_size=6), lr=st.floats(1e-8, 10.0),
       seed=st.integers(-2**70, 2**70), init=st.sampled_from(INITS))
def test_mlp_config_accepts_valid_values(sizes, lr, seed, init):
    assert MLPConfig(hidden_sizes=sizes, lr=lr, seed=seed, init=init).hidden_sizes == tuple(sizes)


# --- SensingConfig ---------------------------------------------------------------------------------------

@FAST
@given(field=st.sampled_from(["d", "r", "m", "steps", "top_k"]), value=not_a_positive_int)
def test_sensing_config_rejects_sizes(field, value):
    _raises_naming(lambda: SensingConfig(**{field: value}), field, value)


@FAST
@given(d=st.integers(1, 1000), extra=st.integers(1, 1000))
def test_sensing_config_rejects_rank_above_d(d, extra):
    _raises_naming(lambda: SensingConfig(d=d, r=d + extra, m=10), f"r={d + extra} exceeds d={d}", ())


@FAST
@given(field=st.sampled_from(["eta", "exact_init_scale"]), value=not_a_positive_float)
def test_sensing_config_rejects_scales(field, value):
    _raises_naming(lambda: SensingConfig(**{field: value}), field, value)


@FAST
@given(good=st.lists(st.floats(1e-8, 1.0), max_size=3), bad=not_a_positive_float, at=st.integers(0, 3))
def test_sensing_config_rejects_alphas_with_a_bad_scale(good, bad, at):
    _raises_naming(lambda: SensingConfig(alphas=[*good[:at], bad, *good[at:]]), "alpha", bad)


@pytest.mark.parametrize("alphas", [(), 1e-3, "1e-3", None])
def test_sensing_config_rejects_empty_or_scalar_alphas(alphas):
    with pytest.raises(ValueError, match="alphas"):
        SensingConfig(alphas=alphas)


@FAST
@given(value=not_an_int.filter(lambda v: not isinstance(v, tuple)))
def test_sensing_config_rejects_non_integer_seeds(value):
    _raises_naming(lambda: SensingConfig(seed=value), "seed", value)


@pytest.mark.parametrize("field, value", [("dtype", "float16"), ("dtype", torch.float64), ("convex", "yes"),
                                          ("convex", 1)])
def test_sensing_config_rejects_dtype_and_convex(field, value):
    _raises_naming(lambda: SensingConfig(**{field: value}), field, value)


@FAST
@given(d=st.integers(1, 300), r=st.integers(1, 300), m=st.integers(1, 10**6), eta=st.floats(1e-6, 10.0),
       alphas=st.lists(st.floats(1e-12, 1e3), min_size=1, max_size=5))
def test_sensing_config_accepts_valid_values(d, r, m, eta, alphas):
    assume(r <= d)
    assert SensingConfig(d=d, r=r, m=m, eta=eta, alphas=alphas).alphas == tuple(alphas)


# --- DepthProbeConfig ------------------------------------------------------------------------------------

@FAST
@given(field=st.sampled_from(["width", "batches"]), value=not_a_positive_int)
def test_depth_probe_config_rejects_counts(field, value):
    _raises_naming(lambda: DepthProbeConfig(**{field: value}), field, value)


@FAST
@given(good=st.lists(st.integers(1, 20), max_size=3), bad=not_a_positive_int, at=st.integers(0, 3))
def test_depth_probe_config_rejects_a_bad_depth(good, bad, at):
    _raises_naming(lambda: DepthProbeConfig(depths=[*good[:at], bad, *good[at:]]), "depth", bad)


@FAST
@given(init=not_an_init, seed=not_an_int.filter(lambda v: not isinstance(v, tuple)))
def test_depth_probe_config_rejects_init_and_seed(init, seed):
    _raises_naming(lambda: DepthProbeConfig(init=init), "init", init)
    _raises_naming(lambda: DepthProbeConfig(seed=seed), "seed", seed)


@pytest.mark.parametrize("depths", [(), 4, None])
def test_depth_probe_config_rejects_empty_or_scalar_depths(depths):
    with pytest.raises(ValueError, match="depths"):
        DepthProbeConfig(depths=depths)


# --- devices ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["meta", "gpu", "cuda:99", "cpu:x", "mps:7"])
def test_unknown_or_unusable_devices_are_named(name):
    with pytest.raises(ValueError, match=f"device '{name}' is not usable here"):
        resolve_device(name)


@FAST
@given(name=st.text(max_size=12))
def test_any_device_name_resolves_or_raises_value_error(name):
    try:
        device = resolve_device(name)
    except ValueError as err:
        assert repr(name) in str(err)
    else:
        assert torch.zeros(2, dtype=torch.float64, device=device).sum().item() == 0


# --- make_sensing_problem, sensing_problem_from_tensors, gradient_descent and alpha_sweep -----------------

@pytest.mark.parametrize("kwargs, message", [({"d": 4, "r": 5}, "rank r"), ({"d": 4, "r": 2, "m": 0}, "measurements m"),
                                             ({"d": 4, "r": 0}, "rank r")])
def test_make_sensing_problem_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_sensing_problem(**kwargs)


def _valid_tensors(d, m, seed):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(d, 1, generator=g, dtype=torch.float64)
    x_star = u @ u.T
    A = torch.randn(m, d, d, generator=g, dtype=torch.float64)
    return {"A": A, "y": torch.einsum("ijk,jk->i", A, x_star), "x_star": x_star}


def _corrupt(tensors, how, index):
    """One invalid change to valid (A, y, x_star); returns the new dict and the word the message must contain."""
    name = ["A", "y", "x_star"][index % 3]
    t = dict(tensors)
    value = t[name]
    if how == "non-finite":
        flat = value.clone().reshape(-1)
        flat[index % flat.numel()] = [math.nan, math.inf, -math.inf][index % 3]
        t[name] = flat.reshape(value.shape)
    elif how == "integer dtype":
        t[name] = value.round().long()
    elif how == "other float dtype":
        t[name] = value.float()
    elif how == "meta device":
        t[name] = value.to("meta")
    elif how == "not a tensor":
        t[name] = value.tolist()
    elif how == "wrong shape":
        t[name] = value[..., :-1] if value.shape[-1] > 1 else value.unsqueeze(-1).expand(*value.shape, 2)
    elif how == "non-symmetric x_star":
        name, x = "x_star", t["x_star"].clone()
        x[0, -1] += 1.0
        t["x_star"] = x
    return t, name


@FAST
@given(d=st.integers(2, 5), m=st.integers(1, 12), seed=st.integers(0, 1000), index=st.integers(0, 10_000),
       how=st.sampled_from(["non-finite", "integer dtype", "other float dtype", "meta device", "not a tensor",
                            "wrong shape", "non-symmetric x_star"]))
def test_sensing_problem_from_tensors_rejects_any_bad_tensor(d, m, seed, index, how):
    tensors, name = _corrupt(_valid_tensors(d, m, seed), how, index)
    with pytest.raises(ValueError) as caught:
        sensing_problem_from_tensors(**tensors)
    message = str(caught.value)
    assert name in message or (how == "wrong shape" and "shape" in message), message


@FAST
@given(d=st.integers(2, 5), m=st.integers(1, 12), rank=st.one_of(st.integers(max_value=0), st.integers(6, 99),
                                                                 st.floats(), st.booleans()))
def test_sensing_problem_from_tensors_rejects_bad_ranks(d, m, rank):
    with pytest.raises(ValueError, match="rank"):
        sensing_problem_from_tensors(**_valid_tensors(d, m, 0), rank=rank)


def test_sensing_problem_from_tensors_accepts_valid_tensors():
    problem = sensing_problem_from_tensors(**_valid_tensors(4, 10, 0))
    assert (problem.d, problem.m, problem.rank) == (4, 10, 1)


_PROBLEM = make_sensing_problem(d=6, r=1, m=40, seed=0)


@pytest.mark.parametrize("U0, word", [
    (torch.zeros(6, 3, dtype=torch.float32), "float32"),
    (torch.zeros(6, 3, dtype=torch.int64), "int64"),
    (torch.zeros(6, 3, dtype=torch.float64, device="meta"), "meta"),
    (torch.zeros(5, 3, dtype=torch.float64), "(5, 3)"),
    (torch.zeros(6, 0, dtype=torch.float64), "(6, 0)"),
    ([[0.0] * 3] * 6, "list"),
    (torch.full((6, 3), math.nan, dtype=torch.float64), "non-finite values, the first nan"),
])
def test_gradient_descent_rejects_bad_initial_points(U0, word):
    with pytest.raises(ValueError, match="U0") as caught:
        gradient_descent(_PROBLEM, U0, steps=1)
    assert word in str(caught.value)


@FAST
@given(field=st.sampled_from(["steps", "top_k", "check_every", "eta", "divergence_factor", "lr"]),
       value=st.one_of(st.integers(max_value=-1), st.floats(max_value=0.0),
                       st.sampled_from([math.nan, math.inf, "0.1", None, True])))
def test_gradient_descent_rejects_bad_arguments(field, value):
    assume(not (field == "lr" and value is None))  # lr=None means the default step size
    assume(not (field == "steps" and value == 0 and isinstance(value, int) and not isinstance(value, bool)))
    U0 = torch.zeros(6, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=field):
        gradient_descent(_PROBLEM, U0, **{"steps": 1, field: value})


@pytest.mark.parametrize("alphas", [(1e-3, 0.0), (-1e-3,)])
def test_alpha_sweep_rejects_a_scale_that_is_not_positive(alphas):
    with pytest.raises(ValueError, match="alphas"):
        alpha_sweep(_PROBLEM, alphas, steps=1)


# --- MLP data and divergence -----------------------------------------------------------------------------

def _poisoned(kind):
    data = tiny_mnist()
    images, labels = data.train_images.clone(), data.train_labels.clone()
    if kind == "nan pixel":
        images[17, 300] = math.nan
    elif kind == "label 10":
        labels[3] = 10
    elif kind == "float labels":
        labels = labels.float()
    elif kind == "wrong width":
        images = images[:, :783]
    elif kind == "no samples":
        images, labels = images[:0], labels[:0]
    return MNIST(images, labels, data.test_images, data.test_labels, 0.0, 1.0)


@pytest.mark.parametrize("kind, message", [
    ("nan pixel", "train_images has 1 non-finite values, the first at row 17"),
    ("label 10", "train_labels must lie in 0..9, got values from 0 to 10"),
    ("float labels", "train_labels must be an integer tensor"),
    ("wrong width", r"train_images must be a non-empty \(N, 784\) tensor, got \(256, 783\)"),
    ("no samples", r"got \(0, 784\)"),
])
def test_poisoned_training_data_is_rejected_before_training(kind, message):
    with pytest.raises(ValueError, match=message):
        train_mlp(MLPConfig(hidden_sizes=(8,), epochs=1, batch_size=32), _poisoned(kind))


def test_training_on_another_device_than_the_data_is_rejected():
    with pytest.raises(ValueError, match="data is on cpu but training was asked for on meta"):
        train_mlp(MLPConfig(hidden_sizes=(8,), epochs=1, batch_size=32), tiny_mnist(), device="meta")


def test_batch_larger_than_the_data_is_rejected():
    with pytest.raises(ValueError, match="batch_size 512 exceeds the 256 training samples"):
        train_mlp(MLPConfig(hidden_sizes=(8,), epochs=1, batch_size=512), tiny_mnist())


def test_mlp_nan_loss_stops_with_the_run_epoch_batch_and_value():
    config = MLPConfig(hidden_sizes=(16, 16), epochs=3, batch_size=32, lr=1e6)
    with pytest.raises(MLPDivergenceError, match=r"run 'mlp \[16, 16\] init=pytorch lr=1e\+06 seed 0' at epoch 1, "
                                                 r"batch \d+: loss=(nan|inf)") as caught:
        train_mlp(config, tiny_mnist())
    assert caught.value.epoch == 1 and 1 <= caught.value.batch <= 8 and not math.isfinite(caught.value.loss)


def test_a_stable_learning_rate_trains_without_divergence_error():
    history = train_mlp(MLPConfig(hidden_sizes=(16, 16), epochs=2, batch_size=32, lr=0.05), tiny_mnist())
    assert torch.isfinite(history.train_nll).all()
