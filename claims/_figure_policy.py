"""The image-test policy in one place: `@figure_test` marks a test whose returned Figure is compared to claims/baseline.

Comparison is by RMS tolerance against committed PNGs, not by a hash library: a hash changes with any
single pixel, so it would need one library per matplotlib/freetype version (astropy's `mpl{ver}_ft{ver}.json`)
and would still fail when torch 2.9.1 and 2.14.1 round the experiments' floats differently.
"""

from __future__ import annotations

import functools
import inspect
import tempfile
from pathlib import Path

import matplotlib.style
import pytest
from matplotlib.testing.compare import compare_images

from claims._baseline_files import require_png
from core.figures import RENDER_STYLE, SAVEFIG_KWARGS
from pytest_claims import attach_figure

#: RMS (0-255 grey levels, matplotlib.testing.compare) a rendering may differ from its baseline by.
#: Measured against the seed-0 baselines (matplotlib 3.11.2, freetype 2.14.3, torch 2.14.1 CPU):
#: stand-ins for another torch build reach RMS 3.97 (F2: MLP retrained on one-ulp-shifted inputs, norms
#: off by <= 0.3%), 0.96 (F1, same run) and 2.26 (F3: the exact run outside the batch); the planted
#: change, F2's last-layer curve scaled by 1.05, gives 15.8 (13.4-31.2 for the other layers). 8.0 sits
#: about 2x above the drift and 2x below the planted change. Recolouring one line gives 4-10: not reliably caught.
TOLERANCE = 8.0
#: relative to the test module, so it does not depend on pytest's working directory
BASELINE_DIR = "baseline"
#: the run the baselines were drawn from; other seeds or devices would compare different curves
BASELINE_SEED, BASELINE_DEVICE = 0, "cpu"


#: the CLI draws under the same style, so its PNGs compare with these baselines (core.figures)
TEST_STYLE = RENDER_STYLE


def figure_test(name: str):
    """Compare the Figure the test returns to claims/baseline/<name>.png, the file name the CLI writes too.

    The test must request the `baseline_run` fixture, which skips it unless the run matches the baselines'.
    A missing, truncated or foreign baseline PNG fails the test before pytest-mpl compares, with one message
    naming the file and the regeneration command (claims/_baseline_files.py); --mpl-generate-path skips that check.
    """
    compare = pytest.mark.mpl_image_compare(
        baseline_dir=BASELINE_DIR, filename=f"{name}.png", style=TEST_STYLE, tolerance=TOLERANCE,
        savefig_kwargs=SAVEFIG_KWARGS, deterministic=True,
    )

    def decorate(test):
        # pytest-mpl resolves the marker's baseline_dir against the test module's folder, and so does this.
        baseline = Path(inspect.getfile(test)).resolve().parent / BASELINE_DIR / f"{name}.png"
        signature = inspect.signature(test)
        passes_request = "request" in signature.parameters

        @functools.wraps(test)
        def checked(*args, request, **kwargs):
            require_png(request.config, baseline)
            figure = test(*args, **({**kwargs, "request": request} if passes_request else kwargs))
            _attach(request, name, figure, baseline)
            return figure

        if not passes_request:  # pytest injects fixtures by signature: add `request` for the check
            request = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY)
            checked.__signature__ = signature.replace(parameters=[*signature.parameters.values(), request])
        return pytest.mark.usefixtures("baseline_run")(compare(checked))

    return decorate



def _attach(request, name: str, figure, baseline: Path) -> None:
    """Put the figure on the claims page (--claims-html) beside its baseline, with their difference when the
    RMS exceeds TOLERANCE; saved as pytest-mpl saves it (this runs inside its style context)."""
    if not request.config.getoption("claims_html") and not request.config.getini("claims_html"):
        return
    with tempfile.TemporaryDirectory() as folder:
        actual = Path(folder) / f"{name}.png"
        figure.savefig(actual, **SAVEFIG_KWARGS)
        found = compare_images(str(baseline), str(actual), tol=0, in_decorator=True) if baseline.is_file() else None
        rms = 0.0 if found is None else float(found["rms"])
        diff = Path(found["diff"]).read_bytes() if found is not None and rms > TOLERANCE else None
        attach_figure(request.node, name, actual.read_bytes(),
                      baseline.read_bytes() if baseline.is_file() else None, diff, rms)


def render_png(draw, path) -> None:
    """Draw and save a figure exactly as pytest-mpl does for a @figure_test, for direct comparisons."""
    with matplotlib.style.context(TEST_STYLE, after_reset=True):
        figure = draw()
        figure.savefig(path, **SAVEFIG_KWARGS)
