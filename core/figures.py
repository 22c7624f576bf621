"""Figures F1-F5 as pure functions of experiment results, each returning a new matplotlib Figure."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib as mpl
import matplotlib.testing
import numpy as np
from matplotlib.figure import Figure

from ._util import atomic_writer
from .sensing import FLOOR_MARGIN, distance_floor

if TYPE_CHECKING:
    from .experiments import SensingResult
    from .mlp import MLPHistory

#: mpl20 defaults plus the few settings the figures rely on; the CLI and the image tests both draw under it
STYLE = ["default", {"axes.grid": True, "grid.alpha": 0.35, "legend.fontsize": "small", "axes.titlesize": "medium"}]


def _matplotlib_test_rc() -> dict:
    """The rcParams matplotlib's own image tests pin (font family, hinting), as they differ from the defaults."""
    with mpl.rc_context(), warnings.catch_warnings():
        warnings.simplefilter("ignore", mpl.MatplotlibDeprecationWarning)  # rcdefaults touches deprecated keys
        mpl.rcdefaults()
        defaults = dict(mpl.rcParams)
        matplotlib.testing.set_font_settings_for_testing()
        matplotlib.testing.set_reproducibility_for_testing()
        # matplotlib 3.11 pins font.family "DejaVu Sans" (the default font, by name) and keeps text.hinting
        # "default"; older versions pinned text.hinting "none" with hinting_factor 8, and get that here.
        return {k: v for k, v in mpl.rcParams.items() if v != defaults[k]}


#: what every figure is drawn under, by the CLI and the image tests alike: STYLE plus matplotlib's test fonts,
#: so a PNG from `python -m core` can be compared with, or replace, a baseline
RENDER_STYLE = [*STYLE, _matplotlib_test_rc()]
#: no "Software" entry, so the PNG bytes do not name the matplotlib version that wrote them
SAVEFIG_KWARGS = {"metadata": {"Software": None}}
# Sized for a README column: 100 dpi keeps text legible when the page scales the image down.
_SINGLE, _DOUBLE, _DPI = (6.4, 4.2), (11.0, 4.6), 100


def _numpy(values) -> np.ndarray:
    return np.asarray(values.detach().cpu() if hasattr(values, "detach") else values, dtype=float)


def _new_figure(size, panels: int = 1, sharey: bool = False):
    figure = Figure(figsize=size, dpi=_DPI, layout="constrained")
    return figure, figure.subplots(1, panels, squeeze=False, sharey=sharey)[0]


def _pin_ylim(axes, log: bool, decades: float = 0.1) -> None:
    """Fix the y limits to rounded values of the plotted data, so a tiny data change moves no tick or grid line.

    On a log axis the limits are rounded outward to multiples of `decades`.
    """
    values = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for ax in axes for line in ax.lines])
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if values.size == 0 or values.max() <= 0:
        return  # nothing drawable to pin to: leave matplotlib's autoscaling
    if log:
        low, high = np.log10(values.min()) - 0.05, np.log10(values.max()) + 0.05
        axes[0].set_ylim(10 ** (np.floor(low / decades) * decades), 10 ** (np.ceil(high / decades) * decades))
    else:
        top = 1.05 * values.max()
        step = 10.0 ** (np.floor(np.log10(top)) - 1)  # two significant digits
        axes[0].set_ylim(0, np.ceil(top / step) * step)


def _shared_legend(figure: Figure, axes, **kwargs) -> None:
    # Panels share their lines' meaning; one legend below them cannot cover any curve.
    figure.legend(*axes.get_legend_handles_labels(), loc="outside lower center", **kwargs)


def _alpha_label(alpha: float) -> str:
    exponent = np.log10(alpha)
    if np.isclose(exponent, round(exponent)):
        return rf"$\alpha = 10^{{{round(exponent)}}}$"
    return rf"$\alpha = {alpha:g}$"


def nll_figure(history: MLPHistory) -> Figure:
    """F1: epoch-mean train NLL and end-of-epoch test NLL against epoch."""
    figure, (axes,) = _new_figure(_SINGLE)
    epochs = np.arange(1, len(history.train_nll) + 1)
    axes.plot(epochs, _numpy(history.train_nll), label="train (epoch mean)")
    axes.plot(epochs, _numpy(history.test_nll), label="test (end of epoch)")
    axes.set(xlabel="epoch", ylabel="negative log-likelihood", yscale="log",
             title=f"F1: MNIST MLP loss (seed {history.config.seed})")
    _pin_ylim([axes], log=True)
    axes.legend(loc="upper right")
    return figure


def gradient_norm_figure(history: MLPHistory) -> Figure:
    """F2: epoch-mean Frobenius norm of each layer's weight gradient against epoch."""
    figure, (axes,) = _new_figure(_SINGLE)
    norms = _numpy(history.grad_norms)
    epochs = np.arange(1, norms.shape[0] + 1)
    for layer, (name, shape) in enumerate(zip(history.layer_names, history.layer_shapes)):
        axes.plot(epochs, norms[:, layer], label=f"{name} ({shape[1]}→{shape[0]})")
    axes.set(xlabel="epoch", ylabel=r"gradient norm $\|\nabla_W L\|_F$ (epoch mean)",
             title=f"F2: per-layer gradient norms (seed {history.config.seed})")
    _pin_ylim([axes], log=False)
    axes.legend(title="layer", loc="lower right", ncols=2)
    return figure


def _distance_axes(axes, title: str, decades: float = 0.1) -> None:
    axes.set(xlabel="gradient-descent step t", ylabel=r"$\|U_t U_t^\top - X^\star\|_F$", yscale="log", title=title)
    _pin_ylim([axes], log=True, decades=decades)


def _m_label(result: SensingResult) -> str:
    return f"m = {result.config.m_per_dr:g}dr"


def exact_distance_figure(result: SensingResult) -> Figure:
    """F3: distance to X* against step for the exactly parameterized run (R = r), clipped at the float64 floor.

    Under the floor (core.sensing.distance_floor) the distance is rounding noise whose level moves with the CPU's
    kernels; the curve is drawn clipped there, on a labelled line, so that no pixel depends on that noise.
    """
    sweep = result.sweep
    figure, (axes,) = _new_figure(_SINGLE)
    floor = distance_floor(float(np.linalg.norm(_numpy(sweep.x_star))))
    distance = np.maximum(_numpy(sweep.exact_trace.distance), floor)
    axes.plot(np.arange(len(distance)), distance, color="C3",
              label=f"R = r = {sweep.rank}, $U_0$ scale {sweep.exact_init_scale:g}")
    axes.axhline(floor, color="0.4", linestyle=":", linewidth=1.2,
                 label=rf"float64 floor, ${FLOOR_MARGIN:g}\,\varepsilon\,\|X^\star\|_F$")
    _distance_axes(axes, f"F3: exact parameterization, {_m_label(result)}", decades=1.0)
    axes.legend(loc="upper right")
    return figure


def alpha_distance_figure(results: list[SensingResult]) -> Figure:
    """F4: distance to X* against step, one line per alpha, one panel per measurement budget m."""
    figure, panels = _new_figure(_DOUBLE, len(results))
    # Larger budget on the left: 10dr is the well-posed case the 5dr panel is read against.
    for axes, result in zip(panels, sorted(results, key=lambda r: r.config.m, reverse=True)):
        sweep = result.sweep
        for index, alpha in enumerate(sweep.alphas):
            distance = _numpy(sweep.alpha_trace(alpha).distance)
            axes.plot(np.arange(len(distance)), distance, color=f"C{index}", label=_alpha_label(alpha))
        _distance_axes(axes, f"{_m_label(result)}, R = d = {result.config.d}")
    _shared_legend(figure, panels[0], ncols=len(panels[0].lines))
    figure.suptitle("F4: over-parameterized GD from $U_0 = \\alpha W$")
    return figure


def singular_value_figure(result: SensingResult, small_alpha: float | None = None,
                          large_alpha: float | None = None) -> Figure:
    """F5: the top singular values of U_t against step, for a small and a large alpha (default: the extremes)."""
    sweep = result.sweep
    small_alpha = min(sweep.alphas) if small_alpha is None else small_alpha
    large_alpha = max(sweep.alphas) if large_alpha is None else large_alpha
    # A shared y axis shows the small-alpha gap between signal and noise directions against the large-alpha one.
    figure, panels = _new_figure(_DOUBLE, 2, sharey=True)
    for axes, alpha in zip(panels, (small_alpha, large_alpha)):
        values = _numpy(sweep.alpha_trace(alpha).singular_values)
        steps = np.arange(values.shape[0])
        for k in range(values.shape[1]):
            # The r signal directions solid, the rest dashed, so the rank split reads at a glance.
            axes.plot(steps, values[:, k], color=f"C{k}", linestyle="-" if k < sweep.rank else "--",
                      label=rf"$\sigma_{{{k + 1}}}$")
        axes.set(xlabel="gradient-descent step t", yscale="log", title=_alpha_label(alpha))
    panels[0].set_ylabel(r"singular value of $U_t$")
    _pin_ylim(panels, log=True)
    _shared_legend(figure, panels[0], ncols=values.shape[1])
    figure.suptitle(f"F5: top-{values.shape[1]} singular values of $U_t$, {_m_label(result)}")
    return figure


def all_figures(history: MLPHistory, sensing: list[SensingResult]) -> dict[str, Figure]:
    """F1-F5 keyed by their file stem; F3 and F5 use the sweep with the most measurements."""
    largest = max(sensing, key=lambda r: r.config.m)
    return {
        "F1_nll": nll_figure(history),
        "F2_gradient_norms": gradient_norm_figure(history),
        "F3_exact_distance": exact_distance_figure(largest),
        "F4_distance_by_alpha": alpha_distance_figure(sensing),
        "F5_singular_values": singular_value_figure(largest),
    }


def save_png(figure: Figure, path: str | os.PathLike) -> Path:
    """Write the figure as PNG through a temporary file, so a reader never sees half an image."""
    with atomic_writer(path) as out:  # draw the figure under RENDER_STYLE to match the baselines
        figure.savefig(out, format="png", **SAVEFIG_KWARGS)
    return Path(path)
