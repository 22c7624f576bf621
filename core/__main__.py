"""Command line: run any experiment, or the named ones behind the claims, and write its result and figures.

    python -m core run mlp --hidden-sizes 256,256 --epochs 5 --init he --seed 3 --out DIR
    python -m core run sensing --d 100 --r 5 --m 2500 --alphas 1e-4,1e-2 --steps 1000 --out DIR
    python -m core run sensing-5dr --out DIR          (a named experiment; `python -m core list` names them)
    python -m core figures --out DIR                  (F1-F5 from the claims' seed-N experiments)
    python -m core study --seeds 1000-1099 --out DIR  (every claim on every seed: how often each holds)
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EXIT_FAILED = 1  # usage errors exit 2 through argparse
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C


def _comma_separated(convert, what: str):
    """An argparse type: comma-separated values, each through `convert`; a bad one names `what` was expected."""
    def parse(text: str) -> tuple:
        try:
            return tuple(convert(v) for v in text.split(","))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
    return parse


_ints = _comma_separated(int, "integers")
_floats = _comma_separated(float, "numbers")


def _output_dir(path: str) -> Path:
    """The output directory, created if needed; raises ValueError with the reason it cannot be used."""
    import tempfile

    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {path}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        # Probe with a real file: permission bits lie on read-only mounts and for root.
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ValueError(f"--out {path}: not writable ({err.strerror or err})") from None
    return out


def _mnist_root(path: str | None) -> None:
    """Reject a --mnist-root that cannot hold MNIST before an experiment starts; its files are checked on load."""
    if path is not None and not Path(path).is_dir():
        raise ValueError(f"--mnist-root {path}: not a directory")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the outputs (created if missing)")
    parser.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    parser.add_argument("--mnist-root", default=None, metavar="DIR",
                        help="torchvision-style root holding MNIST/raw/ (overrides $MNIST_ROOT)")
    parser.add_argument("--no-result-cache", "--no-cache", dest="no_result_cache", action="store_true",
                        help="compute afresh and do not store results (default: the cache shared with pytest claims)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    named = commands.add_parser("run", help="run `mlp`, `sensing` or a named experiment (see `list`)")
    named.add_argument("experiment", help="mlp, sensing, or a name from `python -m core list`")
    named.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    _common(named)
    mlp_options = named.add_argument_group("mlp")
    mlp_options.add_argument("--hidden-sizes", type=_ints, help="comma-separated widths (default 128,128,128)")
    mlp_options.add_argument("--init", help="pytorch or he (default pytorch)")
    mlp_options.add_argument("--epochs", type=int, help="default 40")
    mlp_options.add_argument("--lr", type=float, help="SGD learning rate (default 0.01)")
    mlp_options.add_argument("--batch-size", type=int, help="default 128")
    sensing_options = named.add_argument_group("sensing")
    for name, kind in (("d", int), ("r", int), ("m", int), ("steps", int), ("eta", float)):
        sensing_options.add_argument(f"--{name}", type=kind, help="default: the handout's")
    sensing_options.add_argument("--alphas", type=_floats, help="comma-separated initialization scales")

    figures = commands.add_parser("figures", help="run the claims' experiments and write figures F1-F5 as PNG")
    figures.add_argument("--seed", type=int, default=0, help="base seed, as in `pytest claims --seed` (default 0)")
    _common(figures)
    commands.add_parser("list", help="list the named experiments the claims use")
    from pytest_claims._study import add_arguments

    study = commands.add_parser("study", help="run the claims once per seed (Ray, or --local-processes N) and "
                                              "write each claim's pass rate with its Wilson interval")
    add_arguments(study)
    return parser


_MLP_FIELDS = ("hidden_sizes", "init", "epochs", "lr", "batch_size")
_SENSING_FIELDS = ("d", "r", "m", "steps", "eta", "alphas")


def _config(args):
    """The config the arguments ask for; ValueError (with the offending value) for a bad one."""
    from .experiments import SensingConfig, claim_experiments
    from .mlp import MLPConfig

    given = lambda names: {n: getattr(args, n) for n in names if getattr(args, n) is not None}  # noqa: E731
    seed = {} if args.seed is None else {"seed": args.seed}
    if args.experiment == "mlp":
        _reject(args, _SENSING_FIELDS, "mlp")
        return "mlp", MLPConfig(**given(_MLP_FIELDS), **seed)
    if args.experiment == "sensing":
        _reject(args, _MLP_FIELDS, "sensing")
        options = given(_SENSING_FIELDS)
        if "m" not in options:  # the handout's budget, m = 10 d r, for whatever d and r were chosen
            options["m"] = 10 * options.get("d", 100) * options.get("r", 5)
        return "sensing", SensingConfig(**options, **seed)
    named = claim_experiments(args.seed or 0)
    if args.experiment not in named:
        raise ValueError(f"unknown experiment {args.experiment!r}; choose mlp, sensing or one of: {', '.join(named)}")
    _reject(args, _MLP_FIELDS + _SENSING_FIELDS, args.experiment)
    return args.experiment, named[args.experiment]


def _reject(args, fields, experiment) -> None:
    extra = [f"--{f.replace('_', '-')}" for f in fields if getattr(args, f) is not None]
    if extra:
        raise ValueError(f"{', '.join(extra)} do not apply to {experiment}")


def _save(name: str, result, out: Path) -> list[Path]:
    """The result's arrays as NPZ, its config and summary as JSON, and its figures as PNG."""
    import dataclasses
    import io
    import json

    import matplotlib.style
    import numpy as np

    from ._util import atomic_writer
    from .figures import RENDER_STYLE, save_png

    arrays = {}

    def collect(prefix, value):
        if hasattr(value, "detach"):
            arrays[prefix] = value.detach().cpu().numpy()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type) and prefix != "config":
            for f in dataclasses.fields(value):
                collect(f"{prefix}.{f.name}".lstrip("."), getattr(value, f.name))
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(f"{prefix}.{key}", item)

    collect("", result)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    written = []
    with atomic_writer(out / f"{name}.npz") as handle:
        handle.write(buffer.getvalue())
    written.append(out / f"{name}.npz")
    record = {"experiment": name, "config": _plain(dataclasses.asdict(result.config)),
              "summary": result.config.summary(result)}
    with atomic_writer(out / f"{name}.json", "w") as handle:
        handle.write(json.dumps(record, indent=2) + "\n")
    written.append(out / f"{name}.json")
    with matplotlib.style.context(RENDER_STYLE, after_reset=True):
        for stem, figure in result.config.figures(result).items():
            written.append(save_png(figure, out / f"{stem}.png"))
    return written


def _plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _cached(args, config, device, label: str):
    """The result of `config`, from the result cache unless --no-result-cache; says which on stderr."""
    from .experiments import ResultCache, cached_run, progress_bar

    result, info = cached_run(config, device, ResultCache(enabled=not args.no_result_cache), mnist_root=args.mnist_root,
                              progress=progress_bar(label, config.progress_unit))
    origin = "loaded from the cache" if info.loaded else "computed"
    print(f"{label}: {origin} ({info.compute_seconds:.1f} s to compute)", file=sys.stderr)
    return result


def _run(args, out, device) -> list[Path]:
    name, config = _config(args)
    result = _cached(args, config, device, name)
    print("\n".join(config.summary(result)))
    return _save(name, result, out)


def _figures(args, out, device) -> list[Path]:
    import matplotlib.style

    from .experiments import claim_experiments
    from .figures import RENDER_STYLE, all_figures, save_png

    configs = claim_experiments(args.seed)
    history = _cached(args, configs["mlp"], device, "mlp")
    sensing = [_cached(args, configs[f"sensing-{m}dr"], device, f"sensing-{m}dr") for m in (10, 5)]
    with matplotlib.style.context(RENDER_STYLE, after_reset=True):
        figures = all_figures(history, sensing)
        return [save_png(figure, out / f"{name}.png") for name, figure in figures.items()]


def main(argv=None) -> int:
    """Entry point; returns the process exit status."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Every output is written atomically, so an interrupted run leaves no half file behind.
        print("\ninterrupted: outputs are written atomically, so none is half-written", file=sys.stderr)
        return EXIT_INTERRUPTED


def _study(args, parser) -> int:
    """`pytest claims -m claim --claim-seeds 1 --seed N` for every seed N, through pytest_claims' study engine.

    Each seed's experiments go through the result cache: on this machine every run shares it; on Ray each task
    computes into a private cache whose entries come back to this process, which stores them.
    """
    from pytest_claims._study import StudySpec, engine_of, parse_seeds, run_study, summary_lines

    from .experiments import RESULTS_ENV, default_results_root

    try:
        seeds, (engine, workers) = parse_seeds(args.seeds), engine_of(args)
    except ValueError as err:
        parser.error(str(err))
    only = (f"--claims-only={args.claims}",) if args.claims else ()
    # One thread per seed whatever the engine: seeds run side by side, and the thread count moves some values
    # by rounding (an SDP's by one ulp), so every engine then gives the same bits.
    spec = StudySpec(("claims", "-m", "claim", "--claim-seeds", "1", *only), str(Path(__file__).resolve().parents[1]),
                     cache_env=RESULTS_ENV, env={"OMP_NUM_THREADS": "1"})
    summary = run_study(spec, seeds, args.out, engine, workers, args.address, cache_root=default_results_root(),
                        progress=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(summary_lines(summary, args.out)))
    return 0


def _main(argv) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "study":
        return _study(args, parser)
    if args.command == "list":
        from .experiments import claim_experiments

        for name, config in claim_experiments(0).items():
            print(f"{name:24s} {config}")
        return 0
    try:
        from .experiments import resolve_device

        out, device = _output_dir(args.out), resolve_device(args.device)
        _mnist_root(args.mnist_root)
        if args.command == "run":
            _config(args)  # reject a bad config before any work starts
    except ValueError as err:
        parser.error(str(err))  # exits with status 2
    from .mlp import MLPDivergenceError, MNISTUnavailable
    from .sensing import SensingDivergenceError

    try:
        written = (_run if args.command == "run" else _figures)(args, out, device)
    except (MNISTUnavailable, SensingDivergenceError, MLPDivergenceError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
