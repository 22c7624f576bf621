"""Argument checks whose errors name the option and the value it was given."""

from __future__ import annotations

import math

import torch


def positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def positive_float(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def integer(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")


def sequence(name: str, value) -> tuple:
    """`value` as a tuple; a scalar or string is a mistake, not a one-element sequence."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a sequence, got {value!r}")
    return tuple(value)


def describe(tensor) -> str:
    """A tensor's shape, dtype and device for an error message (or the type of a non-tensor)."""
    if not torch.is_tensor(tensor):
        return type(tensor).__name__
    return f"{tuple(tensor.shape)} {str(tensor.dtype).removeprefix('torch.')} on {tensor.device}"


def check_finite(name: str, tensor: torch.Tensor) -> None:
    """ValueError naming `name`, the count of non-finite entries and the first one, if there is any."""
    bad = ~torch.isfinite(tensor)
    if bad.any():
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise ValueError(f"{name} contains {int(bad.sum())} non-finite values, the first {float(tensor[first])} "
                         f"at index {first}")
