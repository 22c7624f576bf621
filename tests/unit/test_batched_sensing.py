"""Sensing problems of one shape solved together (core.sensing.gradient_descent_problems, alpha_sweep_problems)
against the oracle: each problem's own alpha_sweep, one at a time on its default pass (numba on the CPU)."""

import pytest
import torch

from core.sensing import (
    SensingDivergenceError,
    alpha_sweep,
    alpha_sweep_problems,
    gradient_descent_problems,
    make_sensing_problem,
)

ALPHAS = (1e-3, 1e-2, 0.1)


def test_each_problem_of_a_batch_follows_its_own_alpha_sweep():
    """Different summation orders only: the histories agree to rounding (1e-9 relative, 1e-12 absolute; the
    small singular values per their error model), the step sizes and initial directions exactly."""
    seeds = (3, 4, 5)
    problems = [make_sensing_problem(d=10, r=2, m=120, seed=s) for s in seeds]
    batched = alpha_sweep_problems(problems, ALPHAS, steps=300, seeds=seeds)
    for problem, seed, together in zip(problems, seeds, batched):
        alone = alpha_sweep(problem, ALPHAS, steps=300, seed=seed)
        assert torch.equal(together.init_direction, alone.init_direction)
        assert torch.equal(together.trace.lr, alone.trace.lr)
        for field in ("distance", "loss", "final_u"):
            torch.testing.assert_close(getattr(together.trace, field), getattr(alone.trace, field),
                                       rtol=1e-9, atol=1e-12, msg=f"seed {seed}: {field}")
        # Singular values come from the Gram's eigenvalues, whose absolute error is about eps * sigma_1^2
        # (core.sensing._singular_values): sigma_i moves by eps * sigma_1^2 / (2 sigma_i), 6e-12 at 1.6e-5 here.
        torch.testing.assert_close(together.trace.singular_values, alone.trace.singular_values, rtol=1e-9,
                                   atol=1e-10, msg=f"seed {seed}: singular values")
        # and the run really recovers X*, so the agreement is about a trajectory that goes somewhere
        assert float(alone.alpha_trace(1e-3).rel_distance[-1]) < 1e-2 < float(alone.alpha_trace(1e-3).rel_distance[0])


def test_problems_of_different_shapes_or_a_wrong_start_are_refused_by_name():
    small, large = make_sensing_problem(d=6, r=1, m=40), make_sensing_problem(d=6, r=1, m=50)
    with pytest.raises(ValueError, match="problems must share one shape.*problem 1 has d=6, m=50"):
        alpha_sweep_problems([small, large], ALPHAS, steps=5, seeds=(0, 1))
    with pytest.raises(ValueError, match="seeds has 1 entries for 2 problems"):
        alpha_sweep_problems([small, small], ALPHAS, steps=5, seeds=(0,))
    with pytest.raises(ValueError, match=r"U0 must be \(P, B, d, R\) with P=2"):
        gradient_descent_problems([small, small], torch.zeros(1, 2, 6, 6, dtype=torch.float64), steps=5)


def test_a_diverging_run_is_named_by_problem_and_run():
    problems = [make_sensing_problem(d=6, r=1, m=40, seed=s) for s in (0, 1)]
    U0 = torch.full((2, 1, 6, 6), 0.01, dtype=torch.float64)
    U0[1, 0] = 1e3  # problem 1's only run starts far beyond where eta keeps GD stable
    with pytest.raises(SensingDivergenceError, match="problem 1, run 0"):
        gradient_descent_problems(problems, U0, steps=50, eta=50.0)
