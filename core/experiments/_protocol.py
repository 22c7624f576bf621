"""The one protocol every experiment config implements."""

from __future__ import annotations

from typing import Callable, ClassVar, Protocol, runtime_checkable

#: progress(done, total), called by a computation as it advances
Progress = Callable[[int, int], None]


@runtime_checkable
class Experiment(Protocol):
    """A frozen config that `core.run` computes, the cache keys, the scheduler orders, the CLI summarizes and draws.

    - `needs_mnist`: `run` loads MNIST (once, only if the result is computed) and passes it as `data`.
    - `progress_unit`: what one `progress(done, total)` tick counts, for the progress bar.
    - `compute(device, data, progress)`: the result, which carries this config.
    - `threads(device)`: torch's thread count for the computation, or None for the caller's. The float32 MLP's
      sums, and so its bits, depend on the count while the cache key does not name it: MNIST experiments on
      the CPU run on one thread, so every caller (command line, serial or xdist pytest, experiments side by
      side) stores one set of values, on the count the numeric baselines were recorded with.
    - `estimated_seconds()`: a rough single-thread time, used only to start the longest experiments first.
    - `summary(result)`: a few lines of text; `figures(result)`: the figures it can draw, by file stem.
    """

    needs_mnist: ClassVar[bool]
    progress_unit: ClassVar[str]
    seed: int

    def compute(self, device, data=None, progress: Progress | None = None): ...

    def threads(self, device) -> int | None: ...

    def estimated_seconds(self) -> float: ...

    def summary(self, result) -> list[str]: ...

    def figures(self, result) -> dict: ...
