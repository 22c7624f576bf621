"""Measure how much each baseline column really varies: the numbers behind the tolerances in test_baselines.py.

    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python -m claims._baseline_spread run --threads 1 --out a.pkl
    python -m claims._baseline_spread run --threads 2 --out b.pkl      (same with 2; or under another torch)
    python -m claims._baseline_spread compare a.pkl b.pkl [c.pkl ...]   (spread of every column against a.pkl)

Since core.run trains the MNIST experiments on one torch thread whatever the caller's count
(core.Experiment.threads), `--threads` now reaches only the sensing runs, whose pass is bitwise the same on any
count. The MLP's T spreads in test_baselines.py were measured before that (train_mlp on 1 against 2 threads),
and still bound a rounding change.

`run` computes the seed-0 experiments through core.run (no pytest) and stores the tables of
claims._baseline_tables with the torch version and thread count. `compare` prints, per column, the largest
absolute and relative difference from the first file, and the number of differing entries.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time


class _Results:
    def __init__(self, configs, device="cpu"):
        from core import load_mnist

        self.configs, self.device, self._done, self._data, self.seconds = configs, device, {}, None, {}
        self._load = load_mnist

    def __getitem__(self, name):
        from core import run

        if name not in self._done:
            config = self.configs[name]
            if config.needs_mnist and self._data is None:
                self._data = self._load(None, self.device)
            start = time.perf_counter()
            self._done[name] = run(config, self.device, data=self._data)
            self.seconds[name] = time.perf_counter() - start
            print(f"{name}: {self.seconds[name]:.1f} s", file=sys.stderr, flush=True)
        return self._done[name]


def _run(args) -> None:
    import torch

    from claims._baseline_tables import tables
    from core import claim_experiments

    torch.set_num_threads(args.threads)
    results = _Results(claim_experiments(0))
    out = tables(results, args.experiments)
    record = {"torch": torch.__version__, "threads": torch.get_num_threads(), "tables": out,
              "seconds": results.seconds, "omp": os.environ.get("OMP_NUM_THREADS"),
              "numba": os.environ.get("NUMBA_NUM_THREADS")}
    with open(args.out, "wb") as handle:
        pickle.dump(record, handle)


def spread(reference: dict, other: dict) -> dict[tuple[str, str], tuple[float, float, int]]:
    """(table, column) -> (max abs difference, max relative difference, differing entries)."""
    import numpy as np

    out = {}
    for table, columns in reference.items():
        for column, ref in columns.items():
            value = other[table][column]
            ref, value = np.asarray(ref, dtype=float), np.asarray(value, dtype=float)
            diff = np.abs(value - ref)
            diff[np.isnan(value) & np.isnan(ref)] = 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                rel = np.where(diff == 0, 0.0, diff / np.abs(ref))
            out[table, column] = (float(np.max(diff)), float(np.max(rel)), int(np.count_nonzero(diff)))
    return out


def _compare(args) -> None:
    records = []
    for path in args.files:
        with open(path, "rb") as handle:
            records.append(pickle.load(handle))
    first = records[0]
    names = [f"{r['torch']}/{r['threads']}t" for r in records]
    spreads = [spread(first["tables"], r["tables"]) for r in records[1:]]
    print(f"reference {args.files[0]} ({names[0]}); columns: max abs diff, max rel diff, #differing")
    print("table,column," + ",".join(f"{n}_abs,{n}_rel,{n}_n" for n in names[1:]))
    for key in spreads[0]:
        cells = ",".join(f"{s[key][0]:.3g},{s[key][1]:.3g},{s[key][2]}" for s in spreads)
        print(f"{key[0]},{key[1]},{cells}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m claims._baseline_spread", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run")
    run.add_argument("--threads", type=int, required=True)
    run.add_argument("--out", required=True)
    run.add_argument("--experiments", nargs="+", metavar="GROUP",
                     default=["mlp", "sensing-10dr", "sensing-5dr", "threshold", "nuclear", "recovery"])
    compare = commands.add_parser("compare")
    compare.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    (_run if args.command == "run" else _compare)(args)


if __name__ == "__main__":
    main()
