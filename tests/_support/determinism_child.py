"""Child process for the determinism tests: run the small configs on N threads and print their digests.

    python -m tests._support.determinism_child THREADS [mlp]      (mlp: the MLP only)
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    import torch

    from core import run
    from tests._support.determinism import SMALL_MLP, digests, run_small, set_threads, synthetic_mnist

    threads = int(argv[0])
    set_threads(threads)
    results = (run(SMALL_MLP, data=synthetic_mnist()),) if argv[1:] == ["mlp"] else run_small()
    print(json.dumps({"threads": torch.get_num_threads(), **digests(*results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
