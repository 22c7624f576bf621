"""Seed studies: a claims suite run once per seed, on one machine or a Ray cluster, and how often each claim held.

Each seed is one `pytest SUITE --seed N --claims-report ...` process, so every claim is checked by the very code
`pytest` runs; the study only schedules the runs and aggregates their reports. A seed's report is written to
`OUT/seeds/<seed>.json` as soon as it arrives, so a killed study resumes where it stopped: finished seeds are
read back, never run again.

Engines: `serial`, `processes` (N seeds at a time on this machine) and `ray` (a local Ray instance started and
stopped here, or the cluster at `address`). A Ray task runs in a scratch directory of its worker and returns
its report and, if `cache_env` names one, the files of a private result cache, which the driver copies into its
own: workers never write into a directory they may not have. A task whose worker dies is retried by Ray.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from ._files import write_atomically

ENGINES = ("serial", "processes", "ray")
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


def run_seed(spec: StudySpec, seed: int, cache_dir: str | None = None) -> dict:
    """One seed: the suite's claims report, and (with a private cache) the files the run added to it."""
    with tempfile.TemporaryDirectory(prefix=f"study-{seed}-") as scratch:
        env = {**os.environ, **spec.env}
        private = cache_dir is None and spec.cache_env is not None
        if spec.cache_env is not None:
            env[spec.cache_env] = os.path.join(scratch, "cache") if private else cache_dir
        report = os.path.join(scratch, "report.json")
        command = [sys.executable, "-m", "pytest", *spec.pytest_args, "-p", "no:cacheprovider", "-q",
                   "--seed", str(seed), f"--claims-report={report}"]
        done = subprocess.run(command, cwd=spec.cwd, env=env, capture_output=True, text=True)
        if not os.path.exists(report):
            raise RuntimeError(f"seed {seed}: pytest wrote no claims report (exit {done.returncode}):\n"
                               + (done.stdout + done.stderr)[-3000:])
        with open(report) as handle:
            result = {"seed": seed, "exit": done.returncode, "report": json.load(handle), "cache": {}}
        if private and os.path.isdir(env[spec.cache_env]):
            root = Path(env[spec.cache_env])
            result["cache"] = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()
                               and not p.name.endswith(".lock")}
        return result


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
            for check in claim["checks"]:
                key = f"{claim['id']} {claim['nodeid'].split('::')[-1]} {check['name']}"
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


def _ray_tasks(spec: StudySpec, seeds: list[int], address: str | None, workers: int | None):
    try:
        import ray
    except ImportError:
        raise RuntimeError(RAY_HINT) from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    try:
        task = ray.remote(num_cpus=1, max_retries=3, retry_exceptions=False)(run_seed)
        pending = {task.remote(spec, seed): seed for seed in seeds}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            seed = pending.pop(done[0])
            yield seed, ray.get(done[0])
    finally:
        if started:
            ray.shutdown()


def run_study(spec: StudySpec, seeds: list[int], out: Path, engine: str = "serial", workers: int = 1,
              address: str | None = None, cache_root: Path | None = None, progress=print) -> dict:
    """Run every seed not yet in `out`, then write and return the summary (study.json)."""
    out = Path(out)
    done = {s: json.loads((out / "seeds" / f"{s}.json").read_text()) for s in seeds
            if (out / "seeds" / f"{s}.json").is_file()}
    todo = [s for s in seeds if s not in done]
    progress(f"study: {len(seeds)} seeds, {len(done)} already done, {len(todo)} to run ({engine})")
    start = time.perf_counter()
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    pool = ThreadPoolExecutor(max_workers=1 if engine == "serial" else workers)
    try:
        if engine == "ray":
            results = _ray_tasks(spec, todo, address, workers)
        else:  # on this machine every run shares the driver's result cache directly
            local = None if cache_root is None else str(cache_root)
            futures = {pool.submit(run_seed, spec, seed, local): seed for seed in todo}
            results = ((futures[f], f.result()) for f in as_completed(futures))
        for count, (seed, result) in enumerate(results, 1):
            _store(out, seed, result, cache_root)
            done[seed] = result["report"]
            progress(f"seed {seed} done ({count}/{len(todo)}, {time.perf_counter() - start:.0f} s)")
    finally:
        pool.shutdown(cancel_futures=True)
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
