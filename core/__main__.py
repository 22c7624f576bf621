"""Command line: `python -m core figures --out DIR` runs the paper-scale experiments and writes F1-F5."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

EXIT_FAILED = 1  # usage errors exit 2 through argparse


class ProgressLine:
    """One status line per experiment on stderr, redrawn in place on a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()

    def stage(self, label: str):
        """Callback `progress(done, total)` for one experiment, cheap enough to call every step."""
        started, shown = time.monotonic(), [-1]

        def progress(done: int, total: int) -> None:
            # Redraw only when the shown number changes: per-step calls must not cost a write each.
            percent = 100 * done // max(total, 1)
            step = 1 if self.interactive else 25
            if percent // step == shown[0] and done < total:
                return
            shown[0] = percent // step
            text = f"{label}: {done}/{total} ({percent}%), {time.monotonic() - started:.0f} s"
            end = "\n" if done >= total or not self.interactive else ""
            self.stream.write(("\r\033[K" if self.interactive else "") + text + end)
            self.stream.flush()

        return progress


def _output_dir(path: str) -> Path:
    """The output directory, created if needed; raises ValueError with the reason it cannot be used."""
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


def write_figures(out: Path, seed: int, device, mnist_root, progress: ProgressLine) -> list[Path]:
    """Run the three experiments behind F1-F5 once each and write the PNGs into `out`."""
    import matplotlib.style

    from . import _experiments
    from ._figures import STYLE, all_figures, save_png

    configs = _experiments.claim_experiments(seed)
    history = _experiments.run(configs["mlp"], device, mnist_root=mnist_root,
                               progress=progress.stage(f"MNIST MLP, seed {seed}, epoch"))
    sensing = [_experiments.run(configs[f"sensing-{m}dr"], device,
                                progress=progress.stage(f"matrix sensing m = {m}dr, step")) for m in (10, 5)]
    with matplotlib.style.context(STYLE, after_reset=True):
        figures = all_figures(history, sensing)
        return [save_png(figure, out / f"{name}.png") for name, figure in figures.items()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    figures = commands.add_parser("figures", help="run the experiments and write figures F1-F5 as PNG")
    figures.add_argument("--out", required=True, metavar="DIR", help="directory for the PNGs (created if missing)")
    figures.add_argument("--seed", type=int, default=0, help="base seed, as in `pytest claims --seed` (default 0)")
    figures.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    figures.add_argument("--mnist-root", default=None, metavar="DIR",
                         help="torchvision-style root holding MNIST/raw/ (overrides $MNIST_ROOT)")
    return parser


def main(argv=None) -> int:
    """Entry point; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        from ._experiments import resolve_device

        out, device = _output_dir(args.out), resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))  # exits with status 2
    from ._mnist import MNISTUnavailable
    from ._sensing import SensingDivergenceError

    try:
        written = write_figures(out, args.seed, device, args.mnist_root, ProgressLine())
    except (MNISTUnavailable, SensingDivergenceError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
