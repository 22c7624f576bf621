"""Seed studies: a claims suite run once per seed, on one machine or a Ray cluster, and how often each claim held.

Each seed is one `pytest SUITE --seed N --claims-report ...` process, so every claim is checked by the very code
`pytest` runs; the study only schedules the runs and aggregates their reports. A seed's report is written to
`OUT/seeds/<seed>.json` as soon as it arrives, so a killed study resumes where it stopped: finished seeds are
read back, never run again.

Engines: `serial`, `processes` (N seeds at a time on this machine) and `ray` (a local Ray instance started and
stopped here, or the cluster at `address`). A Ray task runs in a scratch directory of its worker and returns
its report and, if `cache_env` names one, the files of a private result cache, which the driver copies into its
own: workers never write into a directory they may not have. A task whose worker dies is retried by Ray.

Progress is counted in seeds and, where the suite reports them, in its units of work (say, experiments): a run
appends `done total unit` lines to the file named by ``$PYTEST_CLAIMS_PROGRESS`` (`report_progress`), which its
seed's runner reads while it waits and forwards to the driver (on Ray, through a small actor).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ._files import write_atomically

ENGINES = ("serial", "processes", "ray")
#: the file a running suite appends its progress to (report_progress); set by the study for each seed's run
PROGRESS_ENV = "PYTEST_CLAIMS_PROGRESS"
#: seconds between looks at a running seed's progress, and at least between two progress lines of the driver
POLL_SECONDS = 1.0
PROGRESS_LINE_SECONDS = 30.0
RAY_HINT = ("Ray is not installed: `pip install ray` (this project: `pip install '.[study]'`), "
            "or use --local-processes N")


@dataclass(frozen=True)
class StudySpec:
    """What one seed's run needs: the pytest arguments (the suite and options, without --seed), where to run it,
    and the variable that points the suite at its result cache (None: the suite has none)."""

    pytest_args: tuple[str, ...]
    cwd: str
    cache_env: str | None = None
    env: dict = field(default_factory=dict)


def report_progress(done: int, total: int, unit: str = "unit") -> None:
    """Tell a seed study running this suite how far the run is: `done` of `total` units of work.

    A no-op outside a study. A suite calls it as its work proceeds, e.g. once per experiment computed:

    >>> report_progress(3, 17, "experiment")  # doctest: +SKIP
    """
    path = os.environ.get(PROGRESS_ENV)
    if path:
        with open(path, "a") as out:  # one short line per call, newline-terminated when whole
            out.write(f"{int(done)} {int(total)} {unit.split()[0] if unit.split() else 'unit'}\n")


def _last_progress(path: str) -> tuple[int, int, str] | None:
    """The last whole `done total unit` line of a progress file, or None."""
    try:
        with open(path) as handle:
            text = handle.read()
    except FileNotFoundError:
        return None
    # only lines the writer has finished: a line still being appended has no newline yet
    for fields_ in reversed([line.split() for line in text[:text.rfind("\n") + 1].splitlines()]):
        if len(fields_) == 3 and fields_[0].isdigit() and fields_[1].isdigit():
            return int(fields_[0]), int(fields_[1]), fields_[2]
    return None


def run_seed(spec: StudySpec, seed: int, cache_dir: str | None = None,
             on_progress: Callable[[int, int, int, str], None] | None = None) -> dict:
    """One seed: the suite's claims report, and (with a private cache) the files the run added to it.
    on_progress(seed, done, total, unit) is called whenever the run reports progress."""
    with tempfile.TemporaryDirectory(prefix=f"study-{seed}-") as scratch:
        env = {**os.environ, **spec.env, PROGRESS_ENV: os.path.join(scratch, "progress")}
        private = cache_dir is None and spec.cache_env is not None
        if spec.cache_env is not None:
            env[spec.cache_env] = os.path.join(scratch, "cache") if private else cache_dir
        report, output = os.path.join(scratch, "report.json"), os.path.join(scratch, "output.txt")
        command = [sys.executable, "-m", "pytest", *spec.pytest_args, "-p", "no:cacheprovider", "-q",
                   "--seed", str(seed), f"--claims-report={report}"]
        with open(output, "w") as sink:
            process = subprocess.Popen(command, cwd=spec.cwd, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                       text=True)
            seen = None
            while True:
                try:
                    returncode = process.wait(timeout=POLL_SECONDS)
                except subprocess.TimeoutExpired:
                    returncode = None
                latest = _last_progress(env[PROGRESS_ENV]) if on_progress is not None else None
                if latest is not None and latest != seen:
                    seen = latest
                    on_progress(seed, *latest)
                if returncode is not None:
                    break
        if not os.path.exists(report):
            with open(output) as handle:
                raise RuntimeError(f"seed {seed}: pytest wrote no claims report (exit {returncode}):\n"
                                   + handle.read()[-3000:])
        with open(report) as handle:
            result = {"seed": seed, "exit": returncode, "report": json.load(handle), "cache": {}}
        if private and os.path.isdir(env[spec.cache_env]):
            root = Path(env[spec.cache_env])
            result["cache"] = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
                               and not p.name.endswith(".lock")}
        return result


class StudyProgress:
    """Progress over seeds x units: the units each running seed reported, and the seeds finished.

    Seeds that have not reported a total yet are counted at the largest total seen, so the total is an
    estimate (printed with "~") until every seed has started.
    """

    def __init__(self, seeds: list[int], emit: Callable[[str], None]):
        self.seeds, self.emit = list(seeds), emit
        self.units: dict[int, tuple[int, int, str]] = {}
        self.finished = 0
        self._finished_seeds: set[int] = set()
        self.start = time.perf_counter()
        self._printed_at = self.start
        self._lock = threading.Lock()

    def update(self, seed: int, done: int, total: int, unit: str) -> None:
        with self._lock:
            if seed not in self._finished_seeds:  # a late report of a finished seed must not move it back
                self.units[seed] = (done, total, unit)

    def units_line(self) -> str | None:
        """'40/~1700 experiments', or None while no seed has reported a total."""
        with self._lock:
            if not self.units:
                return None
            largest = max(total for _, total, _ in self.units.values())
            done = sum(d for d, _, _ in self.units.values())
            total = sum(t for _, t, _ in self.units.values()) + largest * (len(self.seeds) - len(self.units))
            estimated = "~" if len(self.units) < len(self.seeds) else ""
            unit = next(iter(self.units.values()))[2]
        return f"{done}/{estimated}{total} {unit}s"

    def seed_done(self, seed: int) -> None:
        self.finished += 1
        with self._lock:
            self._finished_seeds.add(seed)
            if seed in self.units:  # a seed's last report may come before its last unit is counted
                total, unit = self.units[seed][1:]
                self.units[seed] = (total, total, unit)
        units = self.units_line()
        self.emit(f"seed {seed} done ({self.finished}/{len(self.seeds)} seeds"
                  + (f", {units}" if units else "") + f", {self._elapsed()})")
        self._printed_at = time.perf_counter()

    def tick(self) -> None:
        """Print the units line if it moved and the last line is PROGRESS_LINE_SECONDS old."""
        if time.perf_counter() - self._printed_at < PROGRESS_LINE_SECONDS:
            return
        units = self.units_line()
        if units is not None:
            self.emit(f"  {units} ({self.finished}/{len(self.seeds)} seeds done, {self._elapsed()})")
        self._printed_at = time.perf_counter()

    def _elapsed(self) -> str:
        return f"{time.perf_counter() - self.start:.0f} s"


def wilson_interval(passed: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """The Wilson score interval of a pass rate (95% by default); (0, 1) for no trials.

    >>> [round(v, 3) for v in wilson_interval(10, 10)]
    [0.722, 1.0]
    """
    if total == 0:
        return 0.0, 1.0
    p = passed / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def summarize(reports: dict[int, dict]) -> dict:
    """Per claim: on how many seeds every instance held (drift counts as holding) and the Wilson interval; per
    check: its measured value on every seed, with its bound and reference."""
    claims, checks = {}, {}
    for seed, report in sorted(reports.items()):
        by_id: dict[str, list[str]] = {}
        for claim in report["claims"]:
            by_id.setdefault(claim["id"], []).append(claim["outcome"])
            named = Counter(check["name"] for check in claim["checks"])
            for check in claim["checks"]:
                key = f"{claim['id']} {claim['nodeid'].split('::')[-1]} {check['name']}"
                if named[check["name"]] > 1:  # a band checked as two bounds: one entry per bound, not one for both
                    key += f" {check['op']}"
                entry = checks.setdefault(key, {"claim": claim["id"], "name": check["name"], "op": check["op"],
                                                "threshold": check["threshold"], "reference": check.get("reference"),
                                                "values": {}})
                entry["values"][str(seed)] = check["measured"]
        for claim_id, outcomes in by_id.items():
            entry = claims.setdefault(claim_id, {"seeds": 0, "held": 0, "skipped": 0, "not_held_on": []})
            if all(o == "skipped" for o in outcomes):
                entry["skipped"] += 1
                continue
            entry["seeds"] += 1
            if all(o in ("passed", "drift", "skipped") for o in outcomes):
                entry["held"] += 1
            else:
                entry["not_held_on"].append(seed)
    for entry in claims.values():
        entry["rate"] = entry["held"] / entry["seeds"] if entry["seeds"] else None
        entry["wilson95"] = list(wilson_interval(entry["held"], entry["seeds"]))
    return {"seeds": sorted(reports), "claims": dict(sorted(claims.items())), "checks": checks}


def _store(out: Path, seed: int, result: dict, cache_root: Path | None) -> None:
    for name, data in result["cache"].items() if cache_root is not None else ():  # the driver writes the cache
        if not (cache_root / name).exists():
            write_atomically(cache_root / name, data)
    # a seed's report appears whole or not at all: that is what resuming reads
    write_atomically(out / "seeds" / f"{seed}.json", json.dumps(result["report"], indent=1) + "\n")


def _ray_tasks(spec: StudySpec, seeds: list[int], address: str | None, workers: int | None,
               tracker: StudyProgress):
    try:
        import ray
    except ImportError:
        raise RuntimeError(RAY_HINT) from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    try:
        units = ray.remote(num_cpus=0)(_Units).remote()
        task = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(_run_seed_on_ray)
        pending = {task.remote(spec, seed, units): seed for seed in seeds}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_SECONDS)
            for seed, (done_, total, unit) in ray.get(units.snapshot.remote()).items():
                tracker.update(seed, done_, total, unit)
            if done:
                seed = pending.pop(done[0])
                yield seed, ray.get(done[0])
            else:
                yield None
    finally:
        if started:
            ray.shutdown()


class _Units:
    """A Ray actor holding each running seed's last progress report, for the driver to read."""

    def __init__(self):
        self.units = {}

    def update(self, seed, done, total, unit):
        self.units[seed] = (done, total, unit)

    def snapshot(self):
        return self.units


def _run_seed_on_ray(spec: StudySpec, seed: int, units) -> dict:
    return run_seed(spec, seed, on_progress=lambda *report: units.update.remote(*report))


def _local_tasks(spec: StudySpec, seeds: list[int], workers: int, cache_root: Path | None, tracker: StudyProgress):
    """On this machine every run shares the driver's result cache directly."""
    local = None if cache_root is None else str(cache_root)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_seed, spec, seed, local, tracker.update): seed for seed in seeds}
        try:
            while futures:
                done, _ = wait(futures, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.get):
                    yield futures.pop(future), future.result()
                if not done:
                    yield None
        finally:
            for future in futures:
                future.cancel()


def run_study(spec: StudySpec, seeds: list[int], out: Path, engine: str = "serial", workers: int = 1,
              address: str | None = None, cache_root: Path | None = None, progress=print) -> dict:
    """Run every seed not yet in `out`, then write and return the summary (study.json)."""
    out = Path(out)
    done = {s: json.loads((out / "seeds" / f"{s}.json").read_text()) for s in seeds
            if (out / "seeds" / f"{s}.json").is_file()}
    todo = [s for s in seeds if s not in done]
    progress(f"study: {len(seeds)} seeds, {len(done)} already done, {len(todo)} to run ({engine})")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    tracker = StudyProgress(todo, progress)
    if engine == "ray":
        events = _ray_tasks(spec, todo, address, workers, tracker)
    else:
        events = _local_tasks(spec, todo, 1 if engine == "serial" else workers, cache_root, tracker)
    for event in events:
        if event is None:
            tracker.tick()
            continue
        seed, result = event
        _store(out, seed, result, cache_root)
        done[seed] = result["report"]
        tracker.seed_done(seed)
    summary = summarize(done)
    from ._html import render_study

    write_atomically(out / "study.json", json.dumps(summary, indent=1) + "\n")
    write_atomically(out / "study.html", render_study(summary))
    return summary


def parse_seeds(text: str) -> list[int]:
    """"1000-1099", "3", "1,5,9" or a mix, as a sorted list of distinct seeds; ValueError naming the text."""
    seeds = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        try:
            seeds.update(range(int(low), int(high if dash else low) + 1))
        except ValueError:
            raise ValueError(f"--seeds {text!r}: expected seeds like 1000-1099 or 1,5,9") from None
    if not seeds:
        raise ValueError(f"--seeds {text!r}: no seed")
    return sorted(seeds)


def add_arguments(parser) -> None:
    """The study's options, shared by `pytest-claims study` and a project's own study command."""
    parser.add_argument("--seeds", required=True, help="seeds to run, e.g. 1000-1099")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="where seeds/<seed>.json, study.json and study.html go; a rerun resumes from it")
    parser.add_argument("--claims", default=None, metavar="IDS", help="only these claims, e.g. G1,G2 (default all)")
    parser.add_argument("--address", default=None,
                        help="the Ray cluster to join (default: a local Ray instance started and stopped here)")
    parser.add_argument("--local-processes", type=int, default=None, metavar="N",
                        help="no Ray: N seeds at a time in processes on this machine (1: one after another)")


def engine_of(args) -> tuple[str, int]:
    """(engine, workers) from the options: --local-processes N without Ray, else Ray (local or --address)."""
    if args.local_processes is not None:
        if args.local_processes < 1:
            raise ValueError(f"--local-processes {args.local_processes}: must be at least 1")
        return ("serial" if args.local_processes == 1 else "processes"), args.local_processes
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ValueError(RAY_HINT) from None
    return "ray", os.cpu_count() or 1


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="pytest-claims study", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("suite", nargs="+", help="pytest arguments naming the suite (its conftest takes --seed)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        seeds, (engine, workers) = parse_seeds(args.seeds), engine_of(args)
    except ValueError as err:
        parser.error(str(err))
    only = [f"--claims-only={args.claims}"] if args.claims else []
    spec = StudySpec(tuple(args.suite) + tuple(only), os.getcwd())
    summary = run_study(spec, seeds, args.out, engine, workers, args.address)
    print("\n".join(summary_lines(summary, args.out)))
    return 0


def summary_lines(summary: dict, out: Path) -> list[str]:
    """Each claim's rate with its Wilson 95% interval, then where the study was written."""
    lines = []
    for claim_id, entry in summary["claims"].items():
        low, high = entry["wilson95"]
        lines.append(f"{claim_id:5s} held on {entry['held']}/{entry['seeds']} seeds (Wilson 95%: {low:.0%} to "
                     f"{high:.0%})")
    return lines + [f"wrote {out / 'study.json'} and {out / 'study.html'}"]
