"""The on-disk result cache: hits, misses, invalidation and failures (two processes sharing a key:
tests/integration/test_concurrency.py)."""

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

import core
from core.experiments import RESULTS_ENV, CacheInfo, CacheWarning, ResultCache, _cache, source_fingerprint


@dataclass(frozen=True)
class Result:
    """A stand-in for an experiment's result: a frozen dataclass holding a tensor."""

    name: str
    curve: torch.Tensor


class Counter:
    """A compute function that counts its calls."""

    def __init__(self, value=None, seconds: float = 0.0):
        self.calls, self.value, self.seconds = 0, value, seconds

    def __call__(self):
        self.calls += 1
        time.sleep(self.seconds)
        return self.value if self.value is not None else Result(f"run {self.calls}", torch.arange(3.0) * self.calls)


SPEC = {"experiment": "sensing", "alpha": 1e-3, "steps": 10, "source": "abc", "torch": "2.x", "device": "cpu"}


def test_miss_then_hit_returns_the_stored_value_and_original_time(tmp_path):
    """The first call computes and stores; the second loads the same value and reports the original time."""
    cache, compute = ResultCache(tmp_path), Counter(seconds=0.05)
    value, info = cache.get_or_compute(SPEC, compute)
    assert (info.loaded, info.key, info.path) == (False, cache.key(SPEC), str(cache.path(info.key)))
    assert info.compute_seconds >= 0.05
    again, hit = cache.get_or_compute(dict(reversed(SPEC.items())), compute)  # key order does not matter
    assert compute.calls == 1
    assert hit == CacheInfo(info.key, True, info.compute_seconds, info.path)
    assert again.name == value.name and torch.equal(again.curve, value.curve)


@pytest.mark.parametrize("field, new", [("alpha", 1e-2), ("steps", 11), ("torch", "2.y"), ("device", "cuda")])
def test_changing_one_spec_field_recomputes(tmp_path, field, new):
    """Any field of the spec is part of the key: a change is a miss, and the old entry still hits."""
    cache, compute = ResultCache(tmp_path), Counter()
    cache.get_or_compute(SPEC, compute)
    value, info = cache.get_or_compute({**SPEC, field: new}, compute)
    assert (compute.calls, info.loaded, value.name) == (2, False, "run 2")
    assert cache.get_or_compute(SPEC, compute)[0].name == "run 1"


def test_changing_one_source_line_recomputes(tmp_path):
    """The source fingerprint moves with any edit of the package, so entries keyed by it go stale."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "solver.py").write_text("STEP = 0.1\n")
    (package / "sub" / "helper.py").write_text("X = 1\n")
    before = source_fingerprint(package)
    assert before == source_fingerprint(package) and len(before) == 64
    cache, compute = ResultCache(tmp_path / "cache"), Counter()
    cache.get_or_compute({**SPEC, "source": before}, compute)
    (package / "sub" / "helper.py").write_text("X = 2\n")
    after = source_fingerprint(package)
    assert after != before
    assert cache.get_or_compute({**SPEC, "source": after}, compute)[1].loaded is False
    assert compute.calls == 2


def test_default_fingerprint_is_the_whole_core_package_and_any_edit_in_it_moves_it(tmp_path):
    """Without an argument the fingerprint covers the core package, subpackages included: a copy of the package
    has the same one, and editing or adding a module anywhere in the copy changes it; files other than Python
    sources (compiled caches, data) do not."""
    copy = tmp_path / "core"
    shutil.copytree(Path(core.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert source_fingerprint(copy) == source_fingerprint()
    before = source_fingerprint(copy)
    (copy / "sensing" / "kernels" / "notes.txt").write_text("not a source\n")
    (copy / "mlp" / "__pycache__").mkdir()
    (copy / "mlp" / "__pycache__" / "_model.cpython-311.pyc").write_bytes(b"\0")
    assert source_fingerprint(copy) == before
    kernel = copy / "sensing" / "kernels" / "_numba.py"
    kernel.write_text(kernel.read_text() + "# one more line\n")
    edited = source_fingerprint(copy)
    assert edited != before
    (copy / "experiments" / "_new.py").write_text("")
    assert source_fingerprint(copy) not in (before, edited)


def test_compute_that_raises_is_not_cached(tmp_path):
    """The exception propagates, nothing is stored, and the next call computes afresh."""
    cache = ResultCache(tmp_path)

    def fail():
        raise RuntimeError("diverged")

    with pytest.raises(RuntimeError, match="diverged"):
        cache.get_or_compute(SPEC, fail)
    assert not cache.path(cache.key(SPEC)).exists()
    compute = Counter()
    assert cache.get_or_compute(SPEC, compute)[1].loaded is False and compute.calls == 1


def test_corrupt_entry_is_recomputed_with_a_warning_and_replaced(tmp_path):
    """A truncated entry warns with its path, is recomputed, and the fresh entry then hits."""
    cache, compute = ResultCache(tmp_path), Counter()
    _, info = cache.get_or_compute(SPEC, compute)
    Path(info.path).write_bytes(Path(info.path).read_bytes()[:50])
    with pytest.warns(CacheWarning, match=f"{info.path} is unreadable"):
        value, again = cache.get_or_compute(SPEC, compute)
    assert (again.loaded, value.name, compute.calls) == (False, "run 2", 2)
    assert cache.get_or_compute(SPEC, compute)[1].loaded is True


def test_entry_of_another_spec_is_a_miss(tmp_path):
    """An entry whose stored spec differs from the one asked for (as after a collision) is not used."""
    cache, compute = ResultCache(tmp_path), Counter()
    _, info = cache.get_or_compute(SPEC, compute)
    other = {**SPEC, "steps": 99}
    os.replace(info.path, cache.path(cache.key(other)))
    with pytest.warns(CacheWarning, match="different spec"):
        value, again = cache.get_or_compute(other, compute)
    assert (again.loaded, value.name) == (False, "run 2")


def test_unusable_directory_warns_once_and_still_returns_results(tmp_path):
    """A cache root that cannot be created (here under a regular file) costs a warning, never the result."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache, compute = ResultCache(blocker / "cache"), Counter()
    with pytest.warns(CacheWarning, match="not writable") as record:
        first, info = cache.get_or_compute(SPEC, compute)
        second, _ = cache.get_or_compute({**SPEC, "steps": 11}, compute)
    assert len(record) == 1
    assert (first.name, second.name, info.loaded, info.path) == ("run 1", "run 2", False, None)


def test_full_disk_on_write_warns_and_returns_the_result(tmp_path, monkeypatch):
    """An OSError while writing the entry (a full disk) leaves no entry and loses no work."""
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_cache, "atomic_writer", full)
    cache = ResultCache(tmp_path)
    with pytest.warns(CacheWarning, match="No space left"):
        value, info = cache.get_or_compute(SPEC, Counter())
    assert (value.name, info.loaded, info.path) == ("run 1", False, None)
    assert not list(tmp_path.glob("*.pt"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes to read-only directories")
def test_read_only_directory_warns_and_returns_the_result(tmp_path):
    """A read-only cache directory: the lock cannot be taken, the result is computed and returned."""
    tmp_path.chmod(0o555)
    try:
        with pytest.warns(CacheWarning, match="not writable"):
            value, info = ResultCache(tmp_path).get_or_compute(SPEC, Counter())
    finally:
        tmp_path.chmod(0o755)
    assert (value.name, info.path) == ("run 1", None)


def test_disabled_cache_always_computes_and_never_touches_disk(tmp_path):
    """enabled=False computes on every call and creates nothing."""
    cache, compute = ResultCache(tmp_path / "cache", enabled=False), Counter()
    for _ in range(2):
        _, info = cache.get_or_compute(SPEC, compute)
        assert (info.loaded, info.path) == (False, None)
    assert compute.calls == 2 and not (tmp_path / "cache").exists()


def test_clear_removes_every_entry(tmp_path):
    """clear() counts and removes the entries; afterwards every spec is computed again."""
    cache, compute = ResultCache(tmp_path / "cache"), Counter()
    assert cache.clear() == 0  # nothing there yet, not even the folder
    cache.get_or_compute(SPEC, compute)
    cache.get_or_compute({**SPEC, "steps": 11}, compute)
    assert cache.clear() == 2
    assert cache.get_or_compute(SPEC, compute)[1].loaded is False and compute.calls == 3


def test_default_root_is_in_the_user_cache_directory(tmp_path, monkeypatch):
    """Without a root the cache lives under $XDG_CACHE_HOME, beside the MNIST copy."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(RESULTS_ENV, raising=False)  # set by tests/conftest.py and by CI for a fresh cache
    assert ResultCache().root == tmp_path / "gradnorm-sensing-claims" / "results"


def test_results_root_follows_its_environment_variable(monkeypatch, tmp_path):
    """CLAIMS_RESULT_CACHE moves the default cache, so a CI run can start from an empty one."""
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "ci"))
    assert ResultCache().root == tmp_path / "ci"


@pytest.mark.parametrize("options, kept", [({"cacheclear": True}, True), ({"clear_results": True}, False),
                                           ({}, True)], ids=["cache-clear", "clear-results", "neither"])
def test_only_clear_results_empties_the_result_cache(tmp_path, options, kept):
    """pytest's --cache-clear keeps its meaning (.pytest_cache only); --clear-results empties the result cache."""
    from types import SimpleNamespace

    from claims.conftest import session_cache

    cache = ResultCache(tmp_path)
    cache.get_or_compute({"experiment": "x"}, lambda: 1.0)
    values = {"no_result_cache": False, "clear_results": False, "cacheclear": False, **options}
    session_cache(SimpleNamespace(getoption=values.__getitem__), tmp_path)
    assert bool(list(tmp_path.glob("*.pt"))) == kept
