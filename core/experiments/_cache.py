"""Results cached on disk by a hash of their spec, computed once across processes and xdist workers.

An entry is one file, ``<root>/<key>.pt``, written with ``torch.save`` and read back with
``torch.load(weights_only=False)``: loading unpickles it, so the cache directory must be trusted
like any pickle cache (it lives in the user's own cache directory). The entry holds the value,
the spec it was computed for and how long that computation took.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

import torch
from filelock import FileLock

from .._util import atomic_writer, cache_root

T = TypeVar("T")
_FORMAT = 1  # bump when the entry layout changes; older entries then read as corrupt and are replaced
_SUFFIX = ".pt"


#: overrides where results are cached, e.g. a fresh directory for a hermetic CI run
RESULTS_ENV = "CLAIMS_RESULT_CACHE"


def default_results_root() -> Path:
    """$CLAIMS_RESULT_CACHE, else `results/` in the user cache directory (beside MNIST)."""
    return Path(os.environ.get(RESULTS_ENV) or cache_root() / "results")


class CacheWarning(UserWarning):
    """The cache could not be read or written; the result was computed instead."""


@dataclass(frozen=True)
class CacheInfo:
    """Where a result came from: loaded from the cache, or computed in this call (loaded=False)."""

    key: str
    loaded: bool
    compute_seconds: float  # of the original computation, also when loaded
    path: str | None  # the entry on disk; None when the result was not cached


def _canonical(spec: dict) -> str:
    """The spec as JSON text that equal specs share: sorted keys, no whitespace."""
    try:
        return json.dumps(spec, sort_keys=True, separators=(",", ":"))
    except TypeError as err:
        raise TypeError(f"a cache spec must be plain JSON data: {err}") from None


def source_fingerprint(package_dir: str | os.PathLike | None = None) -> str:
    """SHA-256 over the sorted ``*.py`` sources of the core package, so any code change invalidates entries.

    The package's code is all Python (numba and Triton compile it); what it compiles to on a given machine is
    keyed separately, by core.experiments.bits_fingerprint in the experiment spec.
    """
    root = Path(package_dir) if package_dir is not None else Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py"), key=lambda p: p.relative_to(root).as_posix()):
        content = path.read_bytes()
        # Name and length delimit each file, so moving a line between files changes the hash.
        digest.update(f"{path.relative_to(root).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _timed(compute: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = compute()
    return value, time.perf_counter() - start


class ResultCache:
    """Results on disk keyed by their spec; ``get_or_compute`` computes each key once across processes."""

    def __init__(self, root: str | os.PathLike | None = None, enabled: bool = True):
        self.root = Path(root) if root is not None else default_results_root()
        self.enabled = enabled
        self._warned_unwritable = False

    def key(self, spec: dict) -> str:
        """SHA-256 of the spec's canonical JSON."""
        return hashlib.sha256(_canonical(spec).encode()).hexdigest()

    def path(self, key: str) -> Path:
        """The entry file of `key`."""
        return self.root / f"{key}{_SUFFIX}"

    def get_or_compute(self, spec: dict, compute: Callable[[], T]) -> tuple[T, CacheInfo]:
        """The cached result of `spec`, or `compute()`'s, stored for next time; exceptions are never cached."""
        key = self.key(spec)
        if not self.enabled:
            value, seconds = _timed(compute)
            return value, CacheInfo(key, False, seconds, None)
        text, path = _canonical(spec), self.path(key)
        hit = self._load(path, text)[0]  # lock-free fast path: entries are replaced atomically
        if hit is not None:
            return hit["value"], CacheInfo(key, True, hit["compute_seconds"], str(path))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = FileLock(self.root / f"{key}.lock")
            lock.acquire()  # flock: released by the OS if the holder dies, so a crash cannot wedge the others
        except OSError as err:
            self._warn_unwritable(err)
            value, seconds = _timed(compute)
            return value, CacheInfo(key, False, seconds, None)
        try:
            # Another process may have stored it while this one waited for the lock.
            hit, problem = self._load(path, text)
            if hit is not None:
                return hit["value"], CacheInfo(key, True, hit["compute_seconds"], str(path))
            if problem:
                warnings.warn(f"result cache entry {path} {problem}; recomputing it", CacheWarning, stacklevel=2)
            value, seconds = _timed(compute)
            stored = self._store(path, text, value, seconds)
            return value, CacheInfo(key, False, seconds, str(path) if stored else None)
        finally:
            lock.release()

    def clear(self) -> int:
        """Remove every entry (also when disabled: clearing is asked for explicitly); return how many."""
        if not self.root.is_dir():
            return 0
        entries = list(self.root.glob(f"*{_SUFFIX}"))
        for path in entries:
            path.unlink(missing_ok=True)
        # Lock files stay: unlinking one that a process holds would let another lock a fresh file beside it.
        return len(entries)

    def _load(self, path: Path, text: str) -> tuple[dict | None, str | None]:
        """The entry at `path` if it holds `text`'s result; else None and what was wrong (None if absent)."""
        try:
            with open(path, "rb") as f:
                entry = torch.load(f, weights_only=False)
        except (FileNotFoundError, NotADirectoryError):
            return None, None
        except Exception as err:  # truncated, foreign or unpicklable: any of them means recompute
            return None, f"is unreadable ({type(err).__name__}: {err})"
        if not isinstance(entry, dict) or entry.get("format") != _FORMAT:
            return None, "is not an entry of this cache"
        if entry.get("spec") != text:  # a hash collision, or a file copied under the wrong name
            return None, "holds the result of a different spec"
        return entry, None

    def _store(self, path: Path, text: str, value, seconds: float) -> bool:
        """Write the entry atomically; on failure warn and return False, since the work itself is done."""
        entry = {"format": _FORMAT, "spec": text, "compute_seconds": seconds, "created": time.time(),
                 "value": value}
        try:
            with atomic_writer(path) as out:
                torch.save(entry, out)
        except OSError as err:
            self._warn_unwritable(err)
            return False
        except Exception as err:  # e.g. a value that cannot be pickled: still return it, uncached
            warnings.warn(f"result for {path.name} could not be cached ({type(err).__name__}: {err})",
                          CacheWarning, stacklevel=3)
            return False
        return True

    def _warn_unwritable(self, err: OSError) -> None:
        """Warn the first time the directory cannot be written (read-only, full); results stay uncached."""
        if not self._warned_unwritable:
            self._warned_unwritable = True
            warnings.warn(f"result cache {self.root} is not writable ({err}); results are computed but not cached",
                          CacheWarning, stacklevel=3)
