"""The claims report: a table at the end of the terminal output and, on request, a JSON file."""

from __future__ import annotations

import json
import platform
import textwrap

import pytest

from ._claim import Source, fmt, reference_text
from ._files import write_atomically
from ._html import render_html

PROPERTY = "claim"  # key of the record in report.user_properties
FIGURE_PROPERTY = "claims_figure"  # key of an attached figure (pytest_claims.attach_figure)

# The claim's row spans the check, measured and margin columns of its checks' rows.
_CHECK_WIDTHS = [5, 36, 10, 8, 32, 7]
_CLAIM_WIDTHS = [5, 36 + 10 + 8 + 4, 32, 7]
_HEADER = ["claim", "statement / check", "measured", "margin", "reference / source", "verdict"]
_KEYS = ("id", "nodeid", "statement", "source", "params", "measured", "checks", "thresholds",
         "outcome", "message", "duration_s")
#: the outcomes of a claim instance, in the order the summary counts them
OUTCOMES = ("passed", "drift", "failed", "error", "skipped")


def source_text(source) -> str:
    """A report's `source` field (a dict of Source fields, or None) as one line."""
    return Source(**source).text() if isinstance(source, dict) else (source or "")


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
    lines = _table([[c["id"], statement, source_text(c["source"]) or "-", c["outcome"].upper()]], _CLAIM_WIDTHS)
    lines += _table([["", f"  {k['name']} {k['op']} {fmt(k['threshold'])}", fmt(k["measured"]),
                      "-" if k["margin"] is None else f"{k['margin']:.3g}", reference_text(k) or "-",
                      "FAIL" if not k["passed"] else "DRIFT" if k.get("drift") else "ok"] for k in c["checks"]],
                    _CHECK_WIDTHS)
    checked = {k["name"] for k in c["checks"]}
    lines += _table([["", f"  {name} = {fmt(v)}", "", ""] for name, v in c["measured"].items()
                     if name not in checked], _CLAIM_WIDTHS)
    return lines + [""]


def option(config, name: str):
    """A plugin setting: the command-line option, else its ini key of the same name."""
    value = config.getoption(name)
    return value if value not in (None, False) else config.getini(name)


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


class ClaimsReport:
    """Collects claim records from test reports; prints the table and writes the JSON."""

    def __init__(self, config):
        self.config = config
        self.records: dict[str, dict] = {}
        self.phases: dict[str, dict[str, str]] = {}
        self.written: list[str] = []  # what became of the JSON report and the HTML page, said in the summary
        self.figures: list[dict] = []  # attached by tests (pytest_claims.attach_figure), for the HTML page

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            self.figures += [{**value, "nodeid": report.nodeid, "outcome": report.outcome}
                             for key, value in report.user_properties if key == FIGURE_PROPERTY]
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
        if "skipped" in phases.values():
            return "skipped"
        return "drift" if any(c.get("drift") for c in self.records[nodeid].get("checks", [])) else "passed"

    def claims(self) -> list[dict]:
        """Every claim instance of the run, in id order, as the JSON report lists them."""
        rows = [{**r, "outcome": self._outcome(nodeid)} for nodeid, r in self.records.items()]
        rows.sort(key=lambda r: r["id"])  # stable: parameter sets keep their collection order
        return [{k: r[k] for k in _KEYS} for r in rows]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        # Written here rather than in the summary, so a failed write can still set the exit status.
        if hasattr(self.config, "workerinput"):  # xdist workers leave it to the controller
            return
        json_path, html_path = option(self.config, "claims_report"), option(self.config, "claims_html")
        if not (json_path or html_path):
            return
        report = {"environment": environment(self.config), "claims": self.claims(),
                  "figures": [{k: f.get(k) for k in ("name", "nodeid", "outcome")} for f in self.figures]}
        outputs = [("claims report", json_path, lambda: json.dumps(report, indent=2) + "\n"),
                   ("claims page", html_path, lambda: render_html(report, self.figures))]
        for what, path, text in outputs:
            if not path:
                continue
            try:
                write_atomically(path, text())
                self.written.append(f"{what} written to {path}")
            except OSError as err:
                self.written.append(f"{what} NOT written to {path}: {err.strerror or err}")
                session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_terminal_summary(self, terminalreporter):
        claims = self.claims()
        if claims:
            terminalreporter.section("claims report")
            for line in _table([_HEADER], _CHECK_WIDTHS) + sum(map(_lines, claims), []):
                terminalreporter.write_line(line)
            counts = {o: sum(c["outcome"] == o for c in claims) for o in OUTCOMES}
            terminalreporter.write_line("claims: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
            for c in claims:
                drifted = [k["name"] for k in c["checks"] if k.get("drift")]
                if drifted and c["outcome"] == "drift":
                    terminalreporter.write_line(f"DRIFT {c['nodeid']}: {', '.join(drifted)} passed outside the "
                                                "reference range (a warning; --claims-strict fails it)", yellow=True)
        elif option(self.config, "claims_report") or option(self.config, "claims_html"):
            terminalreporter.write_line("no claim ran; the report lists none")
        for line in self.written:
            terminalreporter.write_line(line)
