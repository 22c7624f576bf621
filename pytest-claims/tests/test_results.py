"""The experiment_results fixture: each (function, config) computed once, across sessions, until --cache-clear."""

SUITE = '''
from dataclasses import dataclass

import pytest

CALLS = []

@dataclass(frozen=True)
class Config:
    n: int

def experiment(config):
    CALLS.append(config)
    print("COMPUTED", config.n)
    return sum(range(config.n))

@pytest.fixture
def total(experiment_results):
    return experiment_results(experiment, Config(n=10))

def test_one(total):
    assert total == 45

def test_two(total, experiment_results):
    assert total == 45 and experiment_results(experiment, Config(n=4)) == 6
'''


def test_results_are_computed_once_and_kept_until_cache_clear(pytester):
    pytester.makepyfile(test_suite=SUITE)
    first = pytester.runpytest_subprocess("-s")
    first.assert_outcomes(passed=2)
    assert first.stdout.str().count("COMPUTED") == 2  # n=10 once for both tests, and n=4
    second = pytester.runpytest_subprocess("-s")
    second.assert_outcomes(passed=2)
    assert "COMPUTED" not in second.stdout.str()
    cleared = pytester.runpytest_subprocess("-s", "--cache-clear")
    assert cleared.stdout.str().count("COMPUTED") == 2


def test_an_edited_experiment_module_is_computed_afresh(pytester):
    """The key holds the module's source, so an edit to the experiment (or beside it) recomputes every config."""
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest_subprocess("-s")
    pytester.makepyfile(test_suite=SUITE.replace("Config(n=4)", "Config(n=5)").replace("== 6", "== 10"))
    result = pytester.runpytest_subprocess("-s")
    result.assert_outcomes(passed=2)
    assert result.stdout.str().count("COMPUTED") == 2
