"""Claims as pytest tests: the ``claim`` marker and fixture, the claims report (terminal, JSON, HTML) and DRIFT.

A claim test is marked ``@pytest.mark.claim("S1", source=Source(paper=..., arxiv=..., section=...))``; its
docstring's first line is the statement. It asks for the ``claim`` fixture and records each piece of evidence
with ``claim.check(name, measured, op, threshold, reference=None, note=None)``, where ``reference`` is the
``Reference`` range the value was measured in before. A ``Bound(op, threshold, reference, note)`` unpacks into
the last four: ``claim.check(name, value, *bound)``.

``check`` does not raise when the evidence falls short: every check runs, and once the test function returns
the test fails once, listing every failing check. A NaN or inf measurement fails its check. A claim test that
records no check is an error, even without the fixture. A check that passes outside its reference range is
DRIFT: the claim's outcome is "drift", a warning, unless ``--claims-strict`` makes it a failure.

Each check's *margin* says how far the measurement is from the threshold, as a ratio oriented so that above 1
passes with room, 1 is the threshold itself and below 1 fails: measured / threshold for ``>=`` and ``>``,
threshold / measured for ``<=`` and ``<`` (both flipped when the two are negative). It is None where a ratio
means nothing: for ``==``, a zero, opposite signs or a non-finite value.

Records travel in ``report.user_properties`` as plain JSON data, so they survive pytest-xdist.
``--claims-report PATH`` writes them as JSON and ``--claims-html PATH`` as one page, with the run's environment,
to which any plugin adds fields through the ``pytest_claims_environment(config)`` hook.

Installed, the plugin loads through the ``pytest11`` entry point named ``pytest_claims``; ``-p pytest_claims``
or ``pytest_plugins = ["pytest_claims"]`` load it otherwise, once under either route. It imports neither torch
nor numpy: tensors and arrays are read via ``tolist``.
"""

from __future__ import annotations

import base64

import pytest

from ._claim import Bound as Bound
from ._claim import Claim as Claim
from ._claim import Reference as Reference
from ._claim import Source as Source
from ._claim import as_source as as_source
from ._claim import margin as margin
from ._claim import plain
from ._report import FIGURE_PROPERTY, PROPERTY, ClaimsReport, option
from ._report import environment as environment
from ._results import ExperimentResults as ExperimentResults
from ._study import report_progress as report_progress

__version__ = "0.3.1"

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
        params = {k: plain(v) for k, v in (callspec.params if callspec else {}).items()}
        item.stash[_claim_key] = Claim(marker.args[0], _statement(item), params, marker.kwargs.get("source"))
    return item.stash[_claim_key]


def _message(excinfo) -> str:
    """Why a phase did not pass: a fail() or skip() message as given, else the exception's own line."""
    if isinstance(excinfo.value, (pytest.fail.Exception, pytest.skip.Exception)):
        return excinfo.value.msg
    return excinfo.exconly()


def pytest_addhooks(pluginmanager):
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser):
    group = parser.getgroup("claims", "reproducibility claims")
    group.addoption("--claims-report", default=None, metavar="PATH",
                    help="write the claims report as JSON to PATH (ini: claims_report)")
    group.addoption("--claims-html", default=None, metavar="PATH",
                    help="write the claims report as one self-contained HTML page to PATH (ini: claims_html)")
    group.addoption("--claims-strict", action="store_true", default=None,
                    help="fail a claim whose checks pass outside their reference range (DRIFT) instead of "
                         "warning (ini: claims_strict)")
    group.addoption("--claims-only", default=None, metavar="IDS",
                    help="run only the claims with these comma-separated ids (e.g. G1,S3); other tests stay")
    parser.addini("claims_report", "write the claims report as JSON to this path", default=None)
    parser.addini("claims_html", "write the claims report as one HTML page to this path", default=None)
    parser.addini("claims_strict", "fail drifted claims instead of warning", type="bool", default=False)


def attach_figure(node, name: str, png: bytes, baseline: bytes | None = None, diff: bytes | None = None,
                  rms: float | None = None) -> None:
    """Show a figure on the HTML page (--claims-html): the PNG the test drew, and its baseline and their
    difference when the test compared them. Without a page to show it on, it records nothing.

    >>> def test_f1(request):                                       # doctest: +SKIP
    ...     attach_figure(request.node, "F1", draw_png(), baseline=Path("F1.png").read_bytes())
    """
    if not option(node.config, "claims_html"):  # nothing shows it: keep the reports (and junit XML) small
        return
    encode = lambda data: None if data is None else base64.b64encode(data).decode("ascii")  # noqa: E731
    node.user_properties.append((FIGURE_PROPERTY, {"name": name, "png": encode(png), "baseline": encode(baseline),
                                                   "diff": encode(diff), "rms": rms}))


def _probe_writable(path: str, flag: str) -> None:
    """Create the report's folder and a scratch file in it, so an unusable path fails before the run."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise pytest.UsageError(f"{flag} {path}: is a directory")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise pytest.UsageError(f"{flag} {path}: not writable ({err.strerror or err})") from None


def pytest_configure(config):
    for name, flag in (("claims_report", "--claims-report"), ("claims_html", "--claims-html")):
        if option(config, name):
            _probe_writable(option(config, name), flag)
    config.addinivalue_line("markers", "claim(id, source=None): an empirical claim and where it comes from, "
                                       "reported in the claims report")
    config.pluginmanager.register(ClaimsReport(config), "claims-report")


def pytest_collection_modifyitems(config, items):
    wanted = config.getoption("claims_only")
    if not wanted:
        return
    ids = {i.strip() for i in wanted.split(",") if i.strip()}
    keep = [item for item in items if _claim_marker(item) is None or _claim_marker(item).args[0] in ids]
    deselected = [item for item in items if item not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


@pytest.fixture(scope="session")
def experiment_results(pytestconfig) -> ExperimentResults:
    """``experiment_results(function, config)``: the function's result for that config, computed once and kept
    in pytest's cache directory across sessions (``--cache-clear`` empties it).

    >>> @pytest.fixture                                              # doctest: +SKIP
    ... def fit(experiment_results):
    ...     return experiment_results(run_fit, FitConfig(n=200, seed=0))
    """
    cache = getattr(pytestconfig, "cache", None)  # None under -p no:cacheprovider: then per session only
    return ExperimentResults(cache.mkdir("pytest-claims-results") if cache is not None else None)


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
    message = record.failure(strict=bool(option(pyfuncitem.config, "claims_strict"))) if record is not None else None
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
        report.user_properties.append((PROPERTY, record.as_dict()))
    return report
