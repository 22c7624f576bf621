"""GD steps of a CUDA run captured once as a CUDA graph and replayed: the GPU's work without Python's."""

from __future__ import annotations

import warnings

import torch


class CapturedSteps:
    """`count` consecutive calls of `step(U) -> (distance, gram, loss, U_next)`, captured on a static iterate.

    An eager step spends longer launching its some 25 kernels than the GPU spends on them (docs/benchmarks.md);
    one replay launches a whole chunk of steps. Each replay advances self.U by `count` steps,
    writes step j's Gram to grams_out[j], and leaves the distances and losses in self.distance and
    self.loss, (runs, count), until the next replay.
    """

    def __init__(self, step, U: torch.Tensor, count: int, grams_out: torch.Tensor):
        self.U = U.clone()
        self.distance, self.loss = U.new_empty(2, U.shape[0], count)
        # Warm-up on a side stream, as torch asks before a capture: lazy initialization must not be captured.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            step(self.U.clone())
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            for j in range(count):
                self.distance[:, j], gram, self.loss[:, j], U_next = step(self.U)
                grams_out[j].copy_(gram)
                self.U.copy_(U_next)

    @classmethod
    def try_capture(cls, step, U: torch.Tensor, count: int, grams_out: torch.Tensor) -> CapturedSteps | None:
        """The captured steps, or None (with a warning) where this torch or driver cannot capture them."""
        try:
            return cls(step, U, count, grams_out)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            warnings.warn(f"CUDA graph capture of the GD steps failed ({reason}); they run eagerly, with the "
                          "same results and more launch overhead", RuntimeWarning, stacklevel=3)
            return None

    def replay(self) -> None:
        """Advance self.U by `count` steps."""
        self.graph.replay()
