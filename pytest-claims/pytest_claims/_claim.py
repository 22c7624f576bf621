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


class Source(NamedTuple):
    """Where a claim comes from: a paper and the place in it. Every field is optional; `note` is free text.

    >>> Source(paper="Li, Ma, Zhang 2018", arxiv="1712.09203", section="1").text()
    'Li, Ma, Zhang 2018, Sec. 1 (arXiv:1712.09203)'
    """

    paper: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    section: str | None = None
    equation: str | None = None
    table: str | None = None
    note: str | None = None

    def text(self) -> str:
        place = ", ".join(f"{label} {value}" for label, value in
                          (("Sec.", self.section), ("Eq.", self.equation), ("Table", self.table)) if value)
        ids = [f"arXiv:{self.arxiv}"] if self.arxiv else []
        ids += [f"doi:{self.doi}"] if self.doi else []
        text = ", ".join(part for part in (self.paper, place) if part)
        text += f" ({'; '.join(ids)})" if ids else ""
        return "; ".join(part for part in (text, self.note) if part)

    def as_dict(self) -> dict:
        return {k: v for k, v in self._asdict().items() if v is not None}


def as_source(value) -> Source | None:
    """A marker's `source=`: a Source, a dict of its fields, free text (kept as the note), or None."""
    if value is None or isinstance(value, Source):
        return value
    if isinstance(value, str):
        return Source(note=value)
    if isinstance(value, dict):
        unknown = set(value) - set(Source._fields)
        if unknown:
            raise TypeError(f"source has unknown fields {sorted(unknown)}; use {list(Source._fields)}")
        return Source(**value)
    raise TypeError(f"source must be a Source, a dict or a string, got {type(value).__name__}")


class Reference(NamedTuple):
    """The range a check's value was measured in before (on `seeds`), widened by rtol |bound| + atol for rounding.

    A value that passes its threshold but lies outside this range has drifted: the check's verdict is DRIFT.

    >>> Reference(0.97, 0.99, "0-9").contains(0.985), Reference(0.97, 0.99, "0-9").contains(0.96)
    (True, False)
    """

    low: float
    high: float
    seeds: str = ""
    rtol: float = 0.0
    atol: float = 0.0

    def contains(self, value: float) -> bool:
        low = self.low - self.rtol * abs(self.low) - self.atol
        high = self.high + self.rtol * abs(self.high) + self.atol
        return low <= value <= high

    def text(self) -> str:
        span = fmt(self.low) if self.low == self.high else f"{fmt(self.low)} to {fmt(self.high)}"
        return f"{self.seeds}: {span}" if self.seeds else span


class Bound(NamedTuple):
    """A threshold, the range its value was measured in and a note; unpacks into ``claim.check``'s last
    arguments: ``claim.check(name, value, *bound)``."""

    op: str
    threshold: float
    reference: Reference | None = None
    note: str | None = None


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
        verb = "violates" if not check["passed"] else "passes, but drifted outside its reference range; expected"
        line = f"{check['name']} = {fmt(check['measured'])} {verb} {expected}"
        if check["margin"] is not None:
            line += f", margin {check['margin']:.3g}"
    reference = reference_text(check)
    return line + (f"; reference: {reference}" if reference else "")


def reference_text(check: dict) -> str:
    """A check's note and reference range as one line of text ("" when it has neither)."""
    ref = check.get("reference")
    ref = Reference(**ref).text() if isinstance(ref, dict) else ref
    return "; ".join(part for part in (check.get("note"), ref) if part)


class Claim:
    """Evidence of one claim instance, filled in by the test."""

    def __init__(self, claim_id: str, statement: str, params: dict, source=None):
        self.id, self.statement, self.params, self.source = claim_id, statement, dict(params), as_source(source)
        self.measured: dict = {}
        self.checks: list[dict] = []
        self.message: str | None = None  # from the first phase that failed or skipped

    def measure(self, **evidence) -> None:
        """Record evidence that is reported without a threshold of its own."""
        self.measured.update({k: plain(v) for k, v in evidence.items()})

    def param(self, **params) -> None:
        """Record settings of the experiment behind the claim."""
        self.params.update({k: plain(v) for k, v in params.items()})

    def check(self, name: str, measured, op: str, threshold, reference: Reference | str | None = None,
              note: str | None = None) -> bool:
        """Record whether `measured op threshold` holds and return it; failures fail the test at its end.

        `reference` is the range the value was measured in before (a Reference; a string is kept as a note): a
        value that passes but falls outside it is reported as DRIFT, which fails only under --claims-strict.
        """
        if isinstance(reference, str):
            reference, note = None, "; ".join(part for part in (note, reference) if part)
        if reference is not None and not isinstance(reference, Reference):
            raise TypeError(f"{self.id}: reference of {name} must be a Reference or a string, "
                            f"got {type(reference).__name__}")
        if op not in OPS:
            raise ValueError(f"{self.id}: unknown comparison {op!r} for {name}; use one of {sorted(OPS)}")
        measured = _number(measured, f"{self.id}: measured {name}")
        threshold = _number(threshold, f"{self.id}: threshold of {name}")
        if not math.isfinite(threshold):
            raise ValueError(f"{self.id}: threshold of {name} is {threshold}; a bound must be finite")
        # NaN compares False with everything and inf can satisfy a bound, so neither counts as evidence.
        passed = math.isfinite(measured) and bool(OPS[op](measured, threshold))
        drift = passed and reference is not None and not reference.contains(measured)
        self.checks.append({"name": name, "op": op, "threshold": threshold, "measured": plain(measured),
                            "passed": passed, "drift": drift, "margin": margin(measured, op, threshold),
                            "reference": None if reference is None else reference._asdict(), "note": note})
        self.measured[name] = plain(measured)
        return passed

    def failure(self, strict: bool = False) -> str | None:
        """The message the test fails with: every failing check (and, if `strict`, every drifted one), or None."""
        failing = [c for c in self.checks if not c["passed"] or (strict and c["drift"])]
        if not failing:
            return None
        lines = [f"{self.id}: {len(failing)} of {len(self.checks)} checks failed"
                 + (" or drifted (--claims-strict)" if strict and any(c["drift"] for c in failing) else "")]
        return "\n".join(lines + ["  " + _describe(c) for c in failing])

    def drifted(self) -> list[str]:
        """The names of the checks that passed outside their reference range."""
        return [c["name"] for c in self.checks if c["drift"]]

    def as_dict(self) -> dict:
        """The record as plain JSON data, the form that crosses to the report (and xdist's controller)."""
        thresholds = [f"{c['name']} {c['op']} {fmt(c['threshold'])}" for c in self.checks]
        source = None if self.source is None else self.source.as_dict()
        return {"id": self.id, "statement": self.statement, "source": source, "params": self.params,
                "measured": self.measured, "checks": self.checks, "thresholds": thresholds,
                "message": self.message}
