"""PSD-projected GD on X (core.sensing.psd_projected_descent), the SDP recovery sweep's config and G5's seeds."""

import pytest
import torch

from core import (
    HELD_OUT_START,
    RecoveryConfig,
    claim_experiments,
    g5_seed,
    make_sensing_problem,
    psd_projected_descent,
    seed_set,
)
from core.sensing import project_psd


def test_projection_clips_negative_eigenvalues_and_is_the_nearest_psd_matrix():
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    eigenvalues = torch.tensor([3.0, 1.0, 0.5, -0.2, -1.0, -4.0], dtype=torch.float64)
    x = (q * eigenvalues) @ q.T
    projected = project_psd(x)
    torch.testing.assert_close(projected, (q * eigenvalues.clamp(min=0)) @ q.T)
    # The oracle: the Frobenius distance to the PSD cone is the norm of the negative part.
    assert torch.linalg.matrix_norm(x - projected).item() == pytest.approx(float(torch.tensor([0.2, 1.0, 4.0]).norm()))
    torch.testing.assert_close(project_psd(projected), projected)  # a projection


def test_projected_descent_recovers_x_star_with_ample_measurements_and_not_with_few():
    ample = make_sensing_problem(d=8, r=1, m=200, seed=3)
    trace = psd_projected_descent(ample, steps=400, seed=3)
    assert trace.rel_distance[0] > 0.5 and trace.rel_distance[-1] < 1e-8
    assert trace.loss.shape == (401,) and 0 < trace.lr
    few = make_sensing_problem(d=8, r=1, m=4, seed=3)  # far below the PSD uniqueness threshold
    trace = psd_projected_descent(few, steps=400, seed=3)
    assert trace.loss[-1] < 1e-12 * trace.loss[0] and trace.rel_distance[-1] > 0.1


def test_projected_descent_is_seeded_and_rejects_a_bad_step_count():
    problem = make_sensing_problem(d=6, r=1, m=40, seed=0)
    a, b = psd_projected_descent(problem, 20, seed=5), psd_projected_descent(problem, 20, seed=5)
    torch.testing.assert_close(a.rel_distance, b.rel_distance, rtol=0, atol=0)
    with pytest.raises(ValueError, match="steps"):
        psd_projected_descent(problem, 0)


@pytest.mark.parametrize("kwargs, message", [({"ms": ()}, "ms is empty"), ({"ms": (80, 0)}, "m must be"),
                                             ({"trials": 0}, "trials"), ({"tolerance": 0}, "tolerance"),
                                             ({"r": 40}, "exceeds"), ({"ms": 80}, "ms must be a sequence")])
def test_recovery_config_rejects_bad_input_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RecoveryConfig(**kwargs)


def test_recovery_trials_of_different_base_seeds_are_disjoint():
    assert set(RecoveryConfig(seed=0).trial_seeds).isdisjoint(RecoveryConfig(seed=1).trial_seeds)
    assert RecoveryConfig(seed=2, trials=5).trial_seeds == (10, 11, 12, 13, 14)


def test_g5_draws_held_out_seeds_and_a_bad_count_is_named():
    for base in (0, 3, 1000):
        seeds = [config.seed for name, config in claim_experiments(base, 3).items() if name.startswith("mlp-g5-")]
        assert seeds == [g5_seed(base, k) for k in (1, 2, 3)] and seed_set(seeds) == "held-out"
        assert min(seeds) >= HELD_OUT_START
    with pytest.raises(ValueError, match="claim_seeds must be at most 99"):
        claim_experiments(0, 100)
