"""Turn a pytest-benchmark JSON into the markdown table CI keeps: median, floor, ratio, target, verdict."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

PAST = "**PAST TARGET**"


def _seconds(value) -> str:
    if value is None:
        return "-"
    if value < 1e-3:  # a GPU step: 0.1 ms would hide a 30% change
        return f"{value * 1e6:.0f} us"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def entries(data: dict) -> list[dict]:
    """pytest-benchmark's timed rows, then the rows whose time was measured elsewhere (benchmarks/conftest.py's
    `reported`: no stats, the time in extra_info's measured_s)."""
    return [*data["benchmarks"], *data.get("reported", [])]


def rows(data: dict) -> list[dict]:
    """One row per benchmark; a row is past target when its ratio (or K3's speedup) misses the issue's."""
    out = []
    for bench in entries(data):
        info = bench.get("extra_info", {})
        measured = info["measured_s"] if "measured_s" in info else bench["stats"]["median"]
        ratio, target = info.get("floor_ratio"), info.get("target")
        misses = []
        if target is not None and ratio is not None and ratio > target:
            misses.append(f"ratio {ratio:.2f} > {target}")
        speedup, speedup_target = info.get("speedup_vs_notebook"), info.get("speedup_target")
        if speedup is not None and speedup_target is not None and speedup < speedup_target:
            misses.append(f"speedup {speedup:.1f}x < {speedup_target:g}x")
        if target is None and speedup_target is None:
            verdict = "reference"
        else:
            verdict = f"{PAST}: " + "; ".join(misses) if misses else "ok"
        notes = [f"{key}={info[key]}" for key in ("backend", "storage", "runs") if key in info]
        if "per_step_s" in info:
            notes.append(f"per step {_seconds(info['per_step_s'])}")
        if info.get("pass_s") is not None:
            notes.append(f"pass alone {_seconds(info['pass_s'])} = {info['pass_ratio']:.2f}x one read")
        if info.get("setup_s") is not None:
            notes.append(f"a zero-step call {_seconds(info['setup_s'])}")
        if info.get("compute_anchor_ratio") is not None:
            notes.append(f"{info['compute_anchor_ratio']:.2f}x MKL's time for the same flops in cache "
                         f"({_seconds(info['compute_anchor_s'])} a pass)")
        if "fp64_floor_ratio" in info and info.get("storage") == "float32":
            notes.append(f"{info['fp64_floor_ratio']:.2f}x one fp64 read")
        if speedup is not None:
            notes.append(f"notebook {_seconds(info.get('notebook_s'))}, {speedup:.1f}x faster (target >= 10x)")
        if "anchor" in info:
            notes.append(f"anchor: {info['anchor']}")
        if "stats" not in bench:
            notes.append("not timed here")
        if "parts" in info:
            side = info.get("side_by_side", 1)
            shared = f", the parts' sums over the {side} computed side by side" if side > 1 else ""
            notes.append(f"from {info['source']}; floor = every part at its own floor, the rest as measured "
                         f"(budget {info['budget_s']:g} s{shared}): table below")
        elif "source" in info:
            notes.append(f"from {info['source']}; floor = the 120 s budget")
        out.append({"name": bench["name"], "kind": info.get("kind", "-"), "median": measured,
                    "floor": info.get("floor_s"), "ratio": ratio, "target": target, "verdict": verdict,
                    "notes": ", ".join(notes)})
    return out


def markdown(data: dict) -> str:
    machine = data.get("machine_info", {})
    lines = [
        "# Benchmark report",
        "",
        f"torch {machine.get('torch', '?')}, {machine.get('torch_threads', '?')} torch threads, "
        f"CPU {machine.get('cpu_model', '?')} x {machine.get('cpu_count', '?')}, GPU {machine.get('gpu') or 'none'}, "
        f"load average at start {machine.get('load_average', '?')}.",
        "Ratios are measured within this run (floor = same-run reduction over the operator's bytes, or the bare "
        "loop for K3); absolute times depend on the machine and its load and never fail CI.",
        "",
        "| benchmark | K | median | floor | ratio | target | verdict | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows(data):
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        target = "-" if row["target"] is None else f"<= {row['target']:g}"
        lines.append(f"| {row['name']} | {row['kind']} | {_seconds(row['median'])} | {_seconds(row['floor'])} | "
                     f"{ratio} | {target} | {row['verdict']} | {row['notes']} |")
    for bench in entries(data):
        parts = bench.get("extra_info", {}).get("parts")
        if parts:
            lines += ["", f"## {bench['name']}: each experiment against its own floor", "",
                      "| experiment | computed in | floor | ratio | floor is |", "| --- | --- | --- | --- | --- |"]
            for part in parts:
                ratio = "-" if part["ratio"] is None else f"{part['ratio']:.2f}"
                lines.append(f"| {part['experiment']} | {_seconds(part['seconds'])} | {_seconds(part['floor_s'])} | "
                             f"{ratio} | {part['floor']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("json", type=Path, help="pytest-benchmark --benchmark-json output")
    parser.add_argument("--out", type=Path, help="write the markdown here as well as to stdout")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    text = markdown(data)
    sys.stdout.write(text)
    if args.out:
        args.out.write_text(text)
    past = [row for row in rows(data) if row["verdict"].startswith(PAST)]
    for row in past:  # loud, but a ratio past target never fails CI
        print(f"WARNING: benchmark {row['name']} is past its target: {row['verdict']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
