"""Progress bars (tqdm) for long experiments, as the `progress(done, total)` callbacks the solvers accept."""

from __future__ import annotations

import contextlib
import sys
import time

from tqdm import tqdm

REDRAW_SECONDS = 0.5


def progress_bar(label: str, unit: str = "step", stream=None, suspend=contextlib.nullcontext):
    """A `progress(done, total)` callback drawing one tqdm bar; `suspend()` wraps each redraw (e.g. pytest capture)."""
    state = {"bar": None, "drawn": 0.0}

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        # Solvers call this every step: redraw (and pay for `suspend`) at most twice a second.
        if state["bar"] is not None and now - state["drawn"] < REDRAW_SECONDS and done < total:
            return
        state["drawn"] = now
        with suspend():
            if state["bar"] is None:
                state["bar"] = tqdm(total=total, desc=label, unit=unit, file=stream or sys.stderr,
                                    mininterval=0, dynamic_ncols=True)
            bar = state["bar"]
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

    return progress
