"""The harness as a pytest plugin: run options, the run's environment, and the claims report.

A claim test is marked ``@pytest.mark.claim("S1", source="Li, Ma, Zhang 2018, Sec. 3")``; its
docstring's first line is the statement. It asks for the ``claim`` fixture and records each piece
of evidence with ``claim.check(name, measured, op, threshold, reference=None)``, where
``reference`` states the measured range the threshold came from. A ``Bound(op, threshold,
reference)`` unpacks into the last three: ``claim.check(name, value, *bound)``.

``check`` does not raise when the evidence falls short: every check runs, and once the test
function returns the test fails once, listing every failing check. A NaN or inf measurement
fails its check. A claim test that records no check is an error, even without the fixture.

Each check's *margin* says how far the measurement is from the threshold, as a ratio oriented
so that above 1 passes with room, 1 is the threshold itself and below 1 fails:
measured / threshold for ``>=`` and ``>``, threshold / measured for ``<=`` and ``<`` (both
flipped when the two are negative, where the larger value has the smaller magnitude).
It is None where a ratio means nothing: for ``==``, a zero, opposite signs or a non-finite value.

Records travel in ``report.user_properties`` as plain JSON data, so they survive pytest-xdist.
"""

from __future__ import annotations

import json
import math
import numbers
import operator
import platform
import textwrap
from typing import NamedTuple

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


class Bound(NamedTuple):
    """A threshold with the measured range it came from; unpacks into ``claim.check``'s last arguments."""

    op: str
    threshold: float
    reference: str | None = None


def _number(value, what: str):
    """`value` as a plain int or float; a TypeError naming `what` for anything else."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__} {value!r:.80}")
    return value if isinstance(value, (int, float)) else float(value)


def margin(measured, op: str, threshold) -> float | None:
    """How far `measured` is from `threshold`, as a ratio: > 1 passes with room, < 1 fails."""
    if op == "==" or not math.isfinite(measured) or measured * threshold <= 0:
        return None
    ratio = measured / threshold
    return ratio if (op in (">=", ">")) != (threshold < 0) else 1 / ratio


def _describe(check: dict) -> str:
    """One line saying why a check failed."""
    expected = f"{check['op']} {_fmt(check['threshold'])}"
    if isinstance(check["measured"], str):  # how a NaN or inf is kept in JSON, which has neither
        line = f"{check['name']} = {check['measured']} is not finite (expected {expected})"
    else:
        line = f"{check['name']} = {_fmt(check['measured'])} violates {expected}"
        if check["margin"] is not None:
            line += f", margin {check['margin']:.3g}"
    return line + (f"; reference: {check['reference']}" if check["reference"] else "")


class Claim:
    """Evidence of one claim instance, filled in by the test."""

    def __init__(self, claim_id: str, statement: str, params: dict, source: str | None = None):
        self.id, self.statement, self.params, self.source = claim_id, statement, dict(params), source
        self.measured: dict = {}
        self.checks: list[dict] = []
        self.message: str | None = None  # from the first phase that failed or skipped

    def measure(self, **evidence) -> None:
        """Record evidence that is reported without a threshold of its own."""
        self.measured.update({k: _plain(v) for k, v in evidence.items()})

    def param(self, **params) -> None:
        """Record settings of the experiment behind the claim."""
        self.params.update({k: _plain(v) for k, v in params.items()})

    def check(self, name: str, measured, op: str, threshold, reference: str | None = None) -> bool:
        """Record whether `measured op threshold` holds and return it; failures fail the test at its end."""
        if op not in _OPS:
            raise ValueError(f"{self.id}: unknown comparison {op!r} for {name}; use one of {sorted(_OPS)}")
        measured = _number(measured, f"{self.id}: measured {name}")
        threshold = _number(threshold, f"{self.id}: threshold of {name}")
        if not math.isfinite(threshold):
            raise ValueError(f"{self.id}: threshold of {name} is {threshold}; a bound must be finite")
        # NaN compares False with everything and inf can satisfy a bound, so neither counts as evidence.
        passed = math.isfinite(measured) and bool(_OPS[op](measured, threshold))
        self.checks.append({"name": name, "op": op, "threshold": threshold, "measured": _plain(measured),
                            "passed": passed, "margin": margin(measured, op, threshold),
                            "reference": None if reference is None else str(reference)})
        self.measured[name] = _plain(measured)
        return passed

    def failure(self) -> str | None:
        """The message the test fails with: every failing check, or None when all pass."""
        failing = [c for c in self.checks if not c["passed"]]
        if not failing:
            return None
        lines = [f"{self.id}: {len(failing)} of {len(self.checks)} checks failed"]
        return "\n".join(lines + ["  " + _describe(c) for c in failing])

    def as_dict(self) -> dict:
        thresholds = [f"{c['name']} {c['op']} {_fmt(c['threshold'])}" for c in self.checks]
        return {"id": self.id, "statement": self.statement, "source": self.source, "params": self.params,
                "measured": self.measured, "checks": self.checks, "thresholds": thresholds,
                "message": self.message}


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
        item.stash[_claim_key] = Claim(marker.args[0], _statement(item), params, marker.kwargs.get("source"))
    return item.stash[_claim_key]


@pytest.fixture
def claim(request) -> Claim:
    """The current claim instance; the test must check at least one piece of evidence."""
    record = _record(request.node)
    if record is None:
        raise pytest.UsageError(f"{request.node.nodeid} uses `claim` without @pytest.mark.claim")
    return record


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    result = yield
    # Raised here, after the body returned, the failing checks fail the call phase together.
    record = _record(pyfuncitem)
    message = record.failure() if record is not None else None
    if message:
        pytest.fail(message, pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    result = yield
    # A claim test whose body ran cleanly but checked nothing is broken, not refuted: an error.
    record = _record(item)
    if record is not None and item.stash.get(_call_passed_key, False) and not record.checks:
        pytest.fail(f"{record.id}: the claim test checked nothing; a claim needs evidence (claim.check)",
                    pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "call":
        item.stash[_call_passed_key] = report.passed
    record = _record(item)
    if record is not None:
        if call.excinfo is not None and record.message is None:
            record.message = _message(call.excinfo)
        report.user_properties.append((_PROPERTY, record.as_dict()))
    return report


def _message(excinfo) -> str:
    """Why a phase did not pass: a fail() or skip() message as given, else the exception's own line."""
    if isinstance(excinfo.value, (pytest.fail.Exception, pytest.skip.Exception)):
        return excinfo.value.msg
    return excinfo.exconly()


# The claim's row spans the check, measured and margin columns of its checks' rows.
_CHECK_WIDTHS = [5, 36, 10, 8, 32, 7]
_CLAIM_WIDTHS = [5, 36 + 10 + 8 + 4, 32, 7]
_HEADER = ["claim", "statement / check", "measured", "margin", "reference / source", "verdict"]


def _lines(c: dict) -> list[str]:
    """Table lines of one claim instance: the claim, each check, then evidence without a threshold."""
    params = ", ".join(f"{k}={_fmt(v)}" for k, v in c["params"].items())
    statement = c["statement"] + (f"\nparams: {params}" if params else "")
    lines = _table([[c["id"], statement, c["source"] or "-", c["outcome"].upper()]], _CLAIM_WIDTHS)
    lines += _table([["", f"  {k['name']} {k['op']} {_fmt(k['threshold'])}", _fmt(k["measured"]),
                      "-" if k["margin"] is None else f"{k['margin']:.3g}", k["reference"] or "-",
                      "ok" if k["passed"] else "FAIL"] for k in c["checks"]], _CHECK_WIDTHS)
    checked = {k["name"] for k in c["checks"]}
    lines += _table([["", f"  {name} = {_fmt(v)}", "", ""] for name, v in c["measured"].items()
                     if name not in checked], _CLAIM_WIDTHS)
    return lines + [""]


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
        keys = ("id", "nodeid", "statement", "source", "params", "measured", "checks", "thresholds",
                "outcome", "message", "duration_s")
        rows = [{**r, "outcome": self._outcome(nodeid)} for nodeid, r in self.records.items()]
        rows.sort(key=lambda r: r["id"])  # stable: parameter sets keep their collection order
        return [{k: r[k] for k in keys} for r in rows]

    def pytest_terminal_summary(self, terminalreporter):
        claims = self.claims()
        if not claims:
            return
        terminalreporter.section("claims report")
        for line in _table([_HEADER], _CHECK_WIDTHS) + sum(map(_lines, claims), []):
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
    group.addoption("--claim-seeds", type=int, default=3, metavar="N",
                    help="new seeds (base + 1..N) on which G5 re-checks G1-G3 (default 3)")
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
    config.addinivalue_line("markers", "claim(id, source=None): an empirical claim and where it comes from, reported in the claims report")
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
    return lines
