"""The fused sensing kernels: numba on the CPU, compiled Triton on CUDA, and the singular values beside them (Triton
under its interpreter, in a child process: tests/integration/test_kernels.py)."""

import pytest
import torch

from core.sensing import (
    BACKEND_ENV,
    PackedSensingOperator,
    SensingDivergenceError,
    _singular_values,
    gradient_descent,
    make_sensing_problem,
    resolve_backend,
)
from core.sensing.kernels import _numba
from tests._support.triton_cases import assert_within_flashattention_tolerance, case


def random_operator(m, d, storage, seed, runs=3):
    generator = torch.Generator().manual_seed(seed)
    packed = torch.randn(m, d * (d + 1) // 2, generator=generator, dtype=torch.float64).to(storage)
    Xp = torch.randn(runs, packed.shape[1], generator=generator, dtype=torch.float64)
    return PackedSensingOperator(packed, d), Xp, torch.randn(m, generator=generator, dtype=torch.float64)


@pytest.mark.parametrize("storage", [torch.float64, torch.float32])
# Run counts cover every register tile (6, 2, 1) and their mixes (7 = 6 + 1, 9 = 6 + 2 + 1, 13 = 6 + 6 + 1).
@pytest.mark.parametrize("m, d, runs", [(1, 3, 1), (5, 4, 2), (257, 6, 3), (2 * _numba.CHUNK_ROWS + 3, 11, 6),
                                        (300, 9, 7), (6, 5, 9), (2 * _numba.CHUNK_ROWS + 1, 3, 13)])
def test_numba_pass_matches_torch(m, d, runs, storage):
    operator, Xp, y = random_operator(m, d, storage, seed=m + d, runs=runs)  # distinct runs: a swapped tile shows
    residual, adjoint = operator.residual_and_adjoint(Xp, y, backend="numba")
    ref_residual, ref_adjoint = operator.residual_and_adjoint(Xp, y, backend="torch")
    torch.testing.assert_close(residual, ref_residual, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(adjoint, ref_adjoint, rtol=1e-12, atol=1e-12)
    assert torch.equal(adjoint, adjoint.mT)


def _trajectory(runs):
    problem = make_sensing_problem(d=20, r=2, m=3 * _numba.CHUNK_ROWS + 17, seed=5)
    U0 = 1e-2 * torch.randn(runs, 20, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    return gradient_descent(problem, U0, steps=30, backend="numba")


@pytest.mark.bitwise
@pytest.mark.parametrize("runs", [3, 6])  # 3: a 2-tile and a 1-tile; 6: one six-run tile, the alpha sweep's
def test_numba_trajectory_is_bitwise_identical_on_one_and_two_threads(monkeypatch, runs):
    monkeypatch.setattr(_numba, "MIN_WORK_FOR_THREADS", 0)  # this small problem would stay on one thread
    torch_threads = torch.get_num_threads()
    traces = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)  # the fused pass uses as many threads as torch had
            traces.append(_trajectory(runs))
    finally:
        torch.set_num_threads(torch_threads)
    for field in ("loss", "distance", "singular_values", "final_u"):
        assert torch.equal(getattr(traces[0], field), getattr(traces[1], field)), field


def test_fused_gradient_descent_follows_the_torch_path():
    problem = make_sensing_problem(d=12, r=2, m=400, seed=2)
    U0 = 1e-3 * torch.randn(2, 12, 12, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    fused = gradient_descent(problem, U0, steps=200, backend="numba")
    plain = gradient_descent(problem, U0, steps=200, backend="torch")
    torch.testing.assert_close(fused.final_u, plain.final_u, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(fused.loss, plain.loss, rtol=1e-8, atol=1e-20)


def test_backend_choice_and_override(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert resolve_backend(torch.device("cpu"), torch.float64) == "numba"
    assert resolve_backend(torch.device("cuda"), torch.float64) == "triton"
    assert resolve_backend(torch.device("cpu"), torch.float32) == "torch"
    monkeypatch.setenv(BACKEND_ENV, "torch")
    assert resolve_backend(torch.device("cpu"), torch.float64) == "torch"
    with pytest.raises(ValueError, match="unknown sensing backend"):
        resolve_backend(torch.device("cpu"), torch.float64, "cublas")


def test_singular_values_keep_relative_accuracy_down_to_1e_minus_6():
    # sigma_i = 10^(-i/2), i = 0..12: down to 1e-6 of the largest.
    d, k = 40, 13
    generator = torch.Generator().manual_seed(0)
    left, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    right, _ = torch.linalg.qr(torch.randn(d, d, generator=generator, dtype=torch.float64))
    sigma = torch.cat([10.0 ** (-torch.arange(k, dtype=torch.float64) / 2), torch.zeros(d - k, dtype=torch.float64)])
    U = (left * sigma) @ right.T
    fast = _singular_values.top_singular_values(U[None], k)[0]
    relative = ((fast - sigma[:k]) / sigma[:k]).abs()
    # Predicted eps / 2 * (sigma_1 / sigma_i)^2 ~ 1e-4 at 1e-6; measured 2.5e-6 there (seed 0).
    assert relative.max() < 1e-3
    assert relative[:9].max() < 1e-7  # down to 1e-4 of the largest
    padded = torch.nn.functional.pad(U[:, :3], (0, 7))
    assert torch.all(_singular_values.top_singular_values(padded[None], 10)[0, 3:] == 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the compiled Triton kernel needs one")
@pytest.mark.parametrize("m, d, runs, storage", [(777, 13, 1, "float64"), (5000, 100, 1, "float64"),
                                                 (2049, 30, 1, "float32"), (1001, 17, 6, "float64"),
                                                 (333, 9, 7, "float32"), (5000, 100, 6, "float64"),
                                                 (2049, 30, 3, "float32")])
def test_compiled_triton_kernel_on_cuda_is_within_flashattention_tolerance(m, d, runs, storage):
    assert_within_flashattention_tolerance(case(m, d, runs, getattr(torch, storage), seed=m, device="cuda"))


@pytest.mark.bitwise
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU step needs one")
def test_gradient_descent_on_cuda_follows_the_cpu_trajectory():
    """The whole GPU step (Triton pass, singular values on CPU threads) against the CPU run, at d = 30, 200 steps."""
    problem = make_sensing_problem(d=30, r=2, m=600, seed=4)
    U0 = 1e-2 * torch.randn(2, 30, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    on_cpu = gradient_descent(problem, U0, steps=200, check_every=7)
    cuda = make_sensing_problem(d=30, r=2, m=600, seed=4, device="cuda")
    on_gpu = gradient_descent(cuda, U0.cuda(), steps=200, check_every=7)
    # Two CPU passes that sum in different orders (numba against torch) differ here by at most 6e-15
    # relative in the histories and 3.5e-13 in final_u (measured); rtol 1e-9 leaves the GPU's own order
    # room, yet a wrong gradient moves these values at the first digit. The H100 run passed; its deviation
    # was not recorded.
    for name in ("distance", "loss", "singular_values", "final_u"):
        torch.testing.assert_close(getattr(on_gpu, name).cpu(), getattr(on_cpu, name), rtol=1e-9, atol=1e-12,
                                   msg=lambda text, name=name: f"{name}: {text}")
    # check_every=7 replays chunks of 7 steps as CUDA graphs; with one chunk of 200 every step runs eagerly.
    eager = gradient_descent(cuda, U0.cuda(), steps=200, check_every=200)
    for name in ("distance", "loss", "singular_values", "final_u"):
        assert torch.equal(getattr(on_gpu, name), getattr(eager, name)), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device: the GPU step needs one")
@pytest.mark.parametrize("check_every", [1, 7])  # 1: the diverged step is inside a replayed graph
def test_divergence_on_cuda_names_the_same_run_and_step_as_on_the_cpu(check_every):
    """A device run checks each chunk's losses behind the next chunk: later, but the same step and run."""
    U0 = 0.1 * torch.randn(2, 10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    caught = []
    for device in ("cpu", "cuda"):
        problem = make_sensing_problem(d=10, r=2, m=150, seed=3, device=device)
        with pytest.raises(SensingDivergenceError) as error:
            gradient_descent(problem, U0.to(device), steps=300, lr=torch.tensor([0.01, 50.0]),
                             run_labels=["ok", "big lr"], check_every=check_every)
        caught.append((error.value.run, error.value.step))
    assert caught[0] == caught[1] and caught[0][0] == "big lr"


def test_float32_storage_defines_the_problem_and_keeps_exact_recovery():
    problem = make_sensing_problem(d=20, r=2, m=400, seed=3, storage_dtype=torch.float32)
    assert problem.operator.packed.dtype == torch.float32 and problem.y.dtype == torch.float64
    # y comes from the stored values, so X* solves the stored problem exactly (up to fp64 rounding).
    exact_y = problem.operator.packed.double() @ problem.operator.pack(problem.x_star)
    torch.testing.assert_close(problem.y, exact_y, rtol=1e-14, atol=1e-14)
    U0 = 1e-3 * torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    trace = gradient_descent(problem, U0, steps=400)  # 3e-16 by step 300 on seed 3
    assert trace.rel_distance[-1] <= 1e-10  # S1's threshold, at a size a unit test can afford


def test_a_small_pass_stays_on_the_calling_thread(monkeypatch):
    """Below MIN_WORK_FOR_THREADS the pass never hands chunks to the pool (its handoffs would cost more)."""
    operator, Xp, y = random_operator(2 * _numba.CHUNK_ROWS, 6, torch.float64, seed=3)
    assert operator.m * operator.packed.shape[1] * len(Xp) < _numba.MIN_WORK_FOR_THREADS
    monkeypatch.setattr(_numba, "_run_on_workers", lambda *args: pytest.fail("a small pass used the pool"))
    operator.residual_and_adjoint(Xp, y, backend="numba", threads=2)


def test_gradient_descent_restores_torch_threads():
    before = torch.get_num_threads()
    _trajectory(runs=3)
    assert torch.get_num_threads() == before


@pytest.mark.bitwise
def test_singular_values_on_host_threads_equal_the_per_step_values():
    # The path a GPU run takes, driven here with CPU tensors: chunks of 4 steps, 3 threads, 7 recorded steps
    # (the first chunk's 12 Grams go to two threads, GRAMS_PER_JOB apiece; the last 9 to one).
    generator = torch.Generator().manual_seed(5)
    iterates = [torch.randn(3, 12, 12, generator=generator, dtype=torch.float64) for _ in range(7)]
    with _singular_values.SingularValuesOnHost(iterates[0], steps=6, top_k=5, chunk=4, workers=3) as host:
        for t, U in enumerate(iterates):
            host.record(t, U.mT @ U)
            if t in (3, 6):
                host.flush(t + 1)
        values = host.result(torch.device("cpu"))
    expected = torch.stack([_singular_values.top_singular_values(U, 5) for U in iterates], dim=1)
    assert values.shape == (3, 7, 5)
    assert torch.equal(values, expected)
