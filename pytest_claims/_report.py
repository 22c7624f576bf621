"""The claims report: a table at the end of the terminal output and, on request, a JSON file."""

from __future__ import annotations

import json
import os
import platform
import tempfile
import textwrap
from pathlib import Path

import pytest

from ._claim import fmt

PROPERTY = "claim"  # key of the record in report.user_properties

# The claim's row spans the check, measured and margin columns of its checks' rows.
_CHECK_WIDTHS = [5, 36, 10, 8, 32, 7]
_CLAIM_WIDTHS = [5, 36 + 10 + 8 + 4, 32, 7]
_HEADER = ["claim", "statement / check", "measured", "margin", "reference / source", "verdict"]
_KEYS = ("id", "nodeid", "statement", "source", "params", "measured", "checks", "thresholds",
         "outcome", "message", "duration_s")


def _table(rows: list[list[str]], widths: list[int]) -> list[str]:
    """Rows of wrapped cells, each row as tall as its tallest cell."""
    lines = []
    for row in rows:
        cells = [sum((textwrap.wrap(part, w) or [""] for part in cell.split("\n")), []) for cell, w in zip(row, widths)]
        for i in range(max(map(len, cells))):
            lines.append("  ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)).rstrip())
    return lines


def _lines(c: dict) -> list[str]:
    """Table lines of one claim instance: the claim, each check, then evidence without a threshold."""
    params = ", ".join(f"{k}={fmt(v)}" for k, v in c["params"].items())
    statement = c["statement"] + (f"\nparams: {params}" if params else "")
    lines = _table([[c["id"], statement, c["source"] or "-", c["outcome"].upper()]], _CLAIM_WIDTHS)
    lines += _table([["", f"  {k['name']} {k['op']} {fmt(k['threshold'])}", fmt(k["measured"]),
                      "-" if k["margin"] is None else f"{k['margin']:.3g}", k["reference"] or "-",
                      "ok" if k["passed"] else "FAIL"] for k in c["checks"]], _CHECK_WIDTHS)
    checked = {k["name"] for k in c["checks"]}
    lines += _table([["", f"  {name} = {fmt(v)}", "", ""] for name, v in c["measured"].items()
                     if name not in checked], _CLAIM_WIDTHS)
    return lines + [""]


def environment(config) -> dict:
    """Versions and settings that a claim's verdict depends on: python, each plugin's fields, platform."""
    fields = {}
    # pluggy calls the last registered plugin first; reversed, later plugins override earlier ones.
    for extra in reversed(config.hook.pytest_claims_environment(config=config)):
        if not isinstance(extra, dict):
            raise TypeError(f"pytest_claims_environment must return a dict, got {type(extra).__name__}")
        fields.update(extra)
    env = {"python": platform.python_version(), **fields}
    env.setdefault("platform", platform.platform())
    return env


def _write_atomically(path: str, text: str) -> None:
    """Replace `path` with `text` in one step, so a reader never sees half a report.

    core._files.atomic_writer does the same for the project; the plugin keeps its own so that it depends
    on pytest alone.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        # mkstemp creates the file 0600; give it the mode an ordinary open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class ClaimsReport:
    """Collects claim records from test reports; prints the table and writes the JSON."""

    def __init__(self, config):
        self.config = config
        self.records: dict[str, dict] = {}
        self.phases: dict[str, dict[str, str]] = {}
        self.written: str | None = None  # what became of the JSON report, said in the summary

    def pytest_runtest_logreport(self, report):
        props = [value for key, value in report.user_properties if key == PROPERTY]
        if not props:
            return
        record = self.records.setdefault(report.nodeid, {"nodeid": report.nodeid, "duration_s": 0.0})
        record.update(props[-1])
        record["duration_s"] = round(record["duration_s"] + report.duration, 3)
        self.phases.setdefault(report.nodeid, {})[report.when] = report.outcome

    def _outcome(self, nodeid: str) -> str:
        phases = self.phases[nodeid]
        if phases.get("call") == "failed":
            return "failed"
        if "failed" in phases.values():
            return "error"
        return "skipped" if "skipped" in phases.values() else "passed"

    def claims(self) -> list[dict]:
        """Every claim instance of the run, in id order, as the JSON report lists them."""
        rows = [{**r, "outcome": self._outcome(nodeid)} for nodeid, r in self.records.items()]
        rows.sort(key=lambda r: r["id"])  # stable: parameter sets keep their collection order
        return [{k: r[k] for k in _KEYS} for r in rows]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        # Written here rather than in the summary, so a failed write can still set the exit status.
        path = self.config.getoption("claims_report")
        if not path or hasattr(self.config, "workerinput"):  # xdist workers leave it to the controller
            return
        report = {"environment": environment(self.config), "claims": self.claims()}
        try:
            _write_atomically(path, json.dumps(report, indent=2) + "\n")
            self.written = f"claims report written to {path}"
        except OSError as err:
            self.written = f"claims report NOT written to {path}: {err.strerror or err}"
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter):
        claims = self.claims()
        if claims:
            terminalreporter.section("claims report")
            for line in _table([_HEADER], _CHECK_WIDTHS) + sum(map(_lines, claims), []):
                terminalreporter.write_line(line)
            counts = {o: sum(c["outcome"] == o for c in claims) for o in ("passed", "failed", "error", "skipped")}
            terminalreporter.write_line("claims: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
        elif self.config.getoption("claims_report"):
            terminalreporter.write_line("no claim ran; the report lists none")
        if self.written:
            terminalreporter.write_line(self.written)
