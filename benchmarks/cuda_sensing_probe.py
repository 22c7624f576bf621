"""Profile the CUDA sensing step on a GPU machine: read floor, kernel correctness, kernel variants, step breakdown.

Run on a machine with CUDA:
`python benchmarks/cuda_sensing_probe.py [correctness passes tiles oneread eigvalsh steps busy overhead]`
(about 3 minutes for all). Prints one table per section; the benchmarks (benchmarks/test_sensing_step.py) carry
the recorded ratios.
"""

from __future__ import annotations

import statistics
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import triton  # noqa: E402
from triton.testing import do_bench  # noqa: E402

from core import alpha_sweep, gradient_descent, make_sensing_problem  # noqa: E402
from core.experiments import PAPER_ALPHAS  # noqa: E402
from core.sensing import BACKEND_ENV, PackedSensingOperator, _singular_values  # noqa: E402
from core.sensing.kernels import _triton as kernel  # noqa: E402

D, R, M = 100, 5, 5000


def long_double_pass(packed: np.ndarray, Xp: np.ndarray, y: np.ndarray, d: int):
    """The fused pass (residual X A^T - y, then the symmetric adjoint of the residual) in numpy's long double,
    from the operator values as stored: the yardstick of both the kernel and torch."""
    A, X, target = (v.astype(np.longdouble) for v in (packed, Xp, y))
    residual = X @ A.T - target
    rows, cols = np.triu_indices(d)
    halved = (residual @ A) * np.where(rows == cols, 1.0, 0.5)  # packed off-diagonal entries count twice
    adjoint = np.zeros((X.shape[0], d, d), dtype=np.longdouble)
    adjoint[:, rows, cols] = halved
    adjoint[:, cols, rows] = halved
    return residual, adjoint


def kernel_errors(m: int, d: int, runs: int, storage: torch.dtype, seed: int) -> dict:
    """Max abs error of the compiled kernel, and of torch's pass in the storage dtype, against the long-double pass
    on a random problem; and whether a second kernel call is bitwise the first (`repeatable`)."""
    generator = torch.Generator().manual_seed(seed)
    P = d * (d + 1) // 2
    packed = torch.randn(m, P, generator=generator, dtype=torch.float64).to(storage)
    Xp = torch.randn(runs, P, generator=generator, dtype=torch.float64)
    y = torch.randn(m, generator=generator, dtype=torch.float64)
    exact = long_double_pass(packed.numpy(), Xp.numpy(), y.numpy(), d)
    op, Xp, y = PackedSensingOperator(packed.cuda(), d), Xp.cuda(), y.cuda()
    first = kernel.fused_residual_adjoint(op.packed, Xp, y, op._rows, op._cols, d)
    second = kernel.fused_residual_adjoint(op.packed, Xp, y, op._rows, op._cols, d)
    plain = op.residual_and_adjoint(Xp.to(storage), y.to(storage), backend="torch")

    def worst(pair):
        return [float(np.max(np.abs(t.double().cpu().numpy().astype(np.longdouble) - ref)))
                for t, ref in zip(pair, exact)]

    return {"kernel": worst(first), "plain": worst(plain),
            "repeatable": all(torch.equal(a, b) for a, b in zip(first, second))}


def section(title):
    print(f"\n=== {title} ===", flush=True)


def median_ms(fn):
    return do_bench(fn, warmup=50, rep=300, return_mode="median")


def handout_problem():
    """The benchmarks' problem on CUDA (d=100, r=5, m=5000, seed 0) and K1's initial iterate 1e-3 W."""
    problem = make_sensing_problem(D, R, M, seed=0, device="cuda")
    U0 = 1e-3 * torch.randn(D, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64).cuda()
    return problem, U0


def synced_seconds(fn) -> float:
    """Wall time of one call of fn, the work it queued on the GPU included."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def forward_only(op, Xp, y, bm, bp, warps, stages=None):
    extra = {} if stages is None else {"num_stages": stages}
    return kernel.residuals(op.packed, Xp, y, (bm, bp), num_warps=warps, **extra)


def adjoint_only(op, residual, bm, bp, warps, groups, stages=None):
    extra = {} if stages is None else {"num_stages": stages}
    return kernel.adjoint_partials(op.packed, residual, (bm, bp), groups, num_warps=warps, **extra)


FORWARD = {1: [(16, 128, 4), (16, 256, 4), (32, 128, 4), (16, 512, 8), (32, 256, 8), (8, 256, 4), (64, 128, 8),
               (16, 256, 4, 2), (16, 256, 4, 4)],
           8: [(16, 64, 4), (8, 64, 4), (16, 32, 4), (8, 128, 8), (16, 64, 8), (32, 32, 8), (4, 128, 4),
               (8, 64, 4, 2), (8, 64, 4, 4)]}
ADJOINT = {1: [(16, 64, 4, 16), (32, 64, 4, 16), (16, 128, 4, 16), (32, 128, 8, 16), (16, 64, 4, 32),
               (64, 64, 8, 16), (16, 256, 8, 8), (32, 64, 4, 16, 2), (32, 64, 4, 16, 4)],
           8: [(16, 64, 4, 16), (8, 64, 4, 16), (16, 32, 4, 16), (8, 128, 8, 16), (16, 64, 8, 16), (16, 64, 4, 32),
               (4, 128, 4, 32), (8, 64, 4, 16, 2), (8, 64, 4, 16, 4)]}


def sweep_tiles(ops, floors):
    section("tile sweep at d=100, m=5000: each kernel alone, median us (one read of the operator = floor)")
    g = torch.Generator().manual_seed(3)
    print(f"{'kernel':8s} {'runs':>4s} {'stor':>4s} {'config (rows, cols, warps, [groups], [stages])':48s} "
          f"{'us':>8s} {'x floor':>8s}")
    for runs in (1, 6):
        Xp = torch.randn(runs, D * (D + 1) // 2, generator=g, dtype=torch.float64).cuda() * 1e-3
        y = torch.randn(M, generator=g, dtype=torch.float64).cuda()
        residual = torch.randn(runs, M, generator=g, dtype=torch.float64).cuda()
        for k, op in ops.items():
            timed = [("forward", config, lambda c=config: forward_only(op, Xp, y, *c))
                     for config in FORWARD[triton.next_power_of_2(runs)]]
            timed += [("adjoint", config, lambda c=config: adjoint_only(op, residual, *c))
                      for config in ADJOINT[triton.next_power_of_2(runs)]]
            for name, config, launch in timed:
                try:
                    t = median_ms(launch)
                    print(f"{name:8s} {runs:4d} {k:>4s} {str(config):48s} {t * 1e3:8.1f} {t / floors[k]:8.2f}",
                          flush=True)
                except Exception as err:  # a shape that does not compile is a finding, not a crash
                    print(f"{name} {runs} {k} {config} failed: {str(err).splitlines()[0][:80]}")


ONE_READ = [(128, 16, 1), (256, 16, 1), (128, 8, 1), (128, 16, 2), (128, 8, 2), (256, 16, 2), (128, 32, 2),
            (128, 16, 4)]


def sweep_one_read():
    section("one-read pass (one run) at d=100, m=5000: (programs, warps), median us and ratio to one read")
    g = torch.Generator().manual_seed(4)
    packed64 = torch.randn(M, D * (D + 1) // 2, generator=g, dtype=torch.float64).cuda()
    Xp = 1e-3 * torch.randn(1, D * (D + 1) // 2, generator=g, dtype=torch.float64).cuda()
    y = torch.randn(M, generator=g, dtype=torch.float64).cuda()
    for name, packed in (("f64", packed64), ("f32", packed64.float())):
        floor = median_ms(lambda p=packed: p.sum())
        ref_residual, ref_partial = kernel.one_read_partials(packed, Xp, y)
        torch.testing.assert_close(ref_partial.sum(dim=0)[0], ref_residual[0] @ packed.double())
        print(f"{name}: one read {floor * 1e3:.1f} us; kernel alone (before the reduce-and-unpack):")
        for programs, warps, rows in ONE_READ:
            try:
                residual, partial = kernel.one_read_partials(packed, Xp, y, programs, rows, num_warps=warps)
                torch.testing.assert_close(partial.sum(dim=0), ref_partial.sum(dim=0), rtol=1e-12, atol=1e-12)
                torch.testing.assert_close(residual, ref_residual, rtol=1e-12, atol=1e-12)
                t = median_ms(lambda: kernel.one_read_partials(packed, Xp, y, programs, rows, num_warps=warps))
                print(f"  programs {programs:4d} warps {warps:3d} rows {rows} {t * 1e3:8.1f} us {t / floor:6.2f}x",
                      flush=True)
            except Exception as err:  # a shape that does not compile is a finding, not a crash
                print(f"  programs {programs} warps {warps} rows {rows} failed: {str(err).splitlines()[0][:80]}")


def check_correctness():
    section("correctness, compiled: max abs error against a long-double reference (kernel <= 2x plain torch)")
    print(f"{'m':>5s} {'d':>4s} {'runs':>4s} {'storage':>8s} {'res err':>9s} {'plain':>9s} {'adj err':>9s} "
          f"{'plain':>9s} {'ok':>3s} {'det':>3s}")
    all_ok = True
    for m, d, runs, storage in [(777, 13, 1, torch.float64), (5000, 100, 1, torch.float64),
                                (2049, 30, 1, torch.float32), (1001, 17, 6, torch.float64),
                                (333, 9, 7, torch.float32), (5000, 100, 6, torch.float64),
                                (2049, 30, 3, torch.float32)]:
        result = kernel_errors(m, d, runs, storage, seed=m)
        err, plain = result["kernel"], result["plain"]
        ok = all(e <= 2 * p + 1e-300 for e, p in zip(err, plain)) and all(np.isfinite(err))
        all_ok &= ok and result["repeatable"]
        print(f"{m:5d} {d:4d} {runs:4d} {str(storage)[6:]:>8s} {err[0]:9.2e} {plain[0]:9.2e} {err[1]:9.2e} "
              f"{plain[1]:9.2e} {'yes' if ok else 'NO':>3s} {'yes' if result['repeatable'] else 'NO':>3s}")
    print("all correct and deterministic:", all_ok)


def time_variants(variants, sweep=False):
    section("fused pass at d=100, m=5000: median us (do_bench, L2 flushed) and ratio to one read of the operator")
    g = torch.Generator().manual_seed(0)
    packed64 = torch.randn(M, D * (D + 1) // 2, generator=g, dtype=torch.float64).cuda()
    ops = {"f64": PackedSensingOperator(packed64, D), "f32": PackedSensingOperator(packed64.float(), D)}
    floors = {k: median_ms(lambda o=o: o.packed.sum()) for k, o in ops.items()}
    for k, f in floors.items():
        print(f"read floor {k}: {f * 1e3:.1f} us = {ops[k].packed.nbytes / f / 1e9:.2f} TB/s")
    big = torch.empty(2 ** 28, dtype=torch.float32, device="cuda")
    copy = median_ms(big.clone)
    print(f"device copy of 1 GiB: {copy:.3f} ms = {2 * big.nbytes / copy / 1e9:.2f} TB/s counting read+write")
    del big
    if sweep:
        sweep_tiles(ops, floors)
    print(f"{'variant':28s} {'runs':>4s} {'stor':>4s} {'us':>9s} {'x floor':>8s}")
    for runs in (1, 6):
        Xp = torch.randn(runs, D * (D + 1) // 2, generator=g, dtype=torch.float64).cuda() * 1e-3
        y = torch.randn(M, generator=g, dtype=torch.float64).cuda()
        for k, op in ops.items():
            for name, fn in variants.items():
                if k == "f32" and name == "torch (cuBLAS)":
                    continue
                try:
                    t = median_ms(lambda: fn(op, Xp, y))
                    print(f"{name:28s} {runs:4d} {k:>4s} {t * 1e3:9.1f} {t / floors[k]:8.2f}", flush=True)
                except Exception as err:  # a config that does not compile is a finding, not a crash
                    print(f"{name:28s} {runs:4d} {k:>4s} failed: {str(err).splitlines()[0][:80]}")


def time_pieces():
    section("singular values per step: eigvalsh of (n, 100, 100) Grams, median us")
    g = torch.Generator().manual_seed(0)
    U = torch.randn(150, 100, 100, generator=g, dtype=torch.float64)
    grams = U.mT @ U
    for library in ("cusolver", "magma"):
        try:
            torch.backends.cuda.preferred_linalg_library(library)
            for n in (1, 6, 150):
                batch = grams[:n].cuda()
                print(f"cuda {library:9s} n={n:4d} {median_ms(lambda: torch.linalg.eigvalsh(batch)) * 1e3:10.1f}",
                      flush=True)
        except Exception as err:
            print(f"cuda {library} failed: {str(err).splitlines()[0][:80]}")
    torch.backends.cuda.preferred_linalg_library("default")

    def wall(fn, repeats=5):
        fn()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e6

    before = torch.get_num_threads()
    for threads in (1, before):
        torch.set_num_threads(threads)
        print(f"cpu torch {threads:2d} threads n=150 {wall(lambda: torch.linalg.eigvalsh(grams)):10.1f}", flush=True)
    torch.set_num_threads(before)


def time_steps():
    section("whole GD steps on CUDA: wall per step over 30 steps (median of 5 calls)")
    problem, U0 = handout_problem()
    floor = median_ms(lambda: problem.operator.packed.sum()) * 1e-3

    def per_step(fn):
        fn()
        return statistics.median(synced_seconds(fn) for _ in range(5)) / 31

    import os
    for backend in ("triton", "torch"):
        k1 = per_step(lambda: gradient_descent(problem, U0, 30, backend=backend))
        os.environ[BACKEND_ENV] = backend
        k2 = per_step(lambda: alpha_sweep(problem, PAPER_ALPHAS, 30))
        del os.environ[BACKEND_ENV]
        print(f"{backend:7s} K1 {k1 * 1e6:8.1f} us ({k1 / floor:5.2f}x floor)   K2 {k2 * 1e6:8.1f} us "
              f"({k2 / floor:5.2f}x floor)   floor {floor * 1e6:.1f} us", flush=True)
    from torch.profiler import ProfilerActivity, profile
    alpha_sweep(problem, PAPER_ALPHAS, 10)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        alpha_sweep(problem, PAPER_ALPHAS, 10)
        torch.cuda.synchronize()
    events = prof.key_averages()
    for key in ("self_device_time_total", "self_cuda_time_total"):
        try:
            print(events.table(sort_by=key, row_limit=25, max_name_column_width=50))
            break
        except Exception:
            continue


def gpu_busy():
    section("graph-replayed GD steps (300 a call): wall per step against the GPU's kernel time per step")
    from torch.profiler import ProfilerActivity, profile
    problem, U0 = handout_problem()
    for name, call in (("K1", lambda: gradient_descent(problem, U0, 300)),
                       ("K2", lambda: alpha_sweep(problem, PAPER_ALPHAS, 300))):
        synced_seconds(call)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            wall = synced_seconds(call)
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time for e in kernels) * 1e-6  # device_time is in us
        print(f"{name}: wall {wall / 301 * 1e6:.1f} us a step, kernels {busy / 301 * 1e6:.1f} us a step "
              f"({len(kernels) / 301:.1f} a step)")
        table = {}
        for e in kernels:
            row = table.setdefault(e.name[:60], [0, 0.0])
            row[0] += 1
            row[1] += e.device_time
        for kname, (count, total) in sorted(table.items(), key=lambda kv: -kv[1][1])[:12]:
            print(f"   {total / 301:8.1f} us/step {count / 301:5.1f}x  {kname}")


def chunk_sizes():
    section("graph-replayed GD steps, 3000 a call: wall per step by check_every and by singular-value threads")
    problem, U0 = handout_problem()
    default_workers = _singular_values.host_workers

    def per_step(call):
        call()
        return synced_seconds(call) / 3001 * 1e6

    try:
        for workers in (default_workers(), 4, 1):
            _singular_values.host_workers = lambda w=workers: w
            for check_every in (25, 100, 500):
                us = per_step(lambda: gradient_descent(problem, U0, 3000, check_every=check_every))
                print(f"K1 workers {workers:2d} check_every {check_every:4d}: {us:7.1f} us a step", flush=True)
            us = per_step(lambda: alpha_sweep(problem, PAPER_ALPHAS, 3000))  # the default check_every, 25
            print(f"K2 workers {workers:2d} check_every   25: {us:7.1f} us a step", flush=True)
    finally:
        _singular_values.host_workers = default_workers


def profile_overhead():
    section("host overhead of a GD step on CUDA: cProfile of 300 steps (one run), top 30 by own time")
    import cProfile
    import pstats
    problem, U0 = handout_problem()
    gradient_descent(problem, U0, 30)
    setup = synced_seconds(lambda: gradient_descent(problem, U0, 0))
    print(f"setup and one pass (0 steps): {setup * 1e3:.1f} ms")
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    gradient_descent(problem, U0, 300)
    torch.cuda.synchronize()
    profiler.disable()
    print(f"300 steps under cProfile: {(time.perf_counter() - start) * 1e3:.1f} ms")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    if not torch.cuda.is_available():
        sys.exit("no CUDA device")
    props = torch.cuda.get_device_properties(0)
    print(f"torch {torch.__version__}, triton {triton.__version__}, {props.name}, {props.multi_processor_count} SMs")
    variants = {"fused (shipped tiles)": lambda op, Xp, y: kernel.fused_residual_adjoint(
                    op.packed, Xp, y, op._rows, op._cols, op.d),
                "fused, two reads forced": lambda op, Xp, y: kernel.fused_residual_adjoint(
                    op.packed, Xp, y, op._rows, op._cols, op.d, one_read=False),
                "torch (cuBLAS)": lambda op, Xp, y: op.residual_and_adjoint(Xp, y, backend="torch")}
    steps = {"correctness": check_correctness,
             "passes": lambda: time_variants(variants),
             "tiles": lambda: time_variants(variants, sweep=True), "oneread": sweep_one_read,
             "eigvalsh": time_pieces, "steps": time_steps, "busy": gpu_busy,
             "chunks": chunk_sizes,
             "overhead": profile_overhead}
    for name in sys.argv[1:] or steps:
        try:
            steps[name]()
        except Exception:
            traceback.print_exc()
