"""The env's torch and torchvision are the releases its tox factor names (tox.ini sets the expected versions)."""

import os

import pytest
import torch
import torchvision


def _release(version: str) -> str:
    return version.split("+")[0]  # 2.9.1+cu128 and 2.9.1+cpu are both the 2.9.1 release


@pytest.mark.parametrize("module, variable", [(torch, "EXPECTED_TORCH_VERSION"),
                                              (torchvision, "EXPECTED_TORCHVISION_VERSION")],
                         ids=["torch", "torchvision"])
def test_installed_release_is_the_one_the_env_names(module, variable):
    expected = os.environ.get(variable)
    if not expected:
        pytest.skip(f"{variable} is not set: outside a tox env (tox.ini sets it per torch factor) any release is fine")
    assert _release(module.__version__) == expected, (
        f"{module.__name__} {module.__version__} is installed, but this env's factor names {expected}: "
        f"recreate the env (tox -r -e <env>)")
