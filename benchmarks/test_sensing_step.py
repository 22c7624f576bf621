"""K1 and K2: GD steps of the matrix-sensing loss at d = 100, m = 5000, against the operator-read floor; K6: problems
of one shape batched, against one after another."""

from __future__ import annotations

import pytest
import torch

from core import alpha_sweep, gradient_descent, make_sensing_problem
from core.experiments import PAPER_ALPHAS
from core.sensing import BACKEND_ENV, alpha_sweep_problems, resolve_backend

from .conftest import DEVICES, gemm_anchor_s, median_seconds, read_floor_s, record, synchronize

D, R, M = 100, 5, 5000
#: steps per timed call, by device; the call also makes the final forward pass, so it reads the operator
#: STEPS + 1 times. They amortize a call's one-time setup (initial iterates, step sizes) as the claims'
#: 600-3000-step runs do: on CPU a hundred (the sweep's setup, 5-7 ms beyond its first pass, added 0.6 ms a
#: step over ten steps and 0.2 ms, 3% of the floor, over thirty; over a hundred 0.06 ms); on a GPU, where a
#: step is 0.1-0.25 ms and the setup (a graph capture, pinned buffers) 6-9 ms (H200), the 5dr sweep's 3000.
#: Each row records that setup as `setup_s`: a call of zero steps.
STEPS_BY_DEVICE = {"cpu": 100, "cuda": 3000}
ROUNDS = 5
#: rounds of the torch rows: references, not targets, and 3-10x slower than the fused rows they anchor
REFERENCE_ROUNDS = 2


@pytest.fixture(scope="module", params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(scope="module")
def problems(device):
    """The handout's problem, stored in float64 and (the allowed alternative) in float32."""
    return {dtype: make_sensing_problem(D, R, M, seed=0, device=device, storage_dtype=dtype)
            for dtype in (torch.float64, torch.float32)}


def pass_seconds(problem, Xp, backend, device, repeats=21) -> float:
    """Median time of the fused pass alone (residual and adjoint, no step around it) on these iterates."""
    return median_seconds(lambda: problem.operator.residual_and_adjoint(Xp, problem.y, backend), device,
                          repeats, warmup=1)


def _timed(benchmark, device, run, rounds=ROUNDS):
    def call():
        run()
        synchronize(device)
    benchmark.pedantic(call, rounds=rounds, warmup_rounds=1)


# The torch path on the float32 operator upcasts it every call, a fallback nobody should time, so it is left out.
@pytest.mark.parametrize("storage, backend", [("float64", "fused"), ("float32", "fused"), ("float64", "torch")])
def test_k1_one_run_step(benchmark, problems, device, storage, backend):
    """K1: one GD step, one over-parameterized run (U0 = 1e-3 W, 100 x 100); the torch row is the baseline."""
    problem = problems[getattr(torch, storage)]
    chosen = resolve_backend(torch.device(device), torch.float64) if backend == "fused" else "torch"
    U0 = 1e-3 * torch.randn(D, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(device)
    fp64_packed = problems[torch.float64].operator.packed
    floor, fp64_floor = read_floor_s(problem.operator.packed), read_floor_s(fp64_packed)
    steps = STEPS_BY_DEVICE[device]
    _timed(benchmark, device, lambda: gradient_descent(problem, U0, steps, backend=chosen),
           ROUNDS if backend == "fused" else REFERENCE_ROUNDS)
    floor = min(floor, read_floor_s(problem.operator.packed))
    fp64_floor = min(fp64_floor, read_floor_s(fp64_packed))
    median = benchmark.stats.stats.median
    alone = pass_seconds(problem, problem.operator.pack(U0 @ U0.T)[None], chosen, device)
    setup = median_seconds(lambda: gradient_descent(problem, U0, 0, backend=chosen), device, repeats=3)
    # fp64_floor_ratio < 1 is the stretch goal: a step faster than one read of the float64 operator.
    record(benchmark, "K1", problem.operator.packed.nbytes, floor, per_call=steps + 1, backend=chosen,
           storage=storage, steps=steps, per_step_s=median / (steps + 1), has_target=backend == "fused",
           fp64_floor_ratio=median / ((steps + 1) * fp64_floor), pass_s=alone, pass_ratio=alone / floor,
           setup_s=setup)


@pytest.mark.parametrize("backend", ["fused", "torch"])
def test_k2_sweep_step(benchmark, problems, device, backend, monkeypatch):
    """K2: one step of the whole alpha sweep (5 alphas plus the exact run, one batch), float64 operator."""
    problem = problems[torch.float64]
    chosen = resolve_backend(torch.device(device), torch.float64) if backend == "fused" else "torch"
    monkeypatch.setenv(BACKEND_ENV, chosen)  # alpha_sweep has no backend argument; the override reaches it
    floor = read_floor_s(problem.operator.packed)
    steps = STEPS_BY_DEVICE[device]
    _timed(benchmark, device, lambda: alpha_sweep(problem, PAPER_ALPHAS, steps),
           ROUNDS if backend == "fused" else REFERENCE_ROUNDS)
    floor = min(floor, read_floor_s(problem.operator.packed))
    runs = len(PAPER_ALPHAS) + 1
    # Six runs make the pass compute-bound: 4 m P runs = 606 Mflop a step, against a 202 MB read. The anchor
    # says how far the step is from MKL's rate on the same arithmetic; the target stays the read floor.
    compute = gemm_anchor_s(M, problem.operator.packed.shape[1], runs, torch.get_num_threads()) \
        if device == "cpu" else None
    Xp = 1e-6 * torch.randn(runs, problem.operator.packed.shape[1], generator=torch.Generator().manual_seed(2),
                            dtype=torch.float64).to(device)
    alone = pass_seconds(problem, Xp, chosen, device)
    setup = median_seconds(lambda: alpha_sweep(problem, PAPER_ALPHAS, 0), device, repeats=3)
    record(benchmark, "K2", problem.operator.packed.nbytes, floor, per_call=steps + 1, backend=chosen,
           runs=runs, steps=steps, per_step_s=benchmark.stats.stats.median / (steps + 1),
           has_target=backend == "fused", compute_anchor_s=compute, pass_s=alone, pass_ratio=alone / floor,
           setup_s=setup,
           compute_anchor_ratio=None if compute is None else benchmark.stats.stats.median / ((steps + 1) * compute))


#: (d, r, m, steps) of K6's problems: the handout's 10dr sweep, and one of P1's d = 40 threshold runs
K6_SHAPES = {"10dr": (100, 5, 5000, 10), "d40-m400": (40, 2, 400, 100)}
#: seeds per K6 batch
K6_PROBLEMS = 4


@pytest.mark.parametrize("shape", K6_SHAPES)
def test_k6_problems_batched(benchmark, device, shape):
    """K6: the alpha sweeps of K6_PROBLEMS seeds' problems of one shape as one batch (alpha_sweep_problems,
    torch bmm) against the same sweeps one after another on the default pass (alpha_sweep: numba on the CPU,
    Triton on CUDA), both timed in this test. A ratio below 1 means batching pays; it decides whether a study
    batches sensing seeds (docs/study.md)."""
    d, r, m, steps = K6_SHAPES[shape]
    seeds = list(range(K6_PROBLEMS))
    problems = [make_sensing_problem(d, r, m, seed=s, device=device) for s in seeds]
    one_by_one_s = median_seconds(lambda: [alpha_sweep(p, PAPER_ALPHAS, steps, seed=s)
                                           for p, s in zip(problems, seeds)], device, 2, warmup=1)
    _timed(benchmark, device, lambda: alpha_sweep_problems(problems, PAPER_ALPHAS, steps, seeds), rounds=2)
    record(benchmark, "K6", sum(p.operator.packed.nbytes for p in problems), one_by_one_s, has_target=False,
           anchor="the same sweeps one after another (alpha_sweep)", shape=shape, problems=K6_PROBLEMS,
           steps=steps)
