"""`run` and `cached_run`: a config goes in, its result, carrying the config, comes out; through the cache or not.

The device is not part of a config: it changes how a result is computed, not what is asked for.
"""

from __future__ import annotations

import dataclasses

import numpy
import torch

from .._util import torch_threads
from ..mlp import load_mnist
from ._cache import CacheInfo, ResultCache, source_fingerprint
from ._configs import DTYPES
from ._protocol import Experiment
from ._provenance import bits_fingerprint


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """`name`, checked to be usable here, or cuda when available, else cpu; ValueError if unusable."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(name, (str, torch.device)):
        raise ValueError(f"device must be a name such as 'cpu' or 'cuda:0', got {name!r}")
    try:
        device = torch.device(name)
        # A real float64 computation read back on the host: "meta" allocates but holds no data, and mps
        # has no float64, yet the sensing runs need both.
        probe = torch.arange(3, dtype=torch.float64, device=device)
        if float((probe @ probe).item()) != 5.0:
            raise RuntimeError("a float64 dot product gave a wrong result")
    except (RuntimeError, AssertionError, TypeError, NotImplementedError) as err:
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise ValueError(f"device {str(name)!r} is not usable here: {reason}") from None
    return device


def _on_host(value):
    """`value` with every tensor inside it (dataclass fields, dicts, sequences) moved to the CPU."""
    if torch.is_tensor(value):
        return value.cpu()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _on_host(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    if isinstance(value, dict):
        return {key: _on_host(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return type(value)(_on_host(item) for item in value)
    return value


def run(config: Experiment, device="cpu", data=None, mnist_root=None, progress=None):
    """Compute the result of `config` on `device`; the result's tensors are on the CPU whatever the device, so
    claims, figures and the cache meet one kind of result.

    An experiment that needs MNIST uses `data` (an MNIST, or a callable returning one, called only here) or else
    loads it from `mnist_root`.
    """
    if not isinstance(config, Experiment):
        raise TypeError(f"no experiment for config of type {type(config).__name__}: it does not implement "
                        "core.experiments.Experiment")
    if config.needs_mnist:
        data = data() if callable(data) else data
        data = data if data is not None else load_mnist(mnist_root, device)
    with torch_threads(config.threads(device)):
        result = config.compute(device, data, progress)
    return _on_host(result)


def experiment_spec(config, device, fingerprint: str | None = None) -> dict:
    """Everything a result depends on, as plain data: the cache key of `config` run on `device`.

    "machine" is core.experiments.bits_fingerprint: the CPU, the code paths torch, MKL and numba take on it (and the
    variables that override them), the sensing pass, and on CUDA the GPU, so that a run under another CPU,
    real or emulated, computes its own result instead of loading another machine's bits.
    """
    # the dtype of the iterates, which picks the sensing pass; float64 for a config without a `dtype` field
    dtype = DTYPES.get(getattr(config, "dtype", None), torch.float64)
    return {"experiment": type(config).__name__, "config": dataclasses.asdict(config),
            "code": fingerprint or source_fingerprint(), "torch": torch.__version__, "numpy": numpy.__version__,
            "device": str(torch.device(device)), "machine": bits_fingerprint(device, dtype)}


def cached_run(config, device="cpu", cache: ResultCache | None = None, fingerprint: str | None = None,
               **run_options) -> tuple[object, CacheInfo]:
    """`run(config, device, ...)` through the on-disk cache (default location unless `cache` is given)."""
    cache = cache if cache is not None else ResultCache()
    spec = experiment_spec(config, device, fingerprint)
    return cache.get_or_compute(spec, lambda: run(config, device, **run_options))
