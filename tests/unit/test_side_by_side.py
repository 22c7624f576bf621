"""Experiments computed side by side (core.experiments.compute_concurrently), on how many threads, and which first
(which ones the claims compute ahead: tests/integration/test_side_by_side.py)."""

import functools
import math
import signal
import threading
import time

import pytest
import torch

from core import DepthProbeConfig, MLPConfig, RecoveryConfig, SensingConfig, claim_experiments, run
from core.experiments import compute_concurrently
from tests._support.fake_mnist import tiny_mnist


def _same(a, b) -> bool:
    """Bitwise equality of two results, field by field (tensors, nested dataclasses)."""
    if torch.is_tensor(a):
        return torch.equal(a, b)
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.bitwise
def test_side_by_side_results_are_bitwise_those_of_one_at_a_time_on_one_thread():
    """Each job's result does not depend on what runs beside it: the same bits as alone on one thread. The sensing
    sweeps are also those of the default thread count (their pass is thread-count independent)."""
    data = tiny_mnist()
    # Sweeps of six runs (the six-run tile, two at once) and of two (the 2-tile).
    configs = {"sweep-a": SensingConfig(d=8, r=2, m=100, alphas=(1e-4, 1e-3, 1e-2, 0.05, 0.1), steps=60, seed=1),
               "sweep-b": SensingConfig(d=9, r=1, m=90, alphas=(1e-3, 3e-3, 1e-2, 0.03, 0.1), steps=50, seed=2),
               "sweep-c": SensingConfig(d=7, r=1, m=70, alphas=(1e-2,), steps=40, seed=4),
               "mlp": MLPConfig(hidden_sizes=(16, 16), epochs=2, batch_size=64, lr=0.05, seed=3)}
    jobs = {name: functools.partial(run, config, data=data) for name, config in configs.items()}
    default_threads = torch.get_num_threads()
    side_by_side = compute_concurrently(jobs, workers=3)
    assert torch.get_num_threads() == default_threads  # restored
    default = {name: jobs[name]() for name in ("sweep-a", "sweep-b", "sweep-c")}
    torch.set_num_threads(1)
    try:
        alone = {name: job() for name, job in jobs.items()}
    finally:
        torch.set_num_threads(default_threads)
    for name in configs:
        assert _same(side_by_side[name], alone[name]), name
    for name in default:
        assert _same(side_by_side[name], default[name]), name


@pytest.mark.bitwise
def test_mnist_experiments_compute_on_one_thread_whatever_the_callers_count():
    """The float32 MLP's bits depend on torch's thread count, which the cache key does not name: run() trains it on
    one thread from any caller (the command line, an on-demand claim, an xdist worker) and restores the count."""
    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        run(MLPConfig(hidden_sizes=(8,), epochs=2, batch_size=64, seed=0), data=tiny_mnist(),
            progress=lambda done, total: seen.append(torch.get_num_threads()))
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}, seen
    assert after == 2
    assert MLPConfig().threads("cpu") == DepthProbeConfig().threads("cpu") == 1
    # The sensing pass is bitwise the same on any count, and a GPU run does not compute on CPU threads.
    assert SensingConfig().threads("cpu") is None and RecoveryConfig().threads("cpu") is None
    assert MLPConfig().threads("cuda") is None and DepthProbeConfig().threads("cuda") is None


def test_a_failing_job_is_returned_and_the_others_finish():
    def fail():
        raise ValueError("bad config")

    done = []
    out = compute_concurrently({"ok": lambda: 41 + 1, "bad": fail, "also ok": lambda: "x"}, workers=2,
                               on_done=lambda name, finished: done.append((name, finished)))
    assert out["ok"] == 42 and out["also ok"] == "x"
    assert isinstance(out["bad"], ValueError) and str(out["bad"]) == "bad config"
    assert sorted(name for name, _ in done) == ["also ok", "bad", "ok"] and [n for _, n in done] == [1, 2, 3]
    with pytest.raises(ValueError, match="workers must be >= 1"):
        compute_concurrently({"ok": lambda: 1}, workers=0)


def test_ctrl_c_sets_stop_for_the_running_jobs_and_starts_no_new_one():
    """Ctrl-C on the calling thread (a SIGINT, once two jobs run and one waits) sets `stop`: the running jobs,
    which watch it, end early, and the queued one never starts."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT reaches only the main thread, and this test runs on another")
    stop, seen = threading.Event(), []

    def watching():
        started.release()
        try:
            for _ in range(3000):  # 30 s at most, so a broken stop fails instead of hanging
                if stop.is_set():
                    seen.append("stopped")
                    return
                time.sleep(0.01)
            seen.append("ran to the end")
        finally:
            ended.release()

    started, ended = threading.Semaphore(0), threading.Semaphore(0)

    def interrupt_once_both_run():
        started.acquire(), started.acquire()
        signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)

    # A process started in the background (CI) inherits SIGINT ignored: give it Python's own handler, as an
    # interactive run has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=interrupt_once_both_run, daemon=True).start()
        jobs = {"first": watching, "second": watching, "queued": lambda: seen.append("queued ran")}
        with pytest.raises(KeyboardInterrupt):
            compute_concurrently(jobs, workers=2, stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    # The interrupt can land while the pool starts its second thread, which the pool then does not join.
    assert ended.acquire(timeout=60) and ended.acquire(timeout=60)
    assert stop.is_set() and seen == ["stopped", "stopped"]


@pytest.mark.parametrize("seed, claim_seeds", [(0, 3), (1000, 1)])
def test_estimates_start_the_longest_claim_experiments_first(seed, claim_seeds):
    """Measured alone on one thread here: the 5dr sweep about 40 s, the 100 SDPs of P6 35 s, each 40-epoch MLP 24-26 s,
    the 10dr sweep 17 s, a threshold sweep under 10 s, a 10-layer 3-epoch MLP 3 s. Only the order the estimates
    give counts (it decides which experiments start first side by side), and it must follow those times."""
    configs = claim_experiments(seed, claim_seeds)
    estimates = {name: config.estimated_seconds() for name, config in configs.items()}
    assert all(isinstance(s, float) and math.isfinite(s) and s >= 0 for s in estimates.values()), estimates
    order = sorted(estimates, key=lambda name: -estimates[name])
    longest = {"sensing-5dr", "recovery", "mlp", *(name for name in configs if name.startswith("mlp-g5-"))}
    assert set(order[:len(longest)]) == longest, order
    shorter = [name for name in configs if name.startswith(("threshold-", "depth-"))]
    assert order.index("sensing-10dr") < min(order.index(name) for name in shorter), order
    assert estimates["sensing-5dr"] > estimates["mlp"] > estimates["sensing-10dr"]
