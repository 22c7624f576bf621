"""Foreign CPUs emulated on this one: the environment switches that make torch, MKL and numba take the code
paths another x86-64 CPU would take, so that CI sees another machine's rounding without a second machine.

Each switch must be set before the process starts (torch and MKL read theirs when they load):

    env $(python -m claims._variants env generic-x86) pytest claims       # one variant by hand
    python -m claims._variants measure --out spread/                     # every variant's tables, then spreads

`measure` computes the seed-0 baseline tables (claims/_baseline_tables.py) once per variant in a fresh process
and writes, per column, the largest difference of any variant from the committed CSV files and between the
variants: the numbers behind the tolerances of claims/test_baselines.py (docs/baselines.md shows them). A
digest per variant and table says which switch moved which table at all.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

#: name -> (environment, what it stands for). Threads are pinned where the variant is about the thread count;
#: elsewhere torch keeps its default (the MNIST runs are trained on one thread whatever it is, core.run).
# numba compiles for NUMBA_CPU_NAME with the *host's* features unless NUMBA_CPU_FEATURES names them: each variant
# names its features, so an AVX-512 host does not emit AVX-512 for "haswell".
_SSE42 = "+64bit,+cmov,+cx16,+cx8,+fxsr,+mmx,+popcnt,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3"
_HASWELL = _SSE42 + ",+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe,+xsave"
VARIANTS: dict[str, tuple[dict[str, str], str]] = {
    "native": ({}, "this machine as it is"),
    "one-thread": ({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"},
                   "one thread for torch, MKL and numba"),
    "generic-x86": ({"ATEN_CPU_CAPABILITY": "default", "NUMBA_CPU_NAME": "generic",
                     "NUMBA_CPU_FEATURES": "+64bit,+cmov,+cx8,+fxsr,+mmx,+sse,+sse2",
                     "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
                    "an x86-64 CPU without AVX: torch's default kernels, numba for a generic target (no FMA), "
                    "MKL's SSE4.2 path"),
    "avx2-haswell": ({"ATEN_CPU_CAPABILITY": "avx2", "NUMBA_CPU_NAME": "haswell",
                      "NUMBA_CPU_FEATURES": _HASWELL, "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
                     "an AVX2 CPU without AVX-512 (Intel Haswell): torch's AVX2 kernels, numba for haswell, "
                     "MKL's AVX2 path"),
    "mkl-compatible": ({"MKL_CBWR": "COMPATIBLE", "NUMBA_CPU_NAME": "x86-64-v2", "NUMBA_CPU_FEATURES": _SSE42},
                       "MKL's conditional-numerical-reproducibility path for any CPU, numba for x86-64-v2 (measured "
                       "on 2026-12-06 before its features were named, so with the AMD host's AVX2 and FMA)"),
}
#: the variants CI runs the claims and baselines under, besides the native run: the first on the main venv's
#: torch, the second as the environment of the torch matrix (tox), so that one run covers another torch and CPU
CI_VARIANTS = ("generic-x86", "avx2-haswell")


def environment(name: str) -> dict[str, str]:
    """The variables of variant `name`; an unknown name is a ValueError listing the known ones."""
    if name not in VARIANTS:
        raise ValueError(f"unknown CPU variant {name!r}; known: {', '.join(VARIANTS)}")
    return dict(VARIANTS[name][0])


def digest(table: dict) -> str:
    """A short hash of a table's bits, to see at a glance which switch moved which table."""
    import numpy as np

    h = hashlib.sha256()
    for column in sorted(table):
        h.update(column.encode() + np.ascontiguousarray(np.asarray(table[column], dtype=float)).tobytes())
    return h.hexdigest()[:12]


def _committed(directory: Path) -> dict[str, dict]:
    import pandas as pd

    out = {}
    for path in sorted(directory.glob("*_cpu.csv")):
        frame = pd.read_csv(path, index_col=0)
        out[path.stem.rsplit("_", 1)[0]] = {c: frame[c].to_numpy(dtype=float) for c in frame.columns}
    return out


def _measure(args) -> None:
    from claims._baseline_spread import spread

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = {}
    for name in args.variants:
        path = out / f"{name}.pkl"
        if not path.exists():
            env = {**os.environ, **environment(name)}
            threads = env.get("OMP_NUM_THREADS", str(os.cpu_count() or 1))
            print(f"variant {name}: {VARIANTS[name][1]}", file=sys.stderr, flush=True)
            only = ["--experiments", *args.experiments] if args.experiments else []
            subprocess.run([sys.executable, "-m", "claims._baseline_spread", "run", "--threads", threads,
                            "--out", str(path), *only], env=env, check=True)
        with open(path, "rb") as handle:
            records[name] = pickle.load(handle)
    committed = _committed(Path(__file__).with_name("test_baselines"))
    names = sorted(records[args.variants[0]]["tables"])
    print("variant," + ",".join(names))
    for name, record in records.items():
        print(name + "," + ",".join(digest(record["tables"][t]) for t in names))
    # per column: the largest difference from the committed file over all variants, and the largest between
    # any variant and the first one (the spread this machine's variants show among themselves)
    first = records[args.variants[0]]["tables"]
    rows = ["table,column,max_abs_vs_committed,max_rel_vs_committed,max_abs_between,max_rel_between"]
    for table in sorted(first):
        between = [spread({table: first[table]}, {table: r["tables"][table]}) for r in records.values()]
        against = ([spread({table: committed[table]}, {table: r["tables"][table]}) for r in records.values()]
                   if table in committed else [])
        for column in first[table]:
            bw = [s[table, column] for s in between]
            vs = [s[table, column] for s in against if (table, column) in s]
            cells = (f"{max(v[0] for v in vs):.3g},{max(v[1] for v in vs):.3g}" if vs else "n/a,n/a")
            rows.append(f"{table},{column},{cells},{max(v[0] for v in bw):.3g},{max(v[1] for v in bw):.3g}")
    (out / "spread.csv").write_text("\n".join(rows) + "\n")
    print(f"per-column spread written to {out / 'spread.csv'}")


def tolerance_doc() -> str:
    """docs/baselines.md: every tolerance rule of claims/test_baselines.py with the spread it was set from."""
    from claims.test_baselines import SAFETY, TOLERANCES

    lines = ["# Numeric baselines: tolerances and the spreads behind them", "",
             "Generated by `python -m claims._variants doc` from `TOLERANCES` in `claims/test_baselines.py`;",
             "`tests/unit/test_docs.py` fails when this file is stale. A column is compared with",
             "`|obtained - stored| <= atol + rtol |stored|` by the first rule whose table and column patterns",
             "match it. Spreads: the largest difference measured between the seed-0 tables computed under the",
             "CPU variants of `claims/_variants.py` and the committed files (docs/verdicts.md).", "",
             "**X** is that spread as measured on 2026-12-06: the committed files (recorded on an Intel Xeon with",
             "AVX-512, torch 2.14.1, one thread; the sensing steps and threshold files re-recorded on the AMD EPYC)",
             "against the tables computed on an AMD EPYC (Zen 3, AVX2), torch 2.14.1, numba 0.68.1, under each",
             f"variant below. Every measured rule's tolerance is at least `SAFETY` ({SAFETY:g}) times its spread;",
             "floors come from the error model of `core/sensing/_floors.py`. torch 2.9.1 (one thread, same host) gave",
             "bitwise the tables of torch 2.14.1's `one-thread` variant, so it adds nothing to the spread.", "",
             "| table | columns | rtol | atol | measured spread, and why this tolerance |",
             "| --- | --- | --- | --- | --- |"]
    for rule in TOLERANCES:
        cells = [f"`{rule.table}`", f"`{rule.columns}`", f"{rule.rtol:g}", f"{rule.atol:g}", rule.spread]
        cells = [cell.replace("|", "\\|") for cell in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Variants:", ""] + [f"* `{name}`: {meaning}" for name, (_, meaning) in VARIANTS.items()]
    return "\n".join(lines) + "\n"


DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "baselines.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claims._variants", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("env", help="print a variant's variables as NAME=VALUE, one per line")
    env.add_argument("name")
    commands.add_parser("list", help="the variants and what each stands for")
    commands.add_parser("doc", help=f"write {DOC_PATH.name} from the tolerance table")
    measure = commands.add_parser("measure", help="compute every variant's tables and their spread")
    measure.add_argument("--out", required=True)
    measure.add_argument("--variants", nargs="+", default=list(VARIANTS))
    measure.add_argument("--experiments", nargs="+", default=None,
                         help="only these experiments' tables (as claims._baseline_spread run names them)")
    args = parser.parse_args(argv)
    if args.command == "env":
        try:
            print("\n".join(f"{k}={v}" for k, v in environment(args.name).items()))
        except ValueError as err:
            parser.error(str(err))
    elif args.command == "list":
        for name, (variables, meaning) in VARIANTS.items():
            print(f"{name}: {meaning} ({' '.join(f'{k}={v}' for k, v in variables.items()) or 'no switches'})")
    elif args.command == "doc":
        DOC_PATH.write_text(tolerance_doc())
        print(f"wrote {DOC_PATH}")
    else:
        _measure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
