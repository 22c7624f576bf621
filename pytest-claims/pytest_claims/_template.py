"""`pytest-claims init NAME`: a claims module for a new paper that already runs, to edit into the real thing.

It holds an experiment function and its frozen config, a fixture that caches the result (`experiment_results`),
two claims with bounds (one a prediction that must also reject a rival), and a figure shown on the HTML page.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

TEMPLATE = '''"""Claims of {name}: replace the experiment, the config and the claims with the paper's.

Run with `pytest {filename} --claims-html {name}.html`; every threshold sits in BOUNDS.
"""

import math
import random
from dataclasses import dataclass

import pytest

from pytest_claims import Bound, Source, attach_figure

SEEDS = range(20)


@dataclass(frozen=True)
class Config:
    """Everything the result depends on: its repr keys the cached result."""

    samples: int = 10_000
    seed: int = 0


def experiment(config: Config) -> float:
    """Monte Carlo estimate of pi from `samples` uniform points in the unit square."""
    rng = random.Random(config.seed)
    inside = sum(rng.random() ** 2 + rng.random() ** 2 <= 1 for _ in range(config.samples))
    return 4 * inside / config.samples


def rms_error(estimates) -> float:
    return math.sqrt(sum((e - math.pi) ** 2 for e in estimates) / len(estimates))


BOUNDS = {{
    ("E1", "error_over_standard_error"): Bound("<=", 4.0, note="four standard errors"),
    # 100x the samples: the central limit theorem predicts 10x less error, the rival 1/n scaling 100x. The upper
    # bound is their geometric midpoint, so passing means "nearer 10 than 100"; an RMS over 20 seeds is good to
    # about 20%, so the lower bound sits far below 10.
    ("E2", "error_ratio"): Bound(">=", 3.0, note="prediction 10"),
    ("E2", "error_ratio_upper"): Bound("<=", 31.6, note="prediction 10; the rival predicts 100"),
}}


@pytest.fixture
def estimates(experiment_results):
    """Estimates at 1,000 and 100,000 samples on every seed, each computed once across sessions."""
    return {{n: [experiment_results(experiment, Config(samples=n, seed=s)) for s in SEEDS] for n in (1_000, 100_000)}}


@pytest.mark.claim("E1", source=Source(paper="replace with the paper", section="1", note="an example claim"))
def test_the_estimate_is_unbiased(claim, estimates):
    """Over the seeds, the estimates at 100,000 samples lie within four standard errors of pi."""
    n = 100_000
    standard_error = 4 * math.sqrt(math.pi / 4 * (1 - math.pi / 4) / n) / math.sqrt(len(SEEDS))
    mean = sum(estimates[n]) / len(estimates[n])
    claim.param(samples=n, seeds=len(SEEDS))
    claim.measure(mean=mean)
    claim.check("error_over_standard_error", abs(mean - math.pi) / standard_error,
                *BOUNDS["E1", "error_over_standard_error"])


@pytest.mark.claim("E2", source=Source(paper="replace with the paper", equation="1", note="a prediction"))
def test_the_error_falls_as_one_over_the_square_root_of_the_samples(claim, estimates):
    """100x the samples cut the RMS error about 10x (1 / sqrt(n)), not 100x (the rival 1 / n)."""
    ratio = rms_error(estimates[1_000]) / rms_error(estimates[100_000])
    claim.check("error_ratio", ratio, *BOUNDS["E2", "error_ratio"])
    claim.check("error_ratio_upper", ratio, *BOUNDS["E2", "error_ratio_upper"])


def test_figure_of_the_error(request, estimates):
    """The RMS error against the sample count, drawn onto the HTML page (--claims-html)."""
    pyplot = pytest.importorskip("matplotlib.pyplot")
    import io

    figure, axes = pyplot.subplots(figsize=(4, 3))
    ns = sorted(estimates)
    axes.loglog(ns, [rms_error(estimates[n]) for n in ns], "o-", label="measured")
    axes.loglog(ns, [rms_error(estimates[ns[0]]) * math.sqrt(ns[0] / n) for n in ns], "--", label="1/sqrt(n)")
    axes.set(xlabel="samples", ylabel="RMS error")
    axes.legend()
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=80)
    pyplot.close(figure)
    attach_figure(request.node, "E2: error against samples", png.getvalue())
    assert png.getvalue().startswith(b"\\x89PNG")
'''


def render(name: str) -> str:
    """The module's text for a paper named `name` (letters, digits and underscores)."""
    return TEMPLATE.format(name=name, filename=f"test_{name}.py")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pytest-claims init", description=__doc__)
    parser.add_argument("name", help="the paper's short name, e.g. li2018; the module is test_<name>.py")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where to write it (default: here)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.name):
        parser.error(f"NAME {args.name!r}: use letters, digits and underscores, starting with a letter")
    target = args.dir / f"test_{args.name}.py"
    if target.exists():
        parser.error(f"{target} exists; nothing was written")
    args.dir.mkdir(parents=True, exist_ok=True)
    target.write_text(render(args.name))
    print(f"wrote {target}; run: pytest {target} --claims-html {args.name}.html")
    return 0
