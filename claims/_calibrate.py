"""Seed studies for the claims' thresholds: run `pytest claims` per seed, then regenerate the reference ranges.

Every check's reference range (shown beside its threshold in the claims report) comes from
``claims/references.json``, which this command writes from claims reports of the calibration seeds (0-9) and of
held-out seeds (``--held-out``, from 1000): no range is typed by hand. The same reports give each claim's pass
count per seed set (``docs/seed_study.md``); ``python -m claims._claims_doc`` then copies the ranges and the pass
counts into ``docs/claims.md``.

    python -m claims._calibrate run --out study            # seeds 0-9 and held-out 1000-1009; resumable
    python -m claims._calibrate write study                # claims/references.json and docs/seed_study.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCES = Path(__file__).with_name("references.json")
STUDY_DOC = ROOT / "docs" / "seed_study.md"
SETS = ("calibration", "held-out")


def reference_key(claim_id: str, name: str, op: str, threshold) -> str:
    """One bound of one claim: G5's per-seed check names ("seed1001.x") share the key of "seed*.x"."""
    return f"{claim_id} {re.sub(r'^seed-?[0-9]+[.]', 'seed*.', name)} {op} {float(threshold)!r}"


def _seeds(spec: str) -> list[int]:
    """"0-9" or "0,3,5" or "2" as a list of ints; ValueError naming the option otherwise."""
    seeds = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        try:
            seeds.extend(range(int(low), int(high or low) + 1))
        except ValueError:
            raise ValueError(f"--seeds/--held-out: {spec!r} is not a list of seeds such as 0-9 or 0,3,5") from None
    return seeds


def report_path(out: Path, seed_set: str, seed: int) -> Path:
    return out / f"{seed_set}-{seed}.json"


def run(out: Path, seeds: list[int], held_out: list[int], claim_seeds: int, extra: list[str]) -> int:
    """`pytest claims -m claim` once per seed; a seed whose report exists is skipped, so a killed study resumes."""
    out.mkdir(parents=True, exist_ok=True)
    failures = 0
    for seed_set, chosen in (("calibration", seeds), ("held-out", held_out)):
        for seed in chosen:
            path = report_path(out, seed_set, seed)
            if path.exists():
                continue
            partial = path.with_suffix(".partial.json")
            command = [sys.executable, "-m", "pytest", "claims", "-m", "claim", "-q", "-p", "no:cacheprovider",
                       "--seed", str(seed), "--claim-seeds", str(claim_seeds), "--claims-report", str(partial),
                       *extra]
            print(f"{seed_set} seed {seed}: {' '.join(command[2:])}", flush=True)
            code = subprocess.call(command, cwd=ROOT)
            if code not in (0, 1) or not partial.exists():  # 1 is failed claims, which is evidence too
                print(f"  pytest exited {code} without a report; this seed is left to the next run", flush=True)
                failures += 1
                continue
            os.replace(partial, path)
    return 1 if failures else 0


def _load(out: Path) -> dict[str, dict[int, dict]]:
    reports: dict[str, dict[int, dict]] = {s: {} for s in SETS}
    for path in sorted(out.glob("*.json")):
        match = re.fullmatch(r"(calibration|held-out)-(-?\d+)", path.stem)
        if match:
            reports[match[1]][int(match[2])] = json.loads(path.read_text())
    if not any(reports.values()):
        raise SystemExit(f"{out}: no calibration-N.json or held-out-N.json reports (run `run --out {out}` first)")
    return reports


def _span(seeds) -> str:
    seeds = sorted(set(seeds))
    if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 2:
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _g(value: float) -> str:
    return f"{value:.3g}"


def ranges(reports) -> dict[str, dict]:
    """Per bound (reference_key): min, max and seeds of the measured values, per seed set."""
    values: dict[str, dict[str, dict]] = defaultdict(lambda: {s: {"values": [], "seeds": []} for s in SETS})
    for seed_set, by_seed in reports.items():
        for seed, report in by_seed.items():
            for claim in report["claims"]:
                for check in claim.get("checks", []):
                    measured = check["measured"]
                    if not isinstance(measured, (int, float)) or measured != measured:
                        continue
                    entry = values[reference_key(claim["id"], check["name"], check["op"], check["threshold"])]
                    entry[seed_set]["values"].append(measured)
                    entry[seed_set]["seeds"].append(seed)
    out = {}
    for key, by_set in sorted(values.items()):
        out[key] = {s: {"min": min(v["values"]), "max": max(v["values"]), "seeds": _span(v["seeds"])}
                    for s, v in by_set.items() if v["values"]}
    return out


def describe(entry: dict | None) -> str | None:
    """"seeds 0-9: 0.97-0.99; held-out 1000-1009: 0.96-0.99" for one bound's entry of references.json."""
    if not entry:
        return None
    parts = []
    for seed_set, label in (("calibration", "seeds"), ("held-out", "held-out")):
        if seed_set in entry:
            e = entry[seed_set]
            span = _g(e["min"]) if e["min"] == e["max"] else f"{_g(e['min'])} to {_g(e['max'])}"
            parts.append(f"{label} {e['seeds']}: {span}")
    return "; ".join(parts)


def pass_counts(reports) -> dict[str, dict[str, list]]:
    """Per claim id and seed set: [seeds on which every instance passed, seeds run, the other seeds]."""
    counts: dict[str, dict[str, list]] = defaultdict(lambda: {s: [0, 0, []] for s in SETS})
    for seed_set, by_seed in reports.items():
        for seed, report in sorted(by_seed.items()):
            outcomes: dict[str, set] = defaultdict(set)
            for claim in report["claims"]:
                outcomes[claim["id"]].add(claim["outcome"])
            for claim_id, seen in outcomes.items():
                entry = counts[claim_id][seed_set]
                entry[0] += seen == {"passed"}
                entry[1] += 1
                if seen != {"passed"}:  # a skip (the seed cannot test the claim) is said, not counted as a pass
                    entry[2].append(seed if seen - {"passed", "skipped"} else f"{seed} skipped")
    def order(claim_id: str):  # G2 before G2b before G3
        number = re.match(r"\d*", claim_id[1:]).group()
        return claim_id[0], int(number or 0), claim_id

    return dict(sorted(counts.items(), key=lambda item: order(item[0])))


def count_table(reports) -> list[str]:
    """Markdown rows: per claim, the seeds of each set on which every instance passed, and the failing ones."""
    lines = ["| claim | calibration seeds passed | held-out seeds passed | failed on |", "|---|---|---|---|"]
    for claim_id, by_set in pass_counts(reports).items():
        cal, held = by_set["calibration"], by_set["held-out"]
        failed = [str(s) for s in cal[2]] + [f"{s} (held-out)" for s in held[2]]
        lines.append(f"| {claim_id} | {cal[0]}/{cal[1]} | {held[0]}/{held[1]} | {', '.join(failed) or '-'} |")
    return lines


def study_markdown(reports, table: dict[str, dict]) -> str:
    seeds = {s: _span(by_seed) for s, by_seed in reports.items() if by_seed}
    lines = ["# Seed study: every claim on the calibration seeds and on held-out seeds", "",
             "Generated by `python -m claims._calibrate write DIR` from `pytest claims -m claim` reports, one per seed",
             f"(calibration seeds {seeds.get('calibration', '-')}; held-out seeds {seeds.get('held-out', '-')},"
             " as `--held-out --seed N` runs them). A claim passes on a seed when every instance of it passes.", "",
             *count_table(reports), "", "## Every bound, with the measured range per seed set", "",
              "| claim, check and bound | calibration | held-out |", "|---|---|---|"]
    for key, entry in table.items():
        cells = []
        for s in SETS:
            e = entry.get(s)
            cells.append(f"{_g(e['min'])} to {_g(e['max'])}" if e else "-")
        claim_id, name, op, threshold = key.split(" ")
        lines.append(f"| `{claim_id} {name} {op} {float(threshold):.4g}` | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def write(out: Path) -> None:
    reports = _load(out)
    table = ranges(reports)
    REFERENCES.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    STUDY_DOC.write_text(study_markdown(reports, table))
    print(f"wrote {REFERENCES.relative_to(ROOT)} ({len(table)} bounds), {STUDY_DOC.relative_to(ROOT)}; "
          "docs/claims.md shows both: python -m claims._claims_doc")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claims._calibrate", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="run pytest claims once per seed, writing DIR/<set>-<seed>.json")
    run_parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    run_parser.add_argument("--seeds", default="0-9", help="calibration seeds (default 0-9)")
    run_parser.add_argument("--held-out", default="0-9",
                            help="held-out seeds N, run as --held-out --seed N (default 0-9)")
    run_parser.add_argument("--claim-seeds", type=int, default=1, help="G5's seeds per run (default 1)")
    run_parser.add_argument("pytest_args", nargs="*", help="more pytest options, after --")
    write_parser = commands.add_parser("write", help="write claims/references.json and docs/seed_study.md from DIR")
    write_parser.add_argument("out", type=Path, metavar="DIR")
    args = parser.parse_args(argv)
    if args.command == "run":
        try:
            seeds, held_out = _seeds(args.seeds), _seeds(args.held_out)
        except ValueError as err:
            parser.error(str(err))
        if args.claim_seeds < 1:
            parser.error(f"--claim-seeds {args.claim_seeds}: must be at least 1")
        from core import HELD_OUT_START

        held_out = [HELD_OUT_START + n for n in held_out]  # `--seed 1000 + N` is `--held-out --seed N`
        return run(args.out, seeds, held_out, args.claim_seeds, args.pytest_args)
    write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
