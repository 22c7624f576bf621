"""Same seed, same bits: repeated runs and 1 vs 2 threads; different seeds and streams, different draws."""

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core import MLPConfig, SensingConfig, build_mlp, make_sensing_problem, run, seeded_generator
from core import _mlp_step
from core._mlp import _batch_order
from core._mnist import MNIST
from tests._fake_mnist import tiny_mnist

REPO = Path(__file__).resolve().parents[1]
SMALL_MLP = MLPConfig(hidden_sizes=(64, 32), epochs=2, batch_size=128, lr=0.05, seed=7, init_batches=3)
SMALL_SENSING = SensingConfig(d=12, r=2, m=120, alphas=(1e-3, 0.1), steps=60, seed=7, top_k=4)
#: every named stream the code draws from (grep seeded_generator in core/)
#: MLP fields the torch fallback computes with torch.vdot (see test_with_mkl_strict_mode_one_and_two_threads_...)
DOT_PRODUCT_FIELDS = {"0:balance.grad_lower_bound", "0:balance.max_violation"}
STREAMS = ("mlp-weights", "mlp-probe-batches", "mlp-batch-order", "sensing-problem", "sensing-init", "projected-init")


def synthetic_mnist(n=1536, seed=0) -> MNIST:
    """Learnable stand-in data, large enough that the matrix products split across threads."""
    return tiny_mnist(n, seed, test=512)


def run_small(mlp=SMALL_MLP, sensing=SMALL_SENSING):
    return run(mlp, data=synthetic_mnist()), run(sensing)


def _tensors(value, prefix=""):
    """Every tensor inside a result, by dotted field name."""
    if torch.is_tensor(value):
        yield prefix, value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name != "config":
                yield from _tensors(getattr(value, f.name), f"{prefix}.{f.name}".lstrip("."))


def digests(*results) -> dict[str, str]:
    """SHA-256 of the exact bytes of every tensor of every result."""
    return {f"{i}:{name}": hashlib.sha256(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
            for i, result in enumerate(results) for name, t in _tensors(result)}


def _set_threads(n: int) -> None:
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass


@pytest.fixture(scope="module", autouse=True)
def _threads_even_on_small_problems():
    """These runs are small, and the fused pass would keep them on one thread: make thread counts count."""
    from core import _kernels

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_kernels, "MIN_WORK_FOR_THREADS", 0)
        yield


@pytest.fixture(scope="module")
def reference():
    return run_small()


@pytest.mark.bitwise
def test_repeated_runs_are_bitwise_identical(reference):
    again = digests(*run_small())
    assert again == digests(*reference)
    assert len(again) >= 12  # the digests cover the curves, not an empty result


@pytest.mark.bitwise
def test_thread_count_moves_only_the_float32_mlp_and_only_by_rounding(reference):
    """The fp64 sensing run is bitwise on 1 thread too; MKL's sgemm blocks by thread count, so the MLP may drift."""
    threads = torch.get_num_threads()
    try:
        _set_threads(1)
        mlp, sensing = run_small()
    finally:
        _set_threads(threads)
    assert digests(sensing) == digests(reference[1])
    for (name, got), (_, want) in zip(_tensors(mlp), _tensors(reference[0])):
        # max_violation is a difference of near-equal products (~1e-7), so only its absolute size is stable
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=lambda m: f"{name}: {m}")


@pytest.mark.bitwise
@pytest.mark.skipif(not torch.backends.mkl.is_available(), reason="MKL_CBWR is an MKL setting")
def test_with_mkl_strict_mode_one_and_two_threads_give_the_same_bits():
    """MKL_CBWR=AVX2,STRICT (Intel's strict conditional numerical reproducibility) fixes sgemm's order."""
    children = {}
    for threads in (1, 2):
        done = subprocess.run([sys.executable, "-m", "tests._determinism_child", str(threads), "mlp"], cwd=REPO,
                              env={**os.environ, "MKL_CBWR": "AVX2,STRICT"}, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        children[threads] = json.loads(done.stdout.strip().splitlines()[-1])
        assert children[threads].pop("threads") == threads
    different = sorted(name for name in children[1] if children[1][name] != children[2][name])
    # The compiled record sums on one thread in a fixed order: every field is bitwise. Without numba the
    # layer-balance diagnostics use torch.vdot, a BLAS dot whose blocking strict mode does not fix; they are
    # measurements of the run, not part of its trajectory.
    allowed = set() if _mlp_step.AVAILABLE else DOT_PRODUCT_FIELDS
    assert set(different) <= allowed, f"1 and 2 threads differ bitwise in {different}"
    assert len(children[1]) >= 8


def test_different_seeds_give_different_data():
    a, b = build_mlp((16,), seed=0), build_mlp((16,), seed=1)
    assert not torch.equal(a[0].weight, b[0].weight)
    p, q = make_sensing_problem(d=6, r=1, seed=0), make_sensing_problem(d=6, r=1, seed=1)
    assert not torch.equal(p.operator.packed, q.operator.packed) and not torch.equal(p.x_star, q.x_star)
    first, second = (_batch_order(1000, 100, seeded_generator(s, "mlp-batch-order"), "cpu")[0] for s in (0, 1))
    assert not torch.equal(first, second)


def test_probe_batches_of_seed_s_are_not_the_training_order_of_seed_s_plus_1():
    """The overlap a seed + offset scheme has: stream B of seed s replaying stream A of seed s + 1."""
    for seed in range(20):
        probe = _batch_order(60_000, 128, seeded_generator(seed, "mlp-probe-batches"), "cpu")[0]
        for other in (seed - 1, seed, seed + 1):
            order = _batch_order(60_000, 128, seeded_generator(other, "mlp-batch-order"), "cpu")[0]
            assert not torch.equal(probe, order), (seed, other)


def test_no_two_seed_stream_pairs_share_a_state():
    seeds = [*range(-5, 60), 2**31, 2**63, -(2**63)]
    first_draws = {}
    for seed in seeds:
        for stream in STREAMS:
            draw = tuple(torch.randint(0, 2**62, (4,), generator=seeded_generator(seed, stream)).tolist())
            assert draw not in first_draws, f"{stream}/{seed} replays {first_draws[draw]}"
            first_draws[draw] = f"{stream}/{seed}"


@pytest.mark.parametrize("seed", [1.0, "0", None, True])
def test_seed_must_be_an_integer(seed):
    with pytest.raises(ValueError, match=f"seed must be an integer, got {seed!r}"):
        seeded_generator(seed, "mlp-weights")


@pytest.mark.parametrize("stream", ["", None, 3])
def test_stream_must_be_a_name(stream):
    with pytest.raises(ValueError, match=f"stream must be a non-empty name, got {stream!r}"):
        seeded_generator(0, stream)


def test_streams_are_named_after_their_use():
    """Every stream the code draws from is in STREAMS, so the overlap test covers it."""
    used = set()
    for path in (REPO / "core").glob("*.py"):
        text = path.read_text()
        used.update(part.split('"')[1] for part in text.split("seeded_generator(")[1:] if '"' in part.split(")")[0])
    assert used == set(STREAMS)
