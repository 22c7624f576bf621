"""A claim's evidence: checks against bounds, their margins, and the failure they add up to."""

from __future__ import annotations

import math
import numbers
import operator
from typing import NamedTuple

OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}


def plain(value):
    """JSON-ready copy of a measured value; tensors and arrays are duck-typed through ``tolist``."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def fmt(value) -> str:
    """Short text of a measured value for messages and the table."""
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
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
    expected = f"{check['op']} {fmt(check['threshold'])}"
    if isinstance(check["measured"], str):  # how a NaN or inf is kept in JSON, which has neither
        line = f"{check['name']} = {check['measured']} is not finite (expected {expected})"
    else:
        line = f"{check['name']} = {fmt(check['measured'])} violates {expected}"
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
        self.measured.update({k: plain(v) for k, v in evidence.items()})

    def param(self, **params) -> None:
        """Record settings of the experiment behind the claim."""
        self.params.update({k: plain(v) for k, v in params.items()})

    def check(self, name: str, measured, op: str, threshold, reference: str | None = None) -> bool:
        """Record whether `measured op threshold` holds and return it; failures fail the test at its end."""
        if op not in OPS:
            raise ValueError(f"{self.id}: unknown comparison {op!r} for {name}; use one of {sorted(OPS)}")
        measured = _number(measured, f"{self.id}: measured {name}")
        threshold = _number(threshold, f"{self.id}: threshold of {name}")
        if not math.isfinite(threshold):
            raise ValueError(f"{self.id}: threshold of {name} is {threshold}; a bound must be finite")
        # NaN compares False with everything and inf can satisfy a bound, so neither counts as evidence.
        passed = math.isfinite(measured) and bool(OPS[op](measured, threshold))
        self.checks.append({"name": name, "op": op, "threshold": threshold, "measured": plain(measured),
                            "passed": passed, "margin": margin(measured, op, threshold),
                            "reference": None if reference is None else str(reference)})
        self.measured[name] = plain(measured)
        return passed

    def failure(self) -> str | None:
        """The message the test fails with: every failing check, or None when all pass."""
        failing = [c for c in self.checks if not c["passed"]]
        if not failing:
            return None
        lines = [f"{self.id}: {len(failing)} of {len(self.checks)} checks failed"]
        return "\n".join(lines + ["  " + _describe(c) for c in failing])

    def as_dict(self) -> dict:
        """The record as plain JSON data, the form that crosses to the report (and xdist's controller)."""
        thresholds = [f"{c['name']} {c['op']} {fmt(c['threshold'])}" for c in self.checks]
        return {"id": self.id, "statement": self.statement, "source": self.source, "params": self.params,
                "measured": self.measured, "checks": self.checks, "thresholds": thresholds,
                "message": self.message}
