"""Batched gradient descent on U U^T for matrix sensing, and the alpha sweep that shares one batch."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, fields, replace
from typing import Sequence

import torch

from .._util import check_finite, describe, seeded_generator, torch_threads
from ._problem import SensingProblem, resolve_backend
from ._singular_values import HostCopy, SingularValuesOnHost, top_singular_values
from .kernels._cuda_graph import CapturedSteps


class SensingDivergenceError(RuntimeError):
    """A gradient-descent run whose loss became non-finite or exploded past its limit."""

    def __init__(self, run: str, step: int, loss: float, limit: float):
        self.run, self.step, self.loss, self.limit = run, step, loss, limit
        super().__init__(
            f"gradient descent diverged in run {run!r} at step {step}: loss={loss:.3e} "
            f"(non-finite or above the limit {limit:.3e}); use a smaller eta/lr or init scale"
        )


def step_size(x_star: torch.Tensor, U0: torch.Tensor, eta: float = 0.1) -> torch.Tensor:
    """Learning rate eta / max(||X*||_2, ||U0||_2^2), per run for batched (B, d, R) U0."""
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise ValueError(f"eta must be a positive finite number, got {eta!r}")
    # Spectral norms on the CPU: a GPU's batched SVD of a few 100 x 100 matrices costs as much as dozens of GD
    # steps (docs/benchmarks.md). On CPU tensors .cpu() is a no-op, so CPU runs are unchanged.
    init_scale = torch.linalg.matrix_norm(U0.cpu(), ord=2).square()
    lr = eta / torch.clamp(init_scale, min=torch.linalg.matrix_norm(x_star.cpu(), ord=2))
    return lr.to(U0.device)


@dataclass(frozen=True)
class SensingTrace:
    """GD histories; index t is the iterate after t steps, so each history has steps + 1 entries.

    Shapes mirror U0: with (d, R) input, distance is (steps+1,), singular_values (steps+1, top_k), lr a scalar
    and final_u (d, R); with batched (B, d, R) input every field gains a leading B axis.
    """

    distance: torch.Tensor  # ||U_t U_t^T - X*||_F
    rel_distance: torch.Tensor  # distance / ||X*||_F
    loss: torch.Tensor  # (1/m) sum_i (<A_i, U_t U_t^T> - y_i)^2
    singular_values: torch.Tensor  # top_k singular values of U_t, zero-padded when R < top_k
    lr: torch.Tensor
    final_u: torch.Tensor

    def run(self, index: int) -> SensingTrace:
        """Unbatched trace of one run of a batched trace."""
        if self.loss.ndim != 2:
            raise ValueError("run() needs a batched trace")
        return SensingTrace(*(getattr(self, f.name)[index] for f in fields(self)))


def first_step(condition: torch.Tensor) -> int | None:
    """First index at which a boolean history is true, or None."""
    hits = torch.nonzero(condition)
    return int(hits[0]) if len(hits) else None


def escape_step(rel_distance: torch.Tensor, threshold: float = 0.5) -> int | None:
    """First step t with rel_distance[t] < threshold (escape from the small-init plateau) of one run, or None."""
    if rel_distance.ndim != 1:
        raise ValueError(f"escape_step takes one run's (steps + 1,) history, got {tuple(rel_distance.shape)}")
    return first_step(rel_distance < threshold)


def _validated_init(problem: SensingProblem, U0: torch.Tensor) -> torch.Tensor:
    if not torch.is_tensor(U0) or U0.ndim not in (2, 3) or U0.shape[-2] != problem.d or U0.numel() == 0:
        shape = tuple(U0.shape) if torch.is_tensor(U0) else type(U0).__name__
        raise ValueError(f"U0 must be a non-empty (d, R) or (B, d, R) tensor with d={problem.d}, got {shape}")
    # A silent cast would run another problem than the one asked for (an int U0, a float32 copy).
    x_star = problem.x_star
    if U0.dtype != x_star.dtype or U0.device != x_star.device:
        raise ValueError(f"U0 must match the problem's dtype and device ({str(x_star.dtype).removeprefix('torch.')} "
                         f"on {x_star.device}), got {describe(U0)}")
    check_finite("U0", U0)
    U = U0.detach()
    return U if U.ndim == 3 else U[None]


def _resolve_lr(problem: SensingProblem, U: torch.Tensor, lr, eta: float) -> torch.Tensor:
    if lr is None:
        return step_size(problem.x_star, U, eta)
    if isinstance(lr, bool) or not (isinstance(lr, (int, float)) or torch.is_tensor(lr)):
        raise ValueError(f"lr must be a positive finite number or a tensor of one per run, got {lr!r}")
    lr = torch.as_tensor(lr, dtype=U.dtype, device=U.device).flatten()
    if lr.numel() == 1:
        lr = lr.expand(U.shape[0])
    if lr.shape != (U.shape[0],) or not (torch.isfinite(lr).all() and (lr > 0).all()):
        raise ValueError(f"lr must be a positive finite scalar or one value per run ({U.shape[0]}), got {lr}")
    return lr.clone()


def _check_gd_arguments(steps, eta, top_k, check_every, divergence_factor) -> None:
    for name, value, least in (("steps", steps, 0), ("top_k", top_k, 1), ("check_every", check_every, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    for name, value in (("eta", eta), ("divergence_factor", divergence_factor)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def _raise_if_diverged(loss_chunk: torch.Tensor, first_step: int, limit: torch.Tensor, labels) -> None:
    bad = ~torch.isfinite(loss_chunk) | (loss_chunk > limit[:, None])
    if not bad.any():  # the only host sync, paid once per chunk
        return
    step_index = torch.arange(loss_chunk.shape[1], device=bad.device).expand_as(bad)
    first_bad = torch.where(bad, step_index, loss_chunk.shape[1]).min(dim=1).values
    run, step = int(first_bad.argmin()), int(first_bad.min())
    raise SensingDivergenceError(labels[run], first_step + step, float(loss_chunk[run, step]), float(limit[run]))


def gradient_descent(problem: SensingProblem, U0: torch.Tensor, steps: int, lr=None, eta: float = 0.1,
                     top_k: int = 10, run_labels: Sequence[str] | None = None, check_every: int = 25,
                     divergence_factor: float = 1e8, progress=None, backend: str | None = None) -> SensingTrace:
    """Plain GD on f(U) = (1/m) sum_i (<A_i, U U^T> - y_i)^2 for U0 of shape (d, R) or a batch (B, d, R).

    lr defaults to step_size(x_star, U0, eta) = eta / max(||X*||_2, ||U0||_2^2) per run. Measured at d=100,
    seed 0: eta = 0.1 stays finite even for alpha = 1, while alpha = 0.3 diverges within 3 steps at eta >= 0.5
    or with a fixed lr = 0.1. A run diverges when its loss turns non-finite or exceeds
    divergence_factor * max(initial loss, mean y^2); SensingDivergenceError then names the run
    (run_labels[i], default "run i"), the step and the loss. The check runs every check_every steps.
    progress(t, steps), if given, is called after each recorded iterate t = 0..steps. backend picks the
    operator pass (resolve_backend; default: Triton on CUDA, numba on CPU).
    """
    _check_gd_arguments(steps, eta, top_k, check_every, divergence_factor)
    U = _validated_init(problem, U0)
    runs, _, width = U.shape
    lr_per_run = _resolve_lr(problem, U, lr, eta)
    labels = list(run_labels) if run_labels is not None else [f"run {i}" for i in range(runs)]
    if len(labels) != runs:
        raise ValueError(f"run_labels has {len(labels)} entries for {runs} runs")

    operator, y, x_star = problem.operator, problem.y, problem.x_star
    backend = resolve_backend(U.device, U.dtype, backend)
    distance, loss = U.new_empty(2, runs, steps + 1)
    kept = min(top_k, width)
    update_scale = (4.0 / problem.m) * lr_per_run.view(runs, 1, 1)
    # The fused CPU pass brings its own threads. Torch's share of a step is d x d products and one batched
    # eigvalsh, faster on one thread even when idle; on a loaded machine their two-thread barriers wait on
    # descheduled threads, up to hundreds of times longer than the solve itself. A device run
    # hands its singular values to CPU threads, each running LAPACK on one thread.
    on_host = U.device.type != "cpu"
    # A device run's values come back from SingularValuesOnHost.result instead.
    singular_values = None if on_host else U.new_zeros(runs, steps + 1, top_k)

    def device_step(U):
        # One step of a device run: the iterate's diagnostics, the fused pass, the update. Eager and
        # replayed steps run this same code, so a graph changes the launches, not the arithmetic.
        X = U @ U.mT
        residual, adjoint = operator.residual_and_adjoint(operator.pack(X), y, backend)
        return (torch.linalg.matrix_norm(X - x_star), U.mT @ U, residual.square().mean(dim=1),
                U - update_scale * (adjoint @ U))

    def finish(t):
        # After iterate t is recorded: the divergence check (and, for a device run, the hand-off of the
        # chunk's Grams) every check_every iterates, then progress.
        nonlocal limit, checked_until, unchecked
        if t == 0:  # on the host: a device run's chunks are checked there
            limit = (divergence_factor * torch.clamp(loss[:, 0], min=y.square().mean())).cpu()
        if t + 1 - checked_until >= check_every or t == steps:
            if host is None:
                _raise_if_diverged(loss[:, checked_until:t + 1], checked_until, limit, labels)
            else:
                # A device run checks each chunk's losses once the next chunk is queued: the GPU works on
                # while the host waits for them, and a divergence is reported one chunk later at most,
                # naming the same step.
                host.flush(t + 1)
                if unchecked is not None:
                    losses, first = unchecked
                    _raise_if_diverged(losses.wait(), first, limit, labels)
                unchecked = (HostCopy(loss[:, checked_until:t + 1]), checked_until)
                if t == steps:
                    _raise_if_diverged(unchecked[0].wait(), checked_until, limit, labels)
            checked_until = t + 1
        if progress is not None:
            progress(t, steps)

    limit, captured, checked_until, unchecked = None, None, 0, None
    with torch.no_grad(), torch_threads(1 if backend == "numba" or on_host else None) as threads, \
            (SingularValuesOnHost(U, steps, top_k, check_every) if on_host else contextlib.nullcontext()) as host:
        t = 0
        while t <= steps:
            if host is None:
                X = U @ U.mT
                Xp = operator.pack(X)

                def diagnostics(t=t, U=U, X=X):
                    # Needs only the iterate: computed on this thread while the fused pass's other threads run.
                    distance[:, t] = torch.linalg.matrix_norm(X - x_star)
                    singular_values[:, t, :kept] = top_singular_values(U, kept)

                # The last iterate needs only its residual, but one fused pass costs the same as a forward pass.
                residual, adjoint = operator.residual_and_adjoint(Xp, y, backend, threads, alongside=diagnostics)
                loss[:, t] = residual.square().mean(dim=1)
                if t < steps:
                    # grad f(U) = (4/m) A*(A(U U^T) - y) U
                    U = U - update_scale * (adjoint @ U)
                finish(t)
                t += 1
                continue
            # A device run replays whole chunks of update steps, aligned with the checks, as one CUDA graph
            # (captured at the first such chunk); the first chunk and the last iterate run eagerly.
            whole_chunk = U.is_cuda and t > 0 and t % check_every == 0 and t + check_every <= steps
            if whole_chunk and captured is None:
                captured = CapturedSteps.try_capture(device_step, U, check_every, host.chunk_buffer) or False
            if whole_chunk and captured:
                captured.U.copy_(U)
                captured.replay()
                distance[:, t:t + check_every], loss[:, t:t + check_every] = captured.distance, captured.loss
                U = captured.U.clone()
                for done in range(t, t + check_every):
                    finish(done)
                t += check_every
                continue
            distance[:, t], gram, loss[:, t], U_next = device_step(U)
            host.record(t, gram)
            U = U_next if t < steps else U
            finish(t)
            t += 1
        if host is not None:
            singular_values = host.result(U.device)

    trace = SensingTrace(distance, distance / torch.linalg.matrix_norm(x_star), loss, singular_values,
                         lr_per_run, U)
    return trace if U0.ndim == 3 else trace.run(0)


@dataclass(frozen=True)
class AlphaSweepResult:
    """One batched GD call: runs 0..len(alphas)-1 use U0 = alpha W, the last run is the exact R = r run."""

    alphas: tuple[float, ...]
    exact_init_scale: float
    init_direction: torch.Tensor  # W, (d, d)
    rank: int
    x_star: torch.Tensor
    trace: SensingTrace  # batched over len(alphas) + 1 runs

    def alpha_trace(self, alpha: float) -> SensingTrace:
        """Trace of the over-parameterized run with this alpha."""
        for index, swept in enumerate(self.alphas):
            if math.isclose(swept, alpha, rel_tol=1e-12):
                return self.trace.run(index)
        raise KeyError(f"alpha={alpha} not in sweep {self.alphas}")

    @property
    def exact_trace(self) -> SensingTrace:
        """Trace of the exact run, final_u cropped to its r live columns (the padding stays exactly zero)."""
        exact = self.trace.run(len(self.alphas))
        return replace(exact, final_u=exact.final_u[:, :self.rank])


def alpha_sweep(problem: SensingProblem, alphas: Sequence[float], steps: int, seed: int = 0, eta: float = 0.1,
                exact_init_scale: float = 1e-3, top_k: int = 10, progress=None) -> AlphaSweepResult:
    """Run every alpha (U0 = alpha W, W in R^{d x d} i.i.d. N(0,1)) plus the exact run in one batch.

    The exact run uses U0 = exact_init_scale * W[:, :r], zero-padded to width d so it shares the batch;
    GD keeps the zero columns exactly zero because the gradient is S U. W has its own stream ("sensing-init"),
    independent of the problem's. progress goes to gradient_descent.
    """
    alphas = tuple(float(a) for a in alphas)
    W, inits = sweep_inits(problem, alphas, seed, exact_init_scale)
    labels = [f"alpha={a:g}" for a in alphas] + [f"exact R=r={problem.rank}"]
    trace = gradient_descent(problem, inits, steps, eta=eta, top_k=top_k, run_labels=labels, progress=progress)
    return AlphaSweepResult(alphas, exact_init_scale, W, problem.rank, problem.x_star, trace)


def sweep_inits(problem: SensingProblem, alphas: Sequence[float], seed: int,
                exact_init_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, the sweep's (len(alphas) + 1, d, d) initial iterates): alpha W for each alpha, then the exact run's
    exact_init_scale W[:, :r] padded with zero columns."""
    alphas = tuple(float(a) for a in alphas)
    if not alphas or not all(math.isfinite(a) and a > 0 for a in alphas):
        raise ValueError(f"alphas must be a non-empty sequence of positive finite numbers, got {alphas}")
    if not (math.isfinite(exact_init_scale) and exact_init_scale > 0):
        raise ValueError(f"exact_init_scale must be positive and finite, got {exact_init_scale}")
    d, r = problem.d, problem.rank
    generator = seeded_generator(seed, "sensing-init")
    W = torch.randn(d, d, generator=generator, dtype=torch.float64).to(problem.x_star.device, problem.x_star.dtype)
    exact_init = torch.nn.functional.pad(exact_init_scale * W[:, :r], (0, d - r))
    return W, torch.stack([alpha * W for alpha in alphas] + [exact_init])
