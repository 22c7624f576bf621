"""The six-run tile of the fused CPU pass in C (core/_fused_pass.c), built with the system compiler on first use.

It gives bitwise the numba tile's results, 1.3-2.5 ms sooner a sweep step (README, Benchmarks). Where it
cannot be had (no C compiler, not x86-64, no AVX-512VL, SENSING_NATIVE_PASS=0) the numba tile runs instead,
and `unavailable_reason()` says why.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

SOURCE = Path(__file__).with_name("_fused_pass.c")
#: Set to 0 to run the numba tile instead, e.g. to time one against the other.
DISABLE_ENV = "SENSING_NATIVE_PASS"
#: The runs of one tile: the alpha sweep's five alphas and the exact run.
RUNS = 6
_FLAGS = ("-O3", "-shared", "-fPIC")

_loaded: tuple[ctypes.CDLL | None, str | None] | None = None
_warned = False
_build_lock = threading.Lock()  # experiments computed side by side may ask for it at once


def _cache_dir() -> Path:
    from ._mnist import default_cache_root

    return default_cache_root() / "kernels"


def build(compiler: str | None = None, directory: Path | None = None) -> tuple[ctypes.CDLL | None, str | None]:
    """(library, None), or (None, the reason it cannot be built or run here). Built once per source, compiler
    and flags into `directory` (default: the user cache's kernels/), under a file lock for parallel workers."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None, f"the C tile is written for x86-64, this machine is {platform.machine()}"
    compiler = compiler or os.environ.get("CC") or "cc"
    if shutil.which(compiler) is None:
        return None, f"no C compiler: {compiler!r} is not on PATH (set CC to one)"
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + repr((compiler, _FLAGS)).encode()).hexdigest()[:16]
    directory = directory or _cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = _compiled(compiler, directory, key)
    except OSError:  # a read-only cache: build for this process alone
        target = _compiled(compiler, Path(tempfile.mkdtemp(prefix="fused-pass-")), key)
    if isinstance(target, str):
        return None, target
    try:
        library = ctypes.CDLL(str(target))
        supported = library.fused_pass_supported()
    except (OSError, AttributeError) as err:  # a damaged file in the cache, say: delete it to rebuild
        return None, f"could not load {target}: {err}"
    if not supported:
        return None, "this CPU lacks AVX-512VL or FMA, which the C tile needs for its 32 vector registers"
    library.fused_pass_chunk.argtypes = [ctypes.c_void_p] * 5 + [ctypes.c_int64] * 4
    library.fused_pass_chunk.restype = None
    return library, None


def _compiled(compiler: str, directory: Path, key: str) -> Path | str:
    """The built library's path, or the compiler's complaint."""
    from filelock import FileLock

    target = directory / f"fused_pass-{key}.so"
    with FileLock(str(directory / ".build.lock")):
        if target.exists():
            return target
        partial = directory / f".{target.name}.{os.getpid()}.tmp"
        try:
            done = subprocess.run([compiler, *_FLAGS, "-o", str(partial), str(SOURCE)], capture_output=True,
                                  text=True, timeout=300)
        except (OSError, subprocess.TimeoutExpired) as err:
            partial.unlink(missing_ok=True)
            return f"{compiler} could not build {SOURCE.name}: {err}"
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            tail = " ".join(done.stderr.strip().splitlines()[-3:])
            return f"{compiler} could not build {SOURCE.name} (exit {done.returncode}): {tail}"
        os.replace(partial, target)  # whole or not at all, for the other processes
    return target


def library() -> ctypes.CDLL | None:
    """The built C tile, or None (see unavailable_reason); built or loaded once per process."""
    global _loaded, _warned
    if os.environ.get(DISABLE_ENV) == "0":  # read on every call, so a benchmark can time both tiles
        return None
    with _build_lock:
        if _loaded is None:
            _loaded = build()
        lib, reason = _loaded
        warn, _warned = lib is None and not _warned, _warned or lib is None
    if warn:
        warnings.warn(f"the fused CPU pass runs its numba tile: {reason} (same results, about 10% slower a "
                      "six-run step)", RuntimeWarning, stacklevel=3)
    return lib


def unavailable_reason() -> str | None:
    """Why the C tile is not used here, or None when it is."""
    if os.environ.get(DISABLE_ENV) == "0":
        return f"turned off by {DISABLE_ENV}=0"
    return None if library() is not None else _loaded[1]


def fused_pass_tile() -> str:
    """Which six-run tile the fused CPU pass runs here: "C", or "numba (the reason the C one is not used)"."""
    reason = unavailable_reason()
    return "C" if reason is None else f"numba ({reason})"
