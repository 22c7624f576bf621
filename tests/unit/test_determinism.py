"""Same seed, same bits: repeated runs and 1 vs 2 threads; different seeds and streams, different draws."""

import pytest
import torch

from core import make_sensing_problem
from core._util import seeded_generator
from core.mlp import build_mlp
from core.mlp._train import batch_order
from tests._support.determinism import digests, run_small, set_threads, tensors

#: every named stream the code draws from
STREAMS = ("mlp-weights", "mlp-probe-batches", "mlp-batch-order", "sensing-problem", "sensing-init", "projected-init")


@pytest.fixture(scope="module", autouse=True)
def _threads_even_on_small_problems():
    """These runs are small, and the fused pass would keep them on one thread: make thread counts count."""
    from core.sensing.kernels import _numba

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_numba, "MIN_WORK_FOR_THREADS", 0)
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
        set_threads(1)
        mlp, sensing = run_small()
    finally:
        set_threads(threads)
    assert digests(sensing) == digests(reference[1])
    for (name, got), (_, want) in zip(tensors(mlp), tensors(reference[0])):
        # max_violation is a difference of near-equal products (~1e-7), so only its absolute size is stable
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6, msg=lambda m: f"{name}: {m}")


def test_different_seeds_give_different_data():
    a, b = build_mlp((16,), seed=0), build_mlp((16,), seed=1)
    assert not torch.equal(a[0].weight, b[0].weight)
    p, q = make_sensing_problem(d=6, r=1, seed=0), make_sensing_problem(d=6, r=1, seed=1)
    assert not torch.equal(p.operator.packed, q.operator.packed) and not torch.equal(p.x_star, q.x_star)
    first, second = (batch_order(1000, 100, seeded_generator(s, "mlp-batch-order"), "cpu")[0] for s in (0, 1))
    assert not torch.equal(first, second)


def test_probe_batches_of_seed_s_are_not_the_training_order_of_seed_s_plus_1():
    """The overlap a seed + offset scheme has: stream B of seed s replaying stream A of seed s + 1."""
    for seed in range(20):
        probe = batch_order(60_000, 128, seeded_generator(seed, "mlp-probe-batches"), "cpu")[0]
        for other in (seed - 1, seed, seed + 1):
            order = batch_order(60_000, 128, seeded_generator(other, "mlp-batch-order"), "cpu")[0]
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
