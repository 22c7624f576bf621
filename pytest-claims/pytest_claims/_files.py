"""Atomic writes: a reader sees the old file or the whole new one, never a part.

The plugin keeps its own (rather than a project's helper) so that it depends on pytest alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path, data: str | bytes) -> None:
    """Replace `path` with `data` (text or bytes) in one step, creating its folder if needed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as out:
            out.write(data)
        # mkstemp creates the file 0600; give it the mode an ordinary open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
