"""The packed sensing operator, the batched GD solver and the convex baseline (their input checks:
test_validation.py)."""

import pytest
import torch

from core.sensing import (
    PackedSensingOperator,
    SensingDivergenceError,
    alpha_sweep,
    escape_step,
    gradient_descent,
    make_sensing_problem,
    min_nuclear_norm_interpolant,
    sensing_problem_from_tensors,
    step_size,
)

ALPHAS = (1e-4, 1e-2, 1e-1)


def random_problem_tensors(d=8, r=2, m=60, seed=0):
    """Dense non-symmetric A, y = <A_i, X*> and a PSD rank-r X*, built independently of the module."""
    generator = torch.Generator().manual_seed(seed)
    u_star = torch.randn(d, r, generator=generator, dtype=torch.float64)
    x_star = u_star @ u_star.T / d
    A = torch.randn(m, d, d, generator=generator, dtype=torch.float64)
    return A, torch.einsum("ijk,jk->i", A, x_star), x_star


def random_symmetric(d, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    M = torch.randn(batch, d, d, generator=generator, dtype=torch.float64)
    return M + M.mT


@pytest.fixture(scope="module")
def small_problem():
    return make_sensing_problem(d=10, r=2, m=150, seed=3)


def test_forward_matches_dense_inner_products():
    A, _, _ = random_problem_tensors(d=7, m=40, seed=1)
    operator = PackedSensingOperator.from_dense(A)
    X = random_symmetric(7, batch=3, seed=2)
    dense = torch.einsum("ijk,bjk->bi", A, X)
    torch.testing.assert_close(operator.forward(operator.pack(X)), dense, rtol=1e-12, atol=1e-12)


def test_adjoint_identity_and_dense_form():
    A, _, _ = random_problem_tensors(d=7, m=40, seed=4)
    operator = PackedSensingOperator.from_dense(A)
    X = random_symmetric(7, batch=2, seed=5)
    z = torch.randn(2, 40, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    lhs = (operator.forward(operator.pack(X)) * z).sum(dim=1)
    rhs = (X * operator.adjoint(z)).sum(dim=(1, 2))
    torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)
    S = (A + A.mT) / 2
    torch.testing.assert_close(operator.adjoint(z), torch.einsum("bi,ijk->bjk", z, S), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(operator.to_dense(), S, rtol=1e-12, atol=1e-12)


def test_unpack_inverts_pack():
    operator = PackedSensingOperator.from_dense(torch.randn(3, 5, 5, dtype=torch.float64))
    X = random_symmetric(5, batch=4, seed=7)
    assert torch.equal(operator.unpack(operator.pack(X)), X)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("width", [2, 8])
def test_gradient_step_matches_autograd(seed, width):
    A, y, x_star = random_problem_tensors(d=8, r=2, m=60, seed=seed)
    problem = sensing_problem_from_tensors(A, y, x_star)
    U0 = torch.randn(8, width, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64) * 0.3
    lr = 1e-3
    trace = gradient_descent(problem, U0, steps=1, lr=lr)

    U = U0.clone().requires_grad_(True)
    naive_loss = ((torch.einsum("ijk,jk->i", A, U @ U.T) - y) ** 2).mean()
    (autograd_gradient,) = torch.autograd.grad(naive_loss, U)
    torch.testing.assert_close(trace.loss[0], naive_loss.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close((U0 - trace.final_u) / lr, autograd_gradient, rtol=1e-8, atol=1e-10)


def test_trace_records_initial_iterate_and_shapes(small_problem):
    U0 = 0.01 * torch.randn(10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    trace = gradient_descent(small_problem, U0, steps=5, top_k=4)
    assert trace.distance.shape == trace.loss.shape == (6,) and trace.singular_values.shape == (6, 4)
    torch.testing.assert_close(trace.distance[0], torch.linalg.matrix_norm(U0 @ U0.T - small_problem.x_star))
    torch.testing.assert_close(trace.singular_values[0], torch.linalg.svdvals(U0)[:4])
    torch.testing.assert_close(trace.rel_distance, trace.distance / torch.linalg.matrix_norm(small_problem.x_star))
    assert float(trace.lr) == pytest.approx(float(step_size(small_problem.x_star, U0)))


def test_batched_sweep_equals_runs_one_at_a_time(small_problem):
    sweep = alpha_sweep(small_problem, ALPHAS, steps=40, seed=0)
    for alpha in ALPHAS:
        single = gradient_descent(small_problem, alpha * sweep.init_direction, steps=40)
        batched = sweep.alpha_trace(alpha)
        for field in ("distance", "loss", "singular_values", "lr", "final_u"):
            torch.testing.assert_close(getattr(batched, field), getattr(single, field), rtol=1e-10, atol=1e-13)


def test_padded_exact_run_equals_unpadded_run(small_problem):
    sweep = alpha_sweep(small_problem, ALPHAS, steps=60, seed=0, exact_init_scale=1e-3)
    r = small_problem.rank
    unpadded = gradient_descent(small_problem, 1e-3 * sweep.init_direction[:, :r], steps=60)
    exact = sweep.exact_trace
    for field in ("distance", "loss", "singular_values", "lr", "final_u"):
        torch.testing.assert_close(getattr(exact, field), getattr(unpadded, field), rtol=1e-10, atol=1e-13)
    assert torch.all(sweep.trace.final_u[-1][:, r:] == 0)
    assert torch.all(exact.singular_values[:, r:] == 0)


def test_small_init_recovers_x_star_and_escape_is_found(small_problem):
    trace = alpha_sweep(small_problem, (1e-4,), steps=300, seed=0).alpha_trace(1e-4)
    assert float(trace.rel_distance[-1]) < 1e-2
    step = escape_step(trace.rel_distance)
    assert step is not None and float(trace.rel_distance[step]) < 0.5 <= float(trace.rel_distance[step - 1])


def test_problem_generation_is_deterministic():
    first, second = make_sensing_problem(d=6, r=2, seed=5), make_sensing_problem(d=6, r=2, seed=5)
    assert first.m == 10 * 6 * 2
    assert torch.equal(first.operator.packed, second.operator.packed) and torch.equal(first.y, second.y)
    assert not torch.equal(first.y, make_sensing_problem(d=6, r=2, seed=6).y)
    assert torch.linalg.matrix_norm(first.x_star, ord=2).item() == pytest.approx(1.0)


def test_divergence_raises_with_step_loss_and_run(small_problem):
    U0 = 0.1 * torch.randn(2, 10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.raises(SensingDivergenceError, match=r"run 'big lr' at step \d+: loss=") as caught:
        gradient_descent(small_problem, U0, steps=200, lr=torch.tensor([0.01, 50.0]), run_labels=["ok", "big lr"])
    assert isinstance(caught.value, RuntimeError) and caught.value.run == "big lr" and caught.value.step > 0


def test_min_nuclear_norm_interpolant_satisfies_constraints():
    problem = make_sensing_problem(d=6, r=1, m=30, seed=0)
    solution = min_nuclear_norm_interpolant(problem)
    dense = problem.operator.to_dense()
    residual = torch.einsum("ijk,jk->i", dense, solution.x) - problem.y
    assert solution.status == "optimal"
    assert residual.abs().max() < 1e-6 and solution.max_constraint_violation < 1e-6
    assert torch.linalg.eigvalsh(solution.x).min() > -1e-7
    assert torch.trace(solution.x) <= torch.trace(problem.x_star) + 1e-6
