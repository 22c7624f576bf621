"""A GD step of a CUDA run captured once as a CUDA graph and replayed: the GPU's work without Python's."""

from __future__ import annotations

import warnings

import torch

#: Runs shorter than this step eagerly: capturing costs about two steps (a warm-up and the capture).
MIN_STEPS_FOR_GRAPH = 10


class CapturedStep:
    """`step(U) -> (*outputs, U_next)` captured on a static iterate; each replay advances it by one step.

    An eager step on an H100 spent ~0.7 ms launching some 25 kernels for ~0.25 ms of GPU work (README,
    Benchmarks); a replay launches them all at once. The outputs are the graph's own buffers, overwritten
    by the next replay, so the caller copies them out first (ordered on the same stream).
    """

    def __init__(self, step, U: torch.Tensor):
        self.U = U.clone()
        # Warm-up on a side stream, as torch asks before a capture: lazy initialization must not be captured.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            step(self.U.clone())
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            *self.outputs, U_next = step(self.U)
            self.U.copy_(U_next)

    @classmethod
    def try_capture(cls, step, U: torch.Tensor) -> CapturedStep | None:
        """The captured step, or None (with a warning) where this torch or driver cannot capture it."""
        try:
            return cls(step, U)
        except RuntimeError as err:
            reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            warnings.warn(f"CUDA graph capture of the GD step failed ({reason}); the steps run eagerly, "
                          "with the same results and more launch overhead", RuntimeWarning, stacklevel=3)
            return None

    def replay(self) -> tuple[torch.Tensor, ...]:
        """Advance self.U by one step; the step's outputs, valid until the next replay."""
        self.graph.replay()
        return tuple(self.outputs)
