"""Torch's intra-op thread count, set for a block and restored after it."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run the block with torch on `count` threads (None: unchanged), yielding the count it had before."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield previous
    finally:
        torch.set_num_threads(previous)
