"""The harness as a pytest plugin: run options, the run's environment, and the claims report.

A claim test is marked ``@pytest.mark.claim("G1")``; its docstring's first line is the
statement. It asks for the ``claim`` fixture and checks each piece of evidence with
``claim.check(name, measured, op, threshold)``, which records the row and asserts it.
Records travel in ``report.user_properties`` so they survive pytest-xdist.
"""

from __future__ import annotations

import json
import math
import operator
import platform
import textwrap

import pytest
import torch

from core._experiments import resolve_device
from core._files import atomic_writer

_DEVICE = pytest.StashKey[torch.device]()
_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_PROPERTY = "claim"


def _plain(value):
    """JSON-ready copy of a measured value (tensors, numpy arrays and scalars included)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


class Claim:
    """Evidence of one claim instance, filled in by the test."""

    def __init__(self, claim_id: str, statement: str, params: dict):
        self.id, self.statement, self.params = claim_id, statement, dict(params)
        self.measured: dict = {}
        self.thresholds: list[str] = []

    def measure(self, **evidence) -> None:
        """Record evidence that is reported without a threshold of its own."""
        self.measured.update({k: _plain(v) for k, v in evidence.items()})

    def param(self, **params) -> None:
        """Record settings of the experiment behind the claim."""
        self.params.update({k: _plain(v) for k, v in params.items()})

    def check(self, name: str, measured, op: str, threshold) -> None:
        """Record `measured op threshold` and assert it."""
        if op not in _OPS:
            raise ValueError(f"{self.id}: unknown comparison {op!r}; use one of {sorted(_OPS)}")
        measured, threshold = _plain(measured), _plain(threshold)
        self.measured[name] = measured
        self.thresholds.append(f"{name} {op} {_fmt(threshold)}")
        assert _OPS[op](measured, threshold), f"{self.id}: {name} = {_fmt(measured)} violates {op} {_fmt(threshold)}"

    def as_dict(self) -> dict:
        return {"id": self.id, "statement": self.statement, "params": self.params,
                "measured": self.measured, "thresholds": self.thresholds}


_claim_key = pytest.StashKey[Claim]()
_call_passed_key = pytest.StashKey[bool]()


def _claim_marker(item):
    return item.get_closest_marker("claim") if isinstance(item, pytest.Function) else None


def _statement(item) -> str:
    doc = (item.function.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else item.name


def _record(item) -> Claim | None:
    """The item's claim record, created on first use; None for tests that are not claims."""
    marker = _claim_marker(item)
    if marker is None:
        return None
    if _claim_key not in item.stash:
        callspec = getattr(item, "callspec", None)
        params = {k: _plain(v) for k, v in (callspec.params if callspec else {}).items()}
        item.stash[_claim_key] = Claim(marker.args[0], _statement(item), params)
    return item.stash[_claim_key]


@pytest.fixture
def claim(request) -> Claim:
    """The current claim instance; the test must check at least one piece of evidence."""
    record = _record(request.node)
    if record is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses `claim` without @pytest.mark.claim")
    yield record
    if request.node.stash.get(_call_passed_key, False) and not record.thresholds:
        pytest.fail(f"{record.id}: the claim test checked nothing", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.stash[_call_passed_key] = report.passed
    record = _record(item)
    if record is not None:
        report.user_properties.append((_PROPERTY, record.as_dict()))
    return report


class ClaimsReport:
    """Collects claim records from test reports; prints the table and writes the JSON."""

    def __init__(self, config):
        self.config = config
        self.records: dict[str, dict] = {}
        self.phases: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report):
        props = [value for key, value in report.user_properties if key == _PROPERTY]
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
        keys = ("id", "nodeid", "statement", "params", "measured", "thresholds", "outcome", "duration_s")
        rows = [{**r, "outcome": self._outcome(nodeid)} for nodeid, r in self.records.items()]
        rows.sort(key=lambda r: r["id"])  # stable: parameter sets keep their collection order
        return [{k: r[k] for k in keys} for r in rows]

    def pytest_terminal_summary(self, terminalreporter):
        claims = self.claims()
        if not claims:
            return
        header = ["claim", "statement", "params", "measured", "threshold", "verdict"]
        rows = [header] + [[
            c["id"], c["statement"],
            "\n".join(f"{k}={_fmt(v)}" for k, v in c["params"].items()) or "-",
            "\n".join(f"{k}={_fmt(v)}" for k, v in c["measured"].items()) or "-",
            "\n".join(c["thresholds"]) or "-",
            c["outcome"].upper(),
        ] for c in claims]
        terminalreporter.section("claims report")
        for line in _table(rows, [5, 34, 16, 40, 30, 7]):
            terminalreporter.write_line(line)
        counts = {o: sum(c["outcome"] == o for c in claims) for o in ("passed", "failed", "error", "skipped")}
        terminalreporter.write_line("claims: " + ", ".join(f"{n} {o}" for o, n in counts.items() if n))
        path = self.config.getoption("claims_report")
        if path:
            report = {"environment": environment(self.config), "claims": claims}
            with atomic_writer(path, "w") as out:
                out.write(json.dumps(report, indent=2) + "\n")
            terminalreporter.write_line(f"claims report written to {path}")


def pytest_addoption(parser):
    group = parser.getgroup("claims", "reproducibility claims")
    group.addoption("--seed", type=int, default=0, help="base seed; every experiment's seed moves with it (default 0)")
    group.addoption("--device", default=None,
                    help="torch device for the experiments (default: cuda when available, else cpu)")
    group.addoption("--mnist-root", default=None,
                    help="torchvision-style root holding MNIST/raw/ (overrides $MNIST_ROOT)")
    group.addoption("--claims-report", default=None, metavar="PATH", help="write the claims report as JSON to PATH")


def _resolve_device(config) -> torch.device:
    try:
        return resolve_device(config.getoption("device"))
    except ValueError as err:
        raise pytest.UsageError(f"--device: {err}") from None


@pytest.fixture(scope="session")
def device(pytestconfig) -> torch.device:
    """Device every experiment runs on (--device)."""
    return pytestconfig.stash[_DEVICE]


@pytest.fixture(scope="session")
def seed(pytestconfig) -> int:
    """Base seed of the run (--seed)."""
    return pytestconfig.getoption("seed")


def pytest_configure(config):
    config.stash[_DEVICE] = _resolve_device(config)
    config.addinivalue_line("markers", "claim(id): an empirical claim, reported in the claims report")
    config.pluginmanager.register(ClaimsReport(config), "claims-report")


def environment(config) -> dict:
    """Versions and settings that a claim's verdict depends on."""
    import numpy
    import torchvision

    return {"python": platform.python_version(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": numpy.__version__,
            "device": str(config.stash[_DEVICE]),
            "seed": config.getoption("seed"), "platform": platform.platform()}


def _table(rows: list[list[str]], widths: list[int]) -> list[str]:
    """Rows of wrapped cells, each row as tall as its tallest cell."""
    lines = []
    for row in rows:
        cells = [sum((textwrap.wrap(part, w) or [""] for part in cell.split("\n")), []) for cell, w in zip(row, widths)]
        for i in range(max(map(len, cells))):
            lines.append("  ".join((c[i] if i < len(c) else "").ljust(w) for c, w in zip(cells, widths)).rstrip())
        lines.append("")
    return lines
