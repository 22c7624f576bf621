"""The `pytest-claims` command: `compare` claims reports, or `init` a claims module for a new paper.

    pytest-claims compare A.json B.json [--out table.md] [--exact]
    pytest-claims init NAME [--dir DIR]
    pytest-claims study SUITE --seeds 0-99 --out DIR [--claims IDS] [--address ADDR | --local-processes N]
"""

from __future__ import annotations

import sys

COMMANDS = ("compare", "init", "study")


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "compare":
        from ._compare import main as command
    elif argv[0] == "init":
        from ._template import main as command
    else:
        from ._study import main as command
    return command(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
