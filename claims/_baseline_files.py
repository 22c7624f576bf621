"""A missing or damaged committed baseline fails its own test with one clear message; nothing is written.

Left to themselves the plugins do worse: pytest-regressions *creates* a missing CSV in claims/test_baselines/
and fails once, so the next run passes against numbers nobody reviewed, and it reports an unreadable or
reshaped CSV as a pandas traceback or a key/shape error that names neither the file nor the fix; pytest-mpl
reports a missing PNG by its folder only and a truncated or foreign one as a PIL traceback. So each test checks
its committed file first, unless the run regenerates baselines on purpose (--force-regen / --regen-all for the
CSVs, --mpl-generate-path for the PNGs), and fails naming the file and the command that regenerates it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: how the baselines are regenerated on purpose (also in the docstrings of claims/test_baselines.py and
#: claims/test_figures.py, and in the README)
REGENERATE_CSV = "OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 pytest claims/test_baselines.py --force-regen"
REGENERATE_PNG = "pytest claims/test_figures.py --mpl-generate-path=claims/baseline"


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (claims/...), else absolute."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:  # another drive
        return str(path)


def csv_problem(path: Path, data: dict) -> str | None:
    """What makes the CSV at `path` unusable as the baseline of the table `data`, or None.

    The file must parse as num_regression writes it: pandas' unnamed index column, then exactly the
    table's columns, as many rows as its longest column, numbers only (NaN allowed).
    """
    import pandas as pd

    if not path.is_file():
        return "is missing"
    try:
        stored = pd.read_csv(path)
    except Exception as err:  # noqa: BLE001 - undecodable bytes, an empty file, a ragged table: all unusable
        return f"cannot be read as CSV ({type(err).__name__}: {err})"
    columns = list(stored.columns)
    if not columns or columns[0] != "Unnamed: 0":
        return f"does not start with num_regression's index column (its header is {columns[:4]})"
    stored_columns, table_columns = columns[1:], list(data)
    missing = [c for c in table_columns if c not in stored_columns]
    extra = [c for c in stored_columns if c not in table_columns]
    if missing or extra:
        parts = ([f"lacks the column(s) {missing}"] if missing else []) + \
                ([f"has column(s) {extra} that the table does not"] if extra else [])
        return " and ".join(parts)
    rows = max((len(v) for v in data.values()), default=0)
    if len(stored) != rows:
        return f"has {len(stored)} rows where the table has {rows}"
    not_numeric = [c for c in stored_columns if not pd.api.types.is_numeric_dtype(stored[c])]
    if not_numeric:
        return f"holds values that are not numbers in column(s) {not_numeric}"
    return None


def png_problem(path: Path) -> str | None:
    """What makes the file at `path` unusable as an image baseline, or None: missing, not a PNG, or truncated."""
    from PIL import Image

    if not path.is_file():
        return "is missing"
    try:
        with Image.open(path) as image:
            image.load()  # decodes every pixel: a truncated file fails here, not only at the header
            if image.format != "PNG":
                return f"is a {image.format} image, not a PNG"
    except Exception as err:  # noqa: BLE001 - PIL raises OSError, SyntaxError, ValueError... for damaged files
        return f"is not a readable PNG ({type(err).__name__}: {err})"
    return None


def fail(kind: str, path: Path, problem: str, regenerate: str) -> None:
    """Fail the current test: which file, what is wrong with it, and how to regenerate it deliberately."""
    delete_first = " (delete the file first: the plugin cannot read it to replace it)" \
        if problem.startswith("cannot be read") else ""
    pytest.fail(f"{kind} baseline {_shown(path)} {problem}.\nNothing was compared and nothing was written. "
                f"If this change is meant, regenerate the baselines deliberately{delete_first} and review the diff "
                f"before committing:\n    {regenerate}", pytrace=False)


def require_csv(path: Path, data: dict, regenerating: bool) -> None:
    """Fail the test unless `path` is a usable baseline for `data`; a regenerating run is left to the plugin."""
    if regenerating:
        return
    problem = csv_problem(path, data)
    if problem is not None:
        fail("numeric", path, problem, REGENERATE_CSV)


def require_png(config, path: Path) -> None:
    """Fail the test unless `path` is a usable image baseline, when pytest-mpl compares against it.

    With --mpl-generate-path the run writes baselines on purpose, and without --mpl it compares nothing.
    """
    if config.getoption("--mpl-generate-path", None) is not None or not config.getoption("--mpl", False):
        return
    problem = png_problem(path)
    if problem is not None:
        fail("image", path, problem, REGENERATE_PNG)
