"""Claims as pytest tests: the ``claim`` marker, the ``claim`` fixture and the claims report.

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
``--claims-report PATH`` writes them as JSON with the run's environment, to which any plugin
adds fields through the ``pytest_claims_environment(config)`` hook.

Installed, the plugin loads through the ``pytest11`` entry point named ``pytest_claims``;
``-p pytest_claims`` or ``pytest_plugins = ["pytest_claims"]`` load it otherwise, once under
either route. It imports neither torch nor numpy: tensors and arrays are read via ``tolist``.
"""

from __future__ import annotations

import pytest

from ._claim import Bound, Claim, margin, plain
from ._report import PROPERTY, ClaimsReport, environment

__all__ = ["Bound", "Claim", "margin", "environment"]

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
    group.addoption("--claims-report", default=None, metavar="PATH", help="write the claims report as JSON to PATH")


def _probe_writable(path: str) -> None:
    """Create the report's folder and a scratch file in it, so an unusable path fails before the run."""
    import os
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise pytest.UsageError(f"--claims-report {path}: is a directory")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise pytest.UsageError(f"--claims-report {path}: not writable ({err.strerror or err})") from None


def pytest_configure(config):
    if config.getoption("claims_report"):
        _probe_writable(config.getoption("claims_report"))
    config.addinivalue_line("markers", "claim(id, source=None): an empirical claim and where it comes from, reported in the claims report")
    config.pluginmanager.register(ClaimsReport(config), "claims-report")


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
        report.user_properties.append((PROPERTY, record.as_dict()))
    return report
