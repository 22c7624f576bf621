"""A generic cache of experiment results, keyed by the experiment function, its config value and its source.

A new paper's claims module needs no conftest of its own to run each experiment once: the `experiment_results`
fixture computes ``function(config)`` on first request and keeps the pickled result in pytest's cache directory
(``.pytest_cache``), so ``pytest --cache-clear`` empties it, as pytest users expect of that flag.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
from pathlib import Path
from typing import Callable, TypeVar

from ._files import write_atomically

T = TypeVar("T")


def result_key(function: Callable, config) -> str:
    """SHA-256 of the function's qualified name, the config's repr and the function's module source: a change
    to any of them computes the result afresh."""
    module = inspect.getmodule(function)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):  # defined interactively: the name and config still key it
        source = ""
    text = f"{function.__module__}.{function.__qualname__}\0{config!r}\0{source}"
    return hashlib.sha256(text.encode()).hexdigest()


class ExperimentResults:
    """``results(function, config)``: function(config), computed once and cached on disk under `root`.

    The config should be a value whose repr names everything the result depends on (a frozen dataclass or a
    NamedTuple). A cache entry that cannot be read is computed again and replaced.

    >>> import tempfile
    >>> results = ExperimentResults(Path(tempfile.mkdtemp()))
    >>> results(sum, (1, 2, 3)), results.computed
    (6, 1)
    >>> results(sum, (1, 2, 3)), results.computed
    (6, 1)
    """

    def __init__(self, root: Path | None):
        self.root, self.computed, self._memory = root, 0, {}

    def __call__(self, function: Callable[..., T], config) -> T:
        key = result_key(function, config)
        if key not in self._memory:
            self._memory[key] = self._load(key) if self.root is not None else _MISSING
            if self._memory[key] is _MISSING:
                self._memory[key] = function(config)
                self.computed += 1
                self._store(key, self._memory[key])
        return self._memory[key]

    def _load(self, key: str):
        try:
            return pickle.loads((self.root / f"{key}.pickle").read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            return _MISSING

    def _store(self, key: str, value) -> None:
        if self.root is None:
            return
        try:  # a reader sees the old entry or the whole new one
            write_atomically(self.root / f"{key}.pickle", pickle.dumps(value))
        except (OSError, pickle.PicklingError, AttributeError, TypeError):  # an unpicklable result is not cached
            pass


_MISSING = object()
