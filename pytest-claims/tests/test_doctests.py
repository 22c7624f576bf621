"""The examples in the plugin's docstrings run as written (against the installed package)."""

import doctest
import importlib

import pytest

MODULES = ["pytest_claims", "pytest_claims._claim", "pytest_claims._results", "pytest_claims._compare",
           "pytest_claims._html", "pytest_claims._report", "pytest_claims._template"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0
