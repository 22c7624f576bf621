"""Side-by-side markdown table of several claims reports (one per torch version, say).

    pytest-claims compare A.json B.json [C.json ...] [--out table.md] [--rtol 1e-3] [--exact]

Each input is a ``--claims-report`` JSON. The first report is the reference. For every claim instance
(matched by pytest node id, shown as id and parameters) the table has one row with each report's verdict,
then one row per checked or measured quantity with each report's value and its relative difference
|value - reference| / |reference| from the reference report. A difference is highlighted (bold, with a
warning sign) where it exceeds that quantity's tolerance:

- a check's tolerance is its own headroom in the reference report, |measured - threshold| / |measured|:
  the relative move that would carry the value to its threshold;
- a measured value without a threshold has the documented default tolerance, ``--rtol`` (1e-3: below it a
  number has not moved for most purposes; a project that pins trajectories more tightly does so in its own
  baselines).

Verdicts that differ between reports are highlighted too. A claim missing from a report shows as "absent".

When the reports' environments differ, an "Environment" section follows the table: every environment field
(flattened, e.g. ``machine.torch_cpu_capability``) whose value differs, side by side, so that a moved value is
read beside what changed with it. Timings (``compute_seconds``), which differ on every run, are left out;
a field a report lacks (an older report has no ``machine``) shows as "absent".
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

DEFAULT_RTOL = 1e-3
_MISSING = object()


def load(path) -> dict:
    """A claims report, checked for the two keys this command reads."""
    report = json.loads(Path(path).read_text())
    if not isinstance(report, dict) or "claims" not in report:
        raise ValueError(f"{path}: not a claims report (no 'claims' list)")
    report.setdefault("environment", {})
    return report


def _number(value):
    """A float for numbers and the strings JSON keeps NaN and inf as; None otherwise."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # "nan", "inf", "-inf"
        except ValueError:
            return None
    return None


def _flatten(name: str, value) -> list[tuple[str, object]]:
    """Lists as name[k], dicts as name.key, anything else as it is."""
    if isinstance(value, list):
        return [item for k, v in enumerate(value) for item in _flatten(f"{name}[{k}]", v)]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _flatten(f"{name}.{k}", v)]
    return [(name, value)]


def quantities(claim: dict) -> dict[str, dict]:
    """name -> {"value", "threshold", "op"} for every check and measured value of one claim instance."""
    out = {}
    for check in claim.get("checks", []):
        out[check["name"]] = {"value": check.get("measured"), "threshold": check.get("threshold"),
                              "op": check.get("op")}
    for key, value in (claim.get("measured") or {}).items():
        for name, item in _flatten(key, value):
            out.setdefault(name, {"value": item, "threshold": None, "op": None})
    return out


def relative_difference(value, reference) -> float | None:
    """|value - reference| / |reference|; 0 for equal values (NaN equals NaN), inf from a zero reference."""
    a, b = _number(value), _number(reference)
    if a is None or b is None:
        return None if value != reference else 0.0
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return math.inf
    return abs(a - b) / abs(b) if b != 0 else math.inf


def tolerance(quantity: dict, rtol: float) -> float:
    """The check's headroom in the reference report, or rtol for a value without a threshold."""
    value, threshold = _number(quantity["value"]), _number(quantity["threshold"])
    if threshold is None or value is None or not math.isfinite(value) or value == 0 or quantity["op"] == "==":
        return rtol
    return abs(value - threshold) / abs(value)


def _fmt(value) -> str:
    if value is _MISSING:
        return "absent"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


def _label(report: dict, path) -> str:
    env = report["environment"]
    parts = [f"torch {env['torch']}" if "torch" in env else Path(path).stem]
    if env.get("device") not in (None, "cpu"):
        parts.append(str(env["device"]))
    return " ".join(parts)


def _params(claim: dict) -> str:
    params = claim.get("params") or {}
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def table(reports: list[dict], labels: list[str], rtol: float = DEFAULT_RTOL) -> str:
    """The markdown comparison of `reports` (the first is the reference)."""
    if len(labels) != len(set(labels)):
        labels = [f"{label} ({k + 1})" for k, label in enumerate(labels)]
    by_node = [{c.get("nodeid") or f"{c['id']}[{_params(c)}]": c for c in r["claims"]} for r in reports]
    order = list(dict.fromkeys(node for nodes in by_node for node in nodes))
    others = labels[1:]
    header = (["claim", "quantity"] + [f"{label}" for label in labels] + [f"rel. diff {label}" for label in others]
              + ["tolerance"])
    lines = [f"Reference: {labels[0]}. Relative differences are |value - reference| / |reference|; "
             f"**bold ⚠** marks one above the quantity's tolerance (a check's headroom to its threshold in the "
             f"reference, else {rtol:g}) and a verdict that differs from the reference.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    flagged = 0
    for node in order:
        claims = [nodes.get(node) for nodes in by_node]
        first = next(c for c in claims if c is not None)
        verdicts = [c["outcome"] if c is not None else "absent" for c in claims]
        cells = [f"**{first['id']}** {_params(first)}".strip(), "verdict"]
        for k, verdict in enumerate(verdicts):
            differs = k > 0 and verdict != verdicts[0]
            flagged += differs
            cells.append(f"**{verdict}** ⚠" if differs else verdict)
        lines.append("| " + " | ".join(cells + [""] * (len(others) + 1)) + " |")
        per_report = [quantities(c) if c is not None else {} for c in claims]
        names = list(dict.fromkeys(name for q in per_report for name in q))
        for name in names:
            reference = per_report[0].get(name)
            values = [q[name]["value"] if name in q else _MISSING for q in per_report]
            tol = tolerance(reference, rtol) if reference is not None else rtol
            row = ["", name] + [_fmt(v) for v in values]
            for value in values[1:]:
                if value is _MISSING or reference is None:
                    row.append("-")
                    continue
                diff = relative_difference(value, reference["value"])
                if diff is None:
                    row.append("-")
                elif diff > tol:
                    flagged += 1
                    row.append(f"**{diff:.3g}** ⚠")
                else:
                    row.append(f"{diff:.3g}")
            row.append(f"{tol:.3g}")
            lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"{flagged} highlighted difference(s)."]
    return "\n".join(lines) + "\n" + environment_section(reports, labels)


def environment_differences(reports: list[dict]) -> list[tuple[str, list]]:
    """(field, each report's value) for every flattened environment field that is not the same in all reports."""
    flat = [{name: value for key, item in r["environment"].items() for name, value in _flatten(key, item)
             if not name.endswith("compute_seconds")} for r in reports]
    names = dict.fromkeys(name for fields in flat for name in fields)
    rows = [(name, [fields.get(name, _MISSING) for fields in flat]) for name in names]
    return [(name, values) for name, values in rows if any(v != values[0] for v in values[1:])]


def environment_section(reports: list[dict], labels: list[str]) -> str:
    """The markdown "Environment" section of the fields that differ; empty when the environments agree."""
    rows = environment_differences(reports)
    if not rows:
        return ""
    note = f"{len(rows)} environment field(s) differ between the reports; a value above may have moved with them."
    lines = ["", "## Environment", "", note, "",
             "| field | " + " | ".join(labels) + " |", "|" + "---|" * (len(labels) + 1)]
    lines += ["| " + " | ".join([name] + [_fmt(v) for v in values]) + " |" for name, values in rows]
    return "\n".join(lines) + "\n"


def differences(reference: dict, other: dict) -> list[str]:
    """Every claim instance, verdict or value in which `other` is not identical to `reference`."""
    found = []
    mine = {c.get("nodeid"): c for c in other["claims"]}
    for claim in reference["claims"]:
        twin = mine.pop(claim.get("nodeid"), None)
        if twin is None:
            found.append(f"{claim.get('nodeid')}: absent")
            continue
        if twin["outcome"] != claim["outcome"]:
            found.append(f"{claim.get('nodeid')}: {claim['outcome']} became {twin['outcome']}")
        ours, theirs = quantities(claim), quantities(twin)
        found += [f"{claim.get('nodeid')}: {name} {q['value']!r} became {theirs.get(name, {}).get('value')!r}"
                  for name, q in ours.items()
                  if relative_difference(theirs.get(name, {}).get("value"), q["value"]) != 0]
    return found + [f"{node}: not in the reference" for node in mine]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="pytest-claims compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", metavar="REPORT.json", help="claims reports; the first is the reference")
    parser.add_argument("--out", metavar="FILE", help="write the markdown here (default: stdout)")
    parser.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                        help=f"tolerance of a measured value without a threshold (default {DEFAULT_RTOL:g})")
    parser.add_argument("--exact", action="store_true",
                        help="exit 1 unless every report equals the first in every verdict and value "
                             "(e.g. a serial and an xdist run of the same cached experiments)")
    args = parser.parse_args(argv)
    try:
        reports = [load(path) for path in args.reports]
    except (OSError, ValueError) as err:
        parser.error(str(err))
    labels = [_label(r, p) for r, p in zip(reports, args.reports)]
    if len(labels) != len(set(labels)):  # e.g. one torch under several CPU variants: the file names tell them apart
        labels = [f"{label} ({Path(p).stem})" for label, p in zip(labels, args.reports)]
    text = table(reports, labels, args.rtol)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    else:
        sys.stdout.write(text)
    if args.exact:
        found = [line for other in reports[1:] for line in differences(reports[0], other)]
        for line in found:
            print(f"differs: {line}", file=sys.stderr)
        return 1 if found else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
