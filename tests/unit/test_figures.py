"""Unit tests of figures F1-F5 and the figures CLI on small synthetic data."""

import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

import core.__main__ as cli
from core import MLPConfig, MLPHistory, SensingConfig, claim_experiments, run
from core.experiments import _run, progress_bar
from core.figures import (
    all_figures,
    alpha_distance_figure,
    exact_distance_figure,
    gradient_norm_figure,
    nll_figure,
    save_png,
    singular_value_figure,
)
from core.sensing import distance_floor

EPOCHS, STEPS, ALPHAS = 6, 30, (1e-4, 1e-2, 1e-1)


@pytest.fixture(scope="module")
def history() -> MLPHistory:
    epochs = torch.arange(1, EPOCHS + 1, dtype=torch.float64)
    return MLPHistory(
        config=MLPConfig(hidden_sizes=(8, 8), epochs=EPOCHS, seed=3),
        layer_names=["fc1", "fc2", "fc3"], layer_shapes=[(8, 784), (8, 8), (10, 8)],
        init_grad_norms=torch.ones(3, dtype=torch.float64),
        grad_norms=torch.stack([1 / epochs, 0.5 / epochs, 0.25 / epochs], dim=1),
        train_nll=2 / epochs, test_nll=2.2 / epochs, test_accuracy=torch.full((EPOCHS,), 0.9, dtype=torch.float64),
    )


@pytest.fixture(scope="module")
def sweeps() -> dict:
    """Two real but tiny sweeps (d = 12, r = 2) standing in for m = 10dr and m = 5dr."""
    return {m: run(SensingConfig(d=12, r=2, m=m * 12 * 2, alphas=ALPHAS, steps=STEPS, seed=1)) for m in (10, 5)}


def legend_labels(figure) -> list[str]:
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend()] + list(figure.legends)
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def titles(figure) -> str:
    suptitle = figure.get_suptitle() if hasattr(figure, "get_suptitle") else ""
    return " ".join([suptitle] + [ax.get_title() for ax in figure.axes])


@pytest.fixture
def every_figure(history, sweeps):
    return all_figures(history, list(sweeps.values()))


def test_all_figures_are_named_f1_to_f5(every_figure):
    assert [name[:2] for name in every_figure] == ["F1", "F2", "F3", "F4", "F5"]


def test_every_figure_has_title_axis_labels_and_legend(every_figure):
    for name, figure in every_figure.items():
        assert name[:2] in titles(figure), name
        for ax in figure.axes:
            assert ax.get_xlabel(), name
        assert figure.axes[0].get_ylabel(), name
        assert legend_labels(figure), name


def test_figures_leave_pyplot_state_alone(history, sweeps):
    before = plt.get_fignums()
    all_figures(history, list(sweeps.values()))
    assert plt.get_fignums() == before


def test_f1_plots_train_and_test_nll_against_epoch(history):
    ax = nll_figure(history).axes[0]
    assert ax.get_xlabel() == "epoch" and "log-likelihood" in ax.get_ylabel()
    assert [label.split()[0] for label in legend_labels(ax.figure)] == ["train", "test"]
    train, test = ax.lines
    np.testing.assert_allclose(train.get_xdata(), np.arange(1, EPOCHS + 1))
    np.testing.assert_allclose(train.get_ydata(), history.train_nll.numpy())
    np.testing.assert_allclose(test.get_ydata(), history.test_nll.numpy())


def test_f2_has_one_line_per_layer_named_in_the_legend(history):
    ax = gradient_norm_figure(history).axes[0]
    assert len(ax.lines) == 3
    labels = legend_labels(ax.figure)
    assert [label.split()[0] for label in labels] == history.layer_names
    np.testing.assert_allclose(ax.lines[2].get_ydata(), history.grad_norms[:, 2].numpy())
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0


def test_f3_is_the_exact_run_on_a_log_axis(sweeps):
    ax = exact_distance_figure(sweeps[10]).axes[0]
    assert ax.get_yscale() == "log" and "10dr" in ax.get_title()
    line, floor_line = ax.lines
    sweep = sweeps[10].sweep
    floor = distance_floor(float(torch.linalg.matrix_norm(sweep.x_star)))
    # the curve, clipped at the float64 floor, which is drawn as a labelled line of its own
    np.testing.assert_allclose(line.get_ydata(), np.maximum(sweep.exact_trace.distance.numpy(), floor))
    np.testing.assert_allclose(floor_line.get_ydata(), [floor, floor])
    labels = legend_labels(ax.figure)
    assert "R = r = 2" in labels[0] and "float64 floor" in labels[1]


def test_f3_draws_no_pixel_from_rounding_noise_under_the_floor(sweeps):
    """Two runs that differ only under the floor (as two CPUs' roundings do) draw the same curve."""
    result = sweeps[10]
    batched = result.sweep.trace
    floor = distance_floor(float(torch.linalg.matrix_norm(result.sweep.x_star)))

    def exact_run_ending_at(level):  # the exact run (the batch's last) ending at another rounding level
        noisy = batched.distance.clone()
        noisy[-1, -1] = level
        return dataclasses.replace(result, sweep=dataclasses.replace(
            result.sweep, trace=dataclasses.replace(batched, distance=noisy)))

    first = exact_distance_figure(exact_run_ending_at(floor / 3)).axes[0].lines[0].get_ydata()
    second = exact_distance_figure(exact_run_ending_at(floor / 7)).axes[0].lines[0].get_ydata()
    assert first[-1] == second[-1] == floor


def test_f4_puts_step_on_x_with_one_line_per_alpha_per_panel(sweeps):
    figure = alpha_distance_figure(list(sweeps.values()))
    assert len(figure.axes) == 2
    assert ["10dr" in figure.axes[0].get_title(), "5dr" in figure.axes[1].get_title()] == [True, True]
    for ax, m in zip(figure.axes, (10, 5)):
        assert ax.get_yscale() == "log" and "step t" in ax.get_xlabel()
        assert len(ax.lines) == len(ALPHAS)
        # t on x (the original notebook had the axes swapped): x is the step index, y the distance.
        np.testing.assert_allclose(ax.lines[0].get_xdata(), np.arange(STEPS + 1))
        np.testing.assert_allclose(ax.lines[0].get_ydata(), sweeps[m].sweep.alpha_trace(ALPHAS[0]).distance.numpy())
    assert len(legend_labels(figure)) == len(ALPHAS)


def test_f5_shows_top_singular_values_for_small_alpha_and_0_1(sweeps):
    figure = singular_value_figure(sweeps[10])
    small, large = figure.axes
    assert "10^{-4}" in small.get_title() and "10^{-1}" in large.get_title()
    assert len(small.lines) == len(large.lines) == 10
    assert small.get_yscale() == "log" and small.get_shared_y_axes().joined(small, large)
    top = sweeps[10].sweep.alpha_trace(0.1).singular_values[:, 0]
    np.testing.assert_allclose(large.lines[0].get_ydata(), top.numpy())
    assert len(legend_labels(figure)) == 10


def test_y_limits_ignore_a_tiny_data_change(history):
    nudged = dataclasses.replace(history, grad_norms=history.grad_norms * (1 + 1e-4))
    assert gradient_norm_figure(nudged).axes[0].get_ylim() == gradient_norm_figure(history).axes[0].get_ylim()


def test_save_png_is_atomic_and_has_no_software_metadata(history, tmp_path):
    path = save_png(nll_figure(history), tmp_path / "f1.png")
    assert [p.name for p in tmp_path.iterdir()] == ["f1.png"]
    with Image.open(path) as image:
        assert image.format == "PNG" and "Software" not in image.info


def test_cli_writes_all_five_pngs(history, sweeps, tmp_path, monkeypatch):
    """`python -m core figures` on stand-in results: cached_run's call of run (core.experiments._run.run) returns
    them, so neither MNIST nor a paper-scale sweep is touched, and only the claims' three experiments are asked for."""
    fake = {"mlp": history, "sensing-10dr": sweeps[10], "sensing-5dr": sweeps[5]}
    by_config = {config: fake[name] for name, config in claim_experiments(0).items() if name in fake}
    asked = []

    def stand_in(config, device, **kwargs):
        asked.append(config)
        return by_config[config]

    monkeypatch.setattr(_run, "run", stand_in)
    assert cli.main(["figures", "--out", str(tmp_path / "new"), "--device", "cpu", "--no-cache"]) == 0
    assert len(asked) == 3 and set(asked) == set(by_config)
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "F1_nll.png", "F2_gradient_norms.png", "F3_exact_distance.png", "F4_distance_by_alpha.png",
        "F5_singular_values.png"]


def test_cli_rejects_an_out_path_that_is_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["figures", "--out", str(tmp_path / "file")])
    assert exit_info.value.code == 2 and "not a directory" in capsys.readouterr().err


def test_progress_bar_redraws_sparsely(capsys):
    import sys

    suspended = []
    progress = progress_bar("run", stream=sys.stderr, suspend=lambda: _counting(suspended))
    for t in range(1001):
        progress(t, 1000)
    # 1001 calls within a second: the first draw, perhaps one timed redraw, and the final one.
    assert 2 <= len(suspended) <= 4
    assert "1000/1000" in capsys.readouterr().err


def _counting(calls):
    import contextlib

    calls.append(1)
    return contextlib.nullcontext()
