"""The Experiment protocol (core.Experiment): every config the claims use implements it, `run` accepts nothing else,
and each config's progress unit, summary and figures work on a tiny result of its own."""

from dataclasses import dataclass

import matplotlib.pyplot as plt
import pytest

from core import DepthProbeConfig, Experiment, MLPConfig, RecoveryConfig, SensingConfig, claim_experiments, run
from tests._support.fake_mnist import tiny_mnist

#: one tiny config of each kind, with the number of progress ticks its run makes and what one tick counts
TINY = {
    "mlp": (MLPConfig(hidden_sizes=(8,), epochs=2, batch_size=64, seed=1), 2, "epoch"),
    "sensing": (SensingConfig(d=10, r=1, m=60, steps=5, alphas=(1e-3,)), 5, "step"),
    "recovery": (RecoveryConfig(d=6, r=1, ms=(20,), trials=2), 2, "solve"),
    "depth-probe": (DepthProbeConfig(depths=(1, 2), width=8, batches=2), 2, "depth"),
}


@pytest.fixture(scope="module")
def results():
    """Each tiny config run once through core.run, with the progress ticks it made."""
    data, out = tiny_mnist(), {}
    for name, (config, _, _) in TINY.items():
        ticks = []
        out[name] = (run(config, data=data, progress=lambda done, total: ticks.append((done, total))), ticks)
    return out


@pytest.mark.parametrize("seed, claim_seeds", [(0, 3), (1000, 1)])
def test_every_claim_experiment_is_an_experiment(seed, claim_seeds):
    configs = claim_experiments(seed, claim_seeds)
    assert {type(config) for config in configs.values()} == {MLPConfig, DepthProbeConfig, SensingConfig,
                                                             RecoveryConfig}
    for name, config in configs.items():
        assert isinstance(config, Experiment), name
        assert isinstance(config.needs_mnist, bool) and config.progress_unit, name
        hash(config)  # frozen: it keys the cache and the claims' table of experiments


@dataclass(frozen=True)
class HalfAnExperiment:
    """Computes, but cannot say how long it takes, how many threads it wants, or how to summarize or draw it."""

    seed: int = 0
    needs_mnist = False
    progress_unit = "step"

    def compute(self, device, data=None, progress=None):
        raise AssertionError("run must refuse this config before computing anything")


@pytest.mark.parametrize("config", [HalfAnExperiment(), {"d": 10, "r": 1}, "sensing", None],
                         ids=["half-an-experiment", "dict", "str", "None"])
def test_run_refuses_what_is_not_an_experiment_naming_its_type(config):
    with pytest.raises(TypeError, match=f"config of type {type(config).__name__}: it does not implement "
                                        "core.experiments.Experiment"):
        run(config)


@pytest.mark.parametrize("name", TINY)
def test_progress_ticks_count_the_configs_unit(name, results):
    """progress(done, total) ends at total = the number of the config's progress_unit in the run: epochs, steps,
    SDP solves, depths."""
    config, count, unit = TINY[name]
    _, ticks = results[name]
    assert config.progress_unit == type(config).progress_unit == unit
    assert ticks and ticks[-1] == (count, count), ticks
    assert all(total == count and 0 <= done <= count for done, total in ticks), ticks


def test_needs_mnist_is_true_exactly_for_the_mlp_experiments():
    assert {name for name, (config, _, _) in TINY.items() if config.needs_mnist} == {"mlp", "depth-probe"}


@pytest.mark.parametrize("name, first_line", [
    ("mlp", "mlp (8,) init=pytorch seed 1, 2 epochs"),
    ("sensing", "sensing d=10 r=1 m=60 (6dr), T=5, seed 0"),
    ("recovery", "recovery d=6 r=1, 2 trials per m, seed 0"),
    ("depth-probe", "gradient norms at pytorch initialization, width 8, seed 0: depth 1: "),
])
def test_summary_is_lines_of_text_that_name_the_experiment(name, first_line, results):
    """`python -m core run NAME` prints these lines and stores them in NAME.json (a config without a summary, as
    the recovery sweep once was, made the command line crash after its run)."""
    config = TINY[name][0]
    result, _ = results[name]
    assert result.config == config
    lines = config.summary(result)
    assert lines[0].startswith(first_line), lines
    assert all(isinstance(line, str) and line.strip() for line in lines), lines


def test_recovery_summary_reports_the_success_rate_per_m(results):
    config = TINY["recovery"][0]
    result, _ = results["recovery"]
    assert result.rel_distance.shape == (1, 2)
    assert f"m=20: {result.success_rate[0]:.2f}" in config.summary(result)[1]


@pytest.mark.parametrize("name, stems", [
    ("mlp", ["F1_nll", "F2_gradient_norms"]),
    ("sensing", ["F3_exact_distance", "F4_distance_by_alpha", "F5_singular_values"]),
    ("recovery", []),
    ("depth-probe", []),
])
def test_figures_are_the_ones_the_config_can_draw(name, stems, results):
    config = TINY[name][0]
    result, _ = results[name]
    figures = config.figures(result)
    try:
        assert list(figures) == stems
        for stem, figure in figures.items():
            assert stem[:2] in " ".join([figure.get_suptitle()] + [ax.get_title() for ax in figure.axes]), stem
            assert figure.axes and all(ax.has_data() for ax in figure.axes), stem
    finally:
        for figure in figures.values():
            plt.close(figure)


def test_threads_and_estimates_are_answered_without_running_anything():
    for name, (config, _, _) in TINY.items():
        assert config.threads("cpu") in (None, 1), name
        assert config.threads("cuda") is None, name  # a GPU run does not compute on CPU threads
        assert config.estimated_seconds() >= 0, name
