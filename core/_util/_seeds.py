"""Named random streams: every source of randomness in a run draws from its own generator."""

from __future__ import annotations

import hashlib

import torch


def seeded_generator(seed: int, stream: str) -> torch.Generator:
    """CPU generator for stream `stream` of run seed `seed`.

    The state comes from SHA-256 of "stream/seed", so no two (seed, stream) pairs share a state, unlike
    seed + offset schemes where stream B of seed s replays stream A of seed s + offset.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    # "stream/seed" is unambiguous only while the seed is the part after the last "/"; an int has no "/".
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"stream must be a non-empty name, got {stream!r}")
    digest = hashlib.sha256(f"{stream}/{seed}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


#: the seeds the claims' thresholds (BOUNDS) were calibrated and confirmed on
CALIBRATION_SEEDS = range(0, 10)
#: the first held-out seed: no threshold was set on this seed or any after it (`pytest claims --held-out`)
HELD_OUT_START = 1000


def seed_set(seeds) -> str:
    """"calibration" when every seed is one the thresholds were set on, "held-out" when none is and all are
    from HELD_OUT_START on, else "other" (seeds 10-999, which nobody tuned to either, or a mix)."""
    seeds = list(seeds)
    if seeds and all(s in CALIBRATION_SEEDS for s in seeds):
        return "calibration"
    if seeds and all(s >= HELD_OUT_START for s in seeds):
        return "held-out"
    return "other"
