"""docs/study_rates.md: how often each claim held over a seed study's held-out seeds, and how each check's value
was spread over them.

The seeds' claims reports (trimmed to the claims and their environment) are kept in docs/study_seeds.json.gz,
each with the commit it ran at, so a study can be resumed on another machine; the page is rendered from them:
their summary (what `python -m core study` writes to OUT/study.json), the claims' statements and the
environments the seeds ran in:

    python -m claims._study_doc import OUT --commit SHA   # add OUT/seeds/*.json (run at SHA) to the kept seeds
    python -m claims._study_doc restore OUT               # the kept seeds into OUT/seeds/, for a study to resume
    python -m claims._study_doc                            # write docs/study_rates.md
    python -m claims._study_doc --check                    # exit 1 when the page is stale
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
from pathlib import Path

from claims._calibrate import ROOT
from core._util import atomic_writer
from pytest_claims import margin
from pytest_claims._claim import OPS
from pytest_claims._study import summarize

SEEDS = ROOT / "docs" / "study_seeds.json.gz"
DOC = ROOT / "docs" / "study_rates.md"
#: a claim held on fewer of its seeds than this is restated or explained on the page (issue 25)
EXPLAIN_BELOW = 0.95
#: the environment fields that tell one run of seeds from another on the page
SHARED = ("python", "torch", "torchvision", "numpy", "device", "kernel_path", "machine")
#: what is kept of each claim of a seed's report: what the summary and the page read
KEPT = ("id", "nodeid", "statement", "outcome", "checks")


def trimmed(report: dict, commit: str) -> dict:
    """A seed's claims report with what the rates need: its environment (with the commit) and its claims."""
    return {"environment": {**report["environment"], "commit": commit},
            "claims": [{key: claim[key] for key in KEPT if key in claim} for claim in report["claims"]]}


def load_seeds(path: Path | None = None) -> dict[int, dict]:
    """The kept seed reports (docs/study_seeds.json.gz unless `path`), by seed."""
    path = SEEDS if path is None else path
    if not path.is_file():
        return {}
    with gzip.open(path, "rt") as handle:
        return {int(seed): report for seed, report in json.load(handle).items()}


def import_study(out: Path, commit: str, kept: dict[int, dict]) -> dict[int, dict]:
    """The kept seeds plus OUT/seeds/*.json that are not kept yet (those ran at `commit`)."""
    added = {int(path.stem): trimmed(json.loads(path.read_text()), commit)
             for path in sorted((out / "seeds").glob("*.json")) if int(path.stem) not in kept}
    if not added and not kept:
        raise ValueError(f"{out / 'seeds'}: no seed report")
    return {**kept, **added}


def collect(reports: dict[int, dict]) -> dict:
    """The study's summary, the claims' statements, each run of seeds (commit and environment) and the compute
    seconds of every experiment, from seed reports that carry their commit (`trimmed`)."""
    runs: dict[str, dict] = {}
    for seed, report in sorted(reports.items()):
        env = report["environment"]
        fields = {"commit": env.get("commit"), "environment": {k: env.get(k) for k in SHARED}}
        runs.setdefault(json.dumps(fields, sort_keys=True), {**fields, "seeds": []})["seeds"].append(seed)
    statements = {c["id"]: c["statement"] for r in reports.values() for c in r["claims"]}
    seconds: dict[str, list[float]] = {}
    for report in reports.values():  # what each experiment took where the seed computed it (not loaded)
        for name, info in (report["environment"].get("experiments") or {}).items():
            if not info.get("loaded", True) and "compute_seconds" in info:
                seconds.setdefault(name, []).append(info["compute_seconds"])
    return {"runs": list(runs.values()), "statements": statements, "summary": summarize(reports),
            "compute_seconds": seconds}


def _seed_ranges(seeds: list[int]) -> str:
    """[1100, 1101, 1102, 1105] as '1100-1102, 1105'."""
    parts, start = [], None
    for index, seed in enumerate(seeds):
        if start is None:
            start = seed
        if index + 1 == len(seeds) or seeds[index + 1] != seed + 1:
            parts.append(str(start) if start == seed else f"{start}-{seed}")
            start = None
    return ", ".join(parts)


def _g(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _merged_checks(checks: dict) -> dict:
    """Numeric values by (claim, test, check, op, threshold); G5's per-seed names ("seed111001.x") merge into
    "seed*.x", as its seeds differ from base seed to base seed."""
    merged: dict[tuple, list[float]] = {}
    for key, check in checks.items():
        if check["op"] is None:
            continue
        name = re.sub(r"^seed\d+\.", "seed*.", check["name"])
        values = [v for v in check["values"].values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        merged.setdefault((check["claim"], key.split(" ")[1], name, check["op"], check["threshold"]), []).extend(values)
    return {k: v for k, v in merged.items() if v}


def _misses(summary: dict) -> list[str]:
    """Table rows: every check that failed on a seed where its claim did not hold."""
    rows = []
    for key, check in sorted(summary["checks"].items()):
        entry = summary["claims"].get(check["claim"], {})
        for seed in entry.get("not_held_on", []):
            value = check["values"].get(str(seed))
            if check["op"] is None or not isinstance(value, (int, float)) or isinstance(value, bool) \
                    or OPS[check["op"]](value, check["threshold"]):
                continue
            rows.append((check["claim"], seed, key.split(" ")[1], check["name"], value, check["op"],
                         check["threshold"]))
    return [f"| {claim_id} | {seed} | `{test}` | `{name}` | {value:.4g} | {op} {_g(threshold)} | "
            f"{_g(margin(value, op, threshold))} |"
            for claim_id, seed, test, name, value, op, threshold in sorted(rows)]


def render(data: dict) -> str:
    summary = data["summary"]
    seeds = summary["seeds"]
    runs = []
    for run in data["runs"]:
        env = run["environment"]
        machine = env.get("machine") or {}
        runs.append(f"seeds {_seed_ranges(run['seeds'])} at commit `{run['commit']}`: torch {env.get('torch')}, "
                    f"{machine.get('cpu_model', '?')} ({machine.get('torch_cpu_capability', '?')})")
    lines = [
        "# How often each claim holds: a seed study",
        "",
        "Generated by `python -m claims._study_doc` from the seeds' reports kept in `docs/study_seeds.json.gz`; "
        "`tests/unit/test_study_doc.py` fails when this page is stale.",
        "",
        f"Every claim of `pytest claims -m claim --claim-seeds 1`, run by `python -m core study` on "
        f"**{len(seeds)} held-out seeds** ({_seed_ranges(seeds)}), none of which any threshold was set on, one "
        f"thread per seed; {'; '.join(runs)}. A claim holds on a seed when every "
        f"instance of it passes there (a DRIFT counts as holding) and a seed where it skips counts as neither; the "
        f"interval is Wilson's, at 95%.",
        "",
        "| claim | statement | held on | rate | Wilson 95% | not held on |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    below = []
    for claim_id, entry in summary["claims"].items():
        low, high = entry["wilson95"]
        rate = entry["rate"]
        if rate is not None and rate < EXPLAIN_BELOW:
            below.append(claim_id)
        statement = " ".join(data["statements"].get(claim_id, "").split()).replace("|", "\\|")
        skipped = f" ({entry['skipped']} skipped)" if entry["skipped"] else ""
        lines.append(f"| {claim_id} | {statement} | {entry['held']}/{entry['seeds']}{skipped} | "
                     f"{'-' if rate is None else f'{rate:.0%}'} | {low:.0%} to {high:.0%} | "
                     f"{_seed_ranges(entry['not_held_on']) or '-'} |")
    lines += ["", f"Claims held on fewer than {EXPLAIN_BELOW:.0%} of the seeds: "
              + (", ".join(below) if below else "none") + ".", ""]
    misses = _misses(summary)
    if misses:
        lines += ["## Where a claim did not hold", "",
                  "Each failing check on each seed where its claim did not hold: the value, its bound, and the margin "
                  "(above 1 passes, below 1 fails; docs/report.md).", "",
                  "| claim | seed | test | check | measured | bound | margin |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += misses + [""]
    lines += ["## Each check over the seeds", "",
              "The measured value's smallest, median and largest over the seeds, against the check's bound; "
              "*failed on* counts the seeds where the value missed it.", "",
              "| claim | test | check | bound | min | median | max | failed on |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (claim_id, test, name, op, threshold), values in sorted(_merged_checks(summary["checks"]).items()):
        failed = sum(not OPS[op](v, threshold) for v in values)
        lines.append(f"| {claim_id} | `{test}` | `{name}` | {op} {_g(threshold)} | {_g(min(values))} | "
                     f"{_g(statistics.median(values))} | {_g(max(values))} | {failed}/{len(values)} |")
    seconds = data.get("compute_seconds") or {}
    if seconds:
        total = sum(statistics.median(v) for v in seconds.values())
        lines += ["", "## What a seed cost", "",
                  f"Each experiment's compute time on one thread, over the seeds that computed it, two seeds side by "
                  f"side on the machine above: the medians add up to {total / 60:.1f} minutes of one core a seed.", "",
                  "| experiment | median | min | max |", "| --- | --- | --- | --- |"]
        for name, values in sorted(seconds.items(), key=lambda item: -statistics.median(item[1])):
            lines.append(f"| {name} | {statistics.median(values):.1f} s | {min(values):.1f} s | {max(values):.1f} s |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m claims._study_doc", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("write", "import", "restore"), default="write")
    parser.add_argument("out", nargs="?", type=Path, help="the study's --out directory (import, restore)")
    parser.add_argument("--commit", help="the commit the study ran at (import)")
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/study_rates.md is stale")
    args = parser.parse_args(argv)
    if args.command in ("import", "restore") and args.out is None:
        parser.error(f"{args.command} needs the study's OUT directory")
    if args.command == "restore":
        for seed, report in load_seeds().items():
            target = args.out / "seeds" / f"{seed}.json"
            if not target.exists():
                with atomic_writer(target, "w") as out:
                    out.write(json.dumps(report, indent=1) + "\n")
        return 0
    if args.command == "import":
        if not args.commit:
            parser.error("import needs --commit SHA: the commit the study's seeds ran at")
        reports = import_study(args.out, args.commit, load_seeds())
        with atomic_writer(SEEDS, "wb") as out:  # mtime 0: the same seeds give the same bytes
            out.write(gzip.compress(json.dumps({str(k): v for k, v in sorted(reports.items())}).encode(), mtime=0))
    page = render(collect(load_seeds()))
    if args.check:
        if not DOC.is_file() or DOC.read_text() != page:
            print(f"{DOC} is stale: run python -m claims._study_doc", file=sys.stderr)
            return 1
        return 0
    with atomic_writer(DOC, "w") as out:
        out.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
